package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/inspect"
)

// runView is what `runs show` prints: the run's summary, shared with the
// dashboard.
type runView struct{ *inspect.Run }

// describe builds the view of run id from st, its payloads decoded by pc.
func describe(ctx context.Context, st store, id string, pc history.PayloadCodec) (*runView, error) {
	v, err := inspect.Describe(ctx, st, id, pc)
	if err != nil {
		return nil, notFound(err, id)
	}
	return &runView{v}, nil
}

// MarshalJSON is the summary's document.
func (v *runView) MarshalJSON() ([]byte, error) { return json.Marshal(v.Run) }

func (v *runView) print(w io.Writer) error {
	kv := newTable(w, "Run", v.ID)
	kv.row("Workflow", v.Workflow)
	kv.row("Status", v.Status)
	kv.row("Created", v.CreatedAt)
	kv.row("Updated", v.UpdatedAt)
	if v.Parent != "" {
		kv.row("Parent", fmt.Sprintf("%s (step %d)", v.Parent, v.ParentStep))
	}
	kv.row("Events", strconv.FormatInt(v.Events, 10))
	if v.FirstSeq > 1 {
		kv.row("Generation from", "seq "+strconv.FormatInt(v.FirstSeq, 10))
	}
	kv.row("Input", string(v.Input))
	if v.Result != nil {
		kv.row("Result", string(v.Result))
	}
	if v.Error != nil {
		kv.row("Error", v.Error.String())
	}
	if v.Blocked != nil {
		kv.row("Blocked", v.Blocked.String())
	}
	if d := v.Divergence; d != nil {
		kv.row("Diverged at", "step "+strconv.FormatInt(d.Step, 10))
		kv.row("  recorded", d.Recorded)
		kv.row("  issued", d.Issued)
	}
	if len(v.Attrs) > 0 {
		parts := make([]string, len(v.Attrs))
		for i, a := range v.Attrs {
			parts[i] = fmt.Sprintf("%s=%v (%s)", a.Name, a.Value, a.Kind)
		}
		kv.row("Search attributes", strings.Join(parts, ", "))
	}
	if len(v.Memo) > 0 {
		keys := make([]string, 0, len(v.Memo))
		for k := range v.Memo {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + short(v.Memo[k], 40)
		}
		kv.row("Memo", strings.Join(parts, ", "))
	}
	if err := kv.flush(); err != nil {
		return err
	}
	section := func(title string, n int) bool {
		fmt.Fprintf(w, "\n%s (%d)\n", title, n)
		return n > 0
	}
	if section("Pending activities", len(v.Activities)) {
		t := newTable(w, "STEP", "ACTIVITY", "ATTEMPT", "SCHEDULED", "NEXT ATTEMPT", "INPUT", "LAST ERROR")
		for _, a := range v.Activities {
			att := strconv.Itoa(a.Attempt)
			switch {
			case a.Pending:
				att += " (completing outside)"
			case a.CancelRequested:
				att += " (cancel requested)"
			}
			var last string
			if a.LastError != nil {
				last = shortText(fmt.Sprintf("attempt %d: %s", a.LastError.Attempt, a.LastError.Message), 60)
			}
			t.row(strconv.FormatInt(a.Step, 10), a.Name, att, a.ScheduledAt, tableTime(a.NotBefore), short(a.Input, 40), last)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(v.Queued) > 0 && section("Queued for the workflow's code", len(v.Queued)) {
		t := newTable(w, "SEQ", "TIME", "ACTION", "SIGNAL", "VALUE", "BY")
		for _, q := range v.Queued {
			t.row(strconv.FormatInt(q.Seq, 10), q.Time, q.Action, q.Signal, short(q.Value, 40), q.Identity)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(v.HumanTasks) > 0 && section("Human tasks", len(v.HumanTasks)) {
		t := newTable(w, "TASK", "STATE", "BY", "SINCE", "AUDIT ENTRIES")
		for _, h := range v.HumanTasks {
			t.row(h.ID, h.State, h.By, h.Since, strconv.Itoa(len(h.Audit)))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if section("Pending timers", len(v.Timers)) {
		t := newTable(w, "STEP", "DURATION", "FIRES AT")
		for _, x := range v.Timers {
			t.row(strconv.FormatInt(x.Step, 10), x.Duration, x.FireAt)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if section("Signals received", len(v.Signals)) {
		t := newTable(w, "SEQ", "SIGNAL", "TIME", "VALUE")
		for _, s := range v.Signals {
			t.row(strconv.FormatInt(s.Seq, 10), s.Name, s.Time, short(s.Value, 40))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if section("Children", len(v.Children)) {
		t := newTable(w, "STEP", "RUN", "WORKFLOW", "STATUS", "ERROR")
		for _, c := range v.Children {
			t.row(strconv.FormatInt(c.Step, 10), c.ID, c.Workflow, c.Status, c.Error.String())
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if section("Compensations", len(v.Compensations)) {
		t := newTable(w, "SEQ", "TIME", "EVENT", "SAGA", "INDEX", "STEP", "KIND", "ERROR")
		for _, c := range v.Compensations {
			t.row(strconv.FormatInt(c.Seq, 10), c.Time, c.Event, c.Saga, strconv.Itoa(c.Index), c.Step, c.Kind, c.Error)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
)

// runView is what `runs show` prints, derived from the run's index row, its
// journal and its pending tasks.
type runView struct {
	ID         string          `json:"id"`
	Workflow   string          `json:"workflow"`
	Status     string          `json:"status"`
	CreatedAt  string          `json:"created_at"`
	UpdatedAt  string          `json:"updated_at"`
	Parent     string          `json:"parent,omitempty"`
	ParentStep int64           `json:"parent_step,omitempty"`
	Events     int64           `json:"events"`
	FirstSeq   int64           `json:"first_seq"`
	Input      json.RawMessage `json:"input,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      *failure        `json:"error,omitempty"`
	// Blocked is why a blocked run cannot advance (for a divergence, what
	// the journal recorded against what the code issued).
	Blocked *failure `json:"blocked,omitempty"`
	// Divergence is, for a run blocked because its code no longer matches
	// its journal, the step and what each side holds there.
	Divergence    *divergence       `json:"divergence,omitempty"`
	Activities    []pendingActivity `json:"pending_activities"`
	Timers        []pendingTimer    `json:"pending_timers"`
	Signals       []signalView      `json:"signals_received"`
	Children      []childView       `json:"children"`
	Compensations []compensation    `json:"compensations"`
	// Attrs and Memo are the run's search attributes and memo, from a store
	// that indexes them.
	Attrs []attrView                 `json:"search_attributes,omitempty"`
	Memo  map[string]json.RawMessage `json:"memo,omitempty"`
}

// attrView is one search attribute of `runs show`.
type attrView struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Value any    `json:"value"`
}

type divergence struct {
	Step     int64  `json:"step"`
	Recorded string `json:"recorded"`
	Issued   string `json:"issued"`
}

type pendingActivity struct {
	Step        int64           `json:"step"`
	Name        string          `json:"name"`
	ScheduledAt string          `json:"scheduled_at"`
	Attempt     int             `json:"attempt"`
	NotBefore   string          `json:"not_before,omitempty"`
	Pending     bool            `json:"completed_from_outside,omitempty"`
	Input       json.RawMessage `json:"input,omitempty"`
	Heartbeat   json.RawMessage `json:"heartbeat,omitempty"`
}

type pendingTimer struct {
	Step     int64  `json:"step"`
	Duration string `json:"duration"`
	FireAt   string `json:"fire_at"`
}

type signalView struct {
	Seq   int64           `json:"seq"`
	Name  string          `json:"name"`
	Time  string          `json:"time"`
	Value json.RawMessage `json:"value,omitempty"`
}

type childView struct {
	Step     int64    `json:"step"`
	ID       string   `json:"id"`
	Workflow string   `json:"workflow"`
	Status   string   `json:"status"`
	Error    *failure `json:"error,omitempty"`
}

// compensation is one saga marker.
type compensation struct {
	Seq   int64  `json:"seq"`
	Time  string `json:"time"`
	Event string `json:"event"` // start, done, failed or skipped
	Saga  string `json:"saga,omitempty"`
	Index int    `json:"index"`
	Step  string `json:"step"`
	Kind  string `json:"kind"`
	Error string `json:"error,omitempty"`
}

// sagaMarker is the payload of a saga.compensation.* marker.
type sagaMarker struct {
	Saga  string `json:"saga"`
	Index int    `json:"index"`
	Step  string `json:"step"`
	Kind  string `json:"kind"`
	Error string `json:"error"`
}

const sagaPrefix = "saga.compensation."

// describe builds the view of run id from st.
func describe(ctx context.Context, st *sqlite.Store, id string) (*runView, error) {
	info, err := st.Run(ctx, id)
	if err != nil {
		return nil, notFound(err, id)
	}
	events, err := st.Events(ctx, id, 0)
	if err != nil {
		return nil, notFound(err, id)
	}
	tasks, err := st.Tasks(ctx)
	if err != nil {
		return nil, err
	}
	own := map[int64]history.Task{}
	for _, t := range tasks {
		if t.RunID == id && t.Damaged == nil {
			own[t.Step] = t
		}
	}
	first := max(info.FirstSeq, 1)
	v := &runView{
		ID: info.ID, Workflow: info.Workflow, Status: info.Status.String(),
		CreatedAt: jsonTime(info.CreatedAt), UpdatedAt: jsonTime(info.UpdatedAt),
		Parent: info.Parent, ParentStep: info.ParentStep, Events: info.LastSeq, FirstSeq: first,
		Result:     payload(info.Result),
		Activities: []pendingActivity{}, Timers: []pendingTimer{}, Signals: []signalView{},
		Children: []childView{}, Compensations: []compensation{},
	}
	if as, ok := any(st).(history.AttrStore); ok {
		ra, err := as.RunAttrs(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, a := range ra.Attrs {
			val := a.Value()
			if t, ok := val.(time.Time); ok {
				val = jsonTime(t)
			}
			v.Attrs = append(v.Attrs, attrView{Name: a.Name, Kind: a.Kind.String(), Value: val})
		}
		for k, m := range ra.Memo {
			if v.Memo == nil {
				v.Memo = map[string]json.RawMessage{}
			}
			v.Memo[k] = payload(m)
		}
	}
	if info.Status == history.StatusBlocked {
		v.Blocked = decodeFailure(info.Failure)
		if v.Blocked != nil && len(v.Blocked.Details) > 0 {
			var d divergence
			if json.Unmarshal(v.Blocked.Details, &d) == nil && d.Recorded != "" {
				d.Issued = strings.TrimPrefix(d.Issued, "issues ")
				v.Divergence = &d
			}
		}
	} else {
		v.Error = decodeFailure(info.Failure)
	}

	// Inputs settle commands by Ref; what is left unsettled is pending.
	settled := map[int64]history.Event{}
	for _, e := range events {
		if e.Seq >= first && e.Ref != 0 {
			settled[e.Ref] = e
		}
	}
	for _, e := range events {
		if e.Seq < first {
			continue // an earlier generation
		}
		_, done := settled[e.Seq]
		switch e.Type {
		case history.EventRunStarted:
			v.Input = payload(e.Payload)
		case history.EventActivityScheduled:
			t, ok := own[e.Seq]
			if done || !ok {
				continue
			}
			pa := pendingActivity{Step: e.Seq, Name: e.Name, ScheduledAt: jsonTime(e.Time), Attempt: t.Attempt,
				NotBefore: jsonTime(t.NotBefore), Pending: !t.Pending.IsZero(), Input: payload(e.Payload), Heartbeat: payload(t.Heartbeat)}
			v.Activities = append(v.Activities, pa)
		case history.EventTimerScheduled:
			if _, ok := own[e.Seq]; done || !ok {
				continue
			}
			var tp struct {
				FireAt   time.Time     `json:"fire_at"`
				Duration time.Duration `json:"duration"`
			}
			_ = json.Unmarshal(e.Payload, &tp)
			v.Timers = append(v.Timers, pendingTimer{Step: e.Seq, Duration: tp.Duration.String(), FireAt: jsonTime(tp.FireAt)})
		case history.EventSignalReceived:
			v.Signals = append(v.Signals, signalView{Seq: e.Seq, Name: e.Name, Time: jsonTime(e.Time), Value: payload(e.Payload)})
		case history.EventChildStarted:
			var cp struct {
				ID       string `json:"id"`
				Workflow string `json:"workflow"`
			}
			_ = json.Unmarshal(e.Payload, &cp)
			c := childView{Step: e.Seq, ID: cp.ID, Workflow: cp.Workflow, Status: "running"}
			if s, ok := settled[e.Seq]; ok {
				switch s.Type {
				case history.EventChildCompleted:
					c.Status = "completed"
				case history.EventChildFailed:
					c.Status = "failed"
					c.Error = decodeFailure(s.Payload)
				}
			} else if ci, err := st.Run(ctx, cp.ID); err == nil {
				c.Status = ci.Status.String()
			}
			v.Children = append(v.Children, c)
		case history.EventMarker:
			if !strings.HasPrefix(e.Name, sagaPrefix) {
				continue
			}
			var m sagaMarker
			_ = json.Unmarshal(e.Payload, &m)
			v.Compensations = append(v.Compensations, compensation{Seq: e.Seq, Time: jsonTime(e.Time),
				Event: strings.TrimPrefix(e.Name, sagaPrefix), Saga: m.Saga, Index: m.Index, Step: m.Step, Kind: m.Kind, Error: m.Error})
		}
	}
	return v, nil
}

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
		t := newTable(w, "STEP", "ACTIVITY", "ATTEMPT", "SCHEDULED", "NEXT ATTEMPT", "INPUT")
		for _, a := range v.Activities {
			att := strconv.Itoa(a.Attempt)
			if a.Pending {
				att += " (completing outside)"
			}
			t.row(strconv.FormatInt(a.Step, 10), a.Name, att, a.ScheduledAt, tableTime(a.NotBefore), short(a.Input, 40))
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

package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// Timeline is a run's journal read as what happened: one item per
// activity, timer, child, update or signal sent (from the command that
// started it to the input that settled it), and one per other event, in
// journal order, over every generation of the run.
type Timeline struct {
	RunID  string `json:"run_id"`
	Status string `json:"status"`
	Items  []Item `json:"items"`
}

// Item is one entry of a [Timeline].
type Item struct {
	// Seq is the journal event that opened the item (the step of a
	// command), and EndSeq the one that settled it, if any.
	Seq    int64 `json:"seq"`
	EndSeq int64 `json:"end_seq,omitempty"`
	// Generation counts the run's generations from 1 (continue-as-new and a
	// reused ID start a new one).
	Generation int `json:"generation"`
	// Kind is run-started, run-completed, run-failed, run-canceled,
	// run-terminated, continued-as-new, activity, timer, child, signal,
	// signal-sent, update, compensation, marker, cancel-requested,
	// side-effect, version, search-attributes or operator-action.
	Kind string `json:"kind"`
	// Name is the activity, workflow, signal, update, marker or change
	// name the item concerns.
	Name string `json:"name,omitempty"`
	// Status is where the item stands: for example scheduled, retrying,
	// completed, failed, fired, pending, received, delivered.
	Status string `json:"status"`
	// Start and End are when the item opened and settled; Duration is the
	// time between, as a Go duration.
	Start    string `json:"start"`
	End      string `json:"end,omitempty"`
	Duration string `json:"duration,omitempty"`
	// Attempts is, for an activity, the number of the attempt that settled
	// it, or of the attempt to run next while it is pending; 0 when the
	// journal does not say (an activity settled at its first attempt, or
	// journaled by a version that did not record retries).
	Attempts int `json:"attempts,omitempty"`
	// NextAttempt is when a pending activity's next attempt may start.
	NextAttempt string `json:"next_attempt,omitempty"`
	// FirstFailureAt is when an activity that needed more than one
	// attempt first failed, and LastFailure how the latest failed attempt
	// before its outcome (or, while it retries, before the next attempt)
	// failed.
	FirstFailureAt string   `json:"first_failure_at,omitempty"`
	LastFailure    *Failure `json:"last_failure,omitempty"`
	// FireAt is when a timer fires.
	FireAt string `json:"fire_at,omitempty"`
	// Child is the ID of a child run.
	Child string `json:"child,omitempty"`
	// Input and Output are the item's payloads (an activity's input and
	// result, a signal's value, an update's argument and result).
	Input  json.RawMessage `json:"input,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
	// Error is why the item failed.
	Error *Failure `json:"error,omitempty"`
	// Detail says the rest in one line for people (a compensation's step
	// and saga, an operator action's author).
	Detail string `json:"detail,omitempty"`
}

// BuildTimeline reads run id's journal and pending tasks from st and
// returns its timeline, its payloads decoded by pc (nil for none: see
// [DecodePayload]). An unknown run is the store's error wrapping
// [history.ErrRunNotFound].
func BuildTimeline(ctx context.Context, st history.Store, id string, pc history.PayloadCodec) (*Timeline, error) {
	info, err := st.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	decodeInfo(pc, &info)
	events, err := st.Events(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	events = DecodeEvents(pc, events)
	// The run may have advanced since its row was read: keep the journal
	// the row describes.
	for len(events) > 0 && events[len(events)-1].Seq > info.LastSeq {
		events = events[:len(events)-1]
	}
	tasks, err := st.Tasks(ctx)
	if err != nil {
		return nil, err
	}
	decodeTasks(pc, tasks)
	own := map[int64]history.Task{}
	for _, t := range tasks {
		if t.RunID == id && t.Damaged == nil {
			own[t.Step] = t
		}
	}
	return timeline(info, events, own, pc), nil
}

func timeline(info history.RunInfo, events []history.Event, own map[int64]history.Task, pc history.PayloadCodec) *Timeline {
	tl := &Timeline{RunID: info.ID, Status: info.Status.String(), Items: []Item{}}
	open := map[int64]int{} // step -> index in Items
	gen := 0
	first := max(info.FirstSeq, 1)
	settle := func(e history.Event, status string) *Item {
		i, ok := open[e.Ref]
		if !ok {
			return nil
		}
		delete(open, e.Ref)
		it := &tl.Items[i]
		it.Status, it.EndSeq, it.End = status, e.Seq, JSONTime(e.Time)
		if start, err := time.Parse(time.RFC3339Nano, it.Start); err == nil && !e.Time.IsZero() {
			it.Duration = e.Time.Sub(start).String()
		}
		return it
	}
	// delivered settles the queued input a cancel or signal came from.
	delivered := func(e history.Event) {
		if i, ok := open[e.Ref]; ok && e.Ref != 0 && tl.Items[i].Kind == "queued-input" {
			settle(e, "delivered")
		}
	}
	add := func(e history.Event, kind, status string) *Item {
		tl.Items = append(tl.Items, Item{Seq: e.Seq, Generation: gen, Kind: kind, Name: e.Name, Status: status, Start: JSONTime(e.Time)})
		return &tl.Items[len(tl.Items)-1]
	}
	for _, e := range events {
		switch e.Type {
		case history.EventRunStarted:
			gen++
			// Steps left open by an earlier generation never settle.
			for step, i := range open {
				if tl.Items[i].Status == "scheduled" || tl.Items[i].Status == "started" {
					tl.Items[i].Status = "abandoned"
				}
				delete(open, step)
			}
			add(e, "run-started", "started").Input = Payload(e.Payload)
		case history.EventActivityScheduled:
			it := add(e, "activity", "scheduled")
			it.Input = Payload(e.Payload)
			open[e.Seq] = len(tl.Items) - 1
		case history.EventActivityCompleted:
			if it := settle(e, "completed"); it != nil {
				it.Output = Payload(e.Payload)
			}
		case history.EventActivityFailed:
			if it := settle(e, "failed"); it != nil {
				it.Error = DecodeFailure(e.Payload)
				if it.Error != nil {
					it.Attempts = max(it.Attempts, it.Error.Attempt)
					if it.Attempts == 0 && it.Error.Cause != nil {
						it.Attempts = it.Error.Cause.Attempt
					}
					if it.Error.Type == activity.TypeCanceled {
						it.Status = "canceled"
					}
				}
			}
		case history.EventTimerScheduled:
			it := add(e, "timer", "scheduled")
			var tp struct {
				FireAt   time.Time     `json:"fire_at"`
				Duration time.Duration `json:"duration"`
			}
			if json.Unmarshal(e.Payload, &tp) == nil {
				it.FireAt = JSONTime(tp.FireAt)
				it.Detail = "sleep " + tp.Duration.String()
			}
			open[e.Seq] = len(tl.Items) - 1
		case history.EventTimerFired:
			settle(e, "fired")
		case history.EventChildStarted:
			var cp struct {
				ID       string `json:"id"`
				Workflow string `json:"workflow"`
			}
			_ = json.Unmarshal(e.Payload, &cp)
			it := add(e, "child", "started")
			it.Child = cp.ID
			if cp.Workflow != "" {
				it.Name = cp.Workflow
			}
			open[e.Seq] = len(tl.Items) - 1
		case history.EventChildCompleted:
			if it := settle(e, "completed"); it != nil {
				it.Output = Payload(e.Payload)
			}
		case history.EventChildFailed:
			if it := settle(e, "failed"); it != nil {
				it.Error = DecodeFailure(e.Payload)
			}
		case history.EventSignalSent:
			it := add(e, "signal-sent", "sending")
			it.Input = Payload(e.Payload)
			open[e.Seq] = len(tl.Items) - 1
		case history.EventSignalDelivered:
			if it := settle(e, "delivered"); it != nil && len(e.Payload) > 0 {
				it.Status = "failed"
				it.Error = DecodeFailure(e.Payload)
			}
		case history.EventSignalReceived:
			delivered(e)
			add(e, "signal", "received").Input = Payload(e.Payload)
		case history.EventInputQueued:
			it := add(e, "queued-input", "queued")
			if q, err := history.DecodeInputQueued(e.Payload); err == nil {
				it.Detail = q.Action
				if q.Signal != "" {
					it.Detail += " " + strconv.Quote(q.Signal)
					it.Input = Payload(DecodePayload(pc, q.Value))
				}
				if q.Identity != "" {
					it.Detail += " by " + q.Identity
				}
				it.Detail += ", for the workflow's code"
			}
			open[e.Seq] = len(tl.Items) - 1
		case history.EventUpdateAccepted:
			it := add(e, "update", "accepted")
			it.Name = Printable(e.Name)
			it.Input = Payload(e.Payload)
			open[e.Seq] = len(tl.Items) - 1
		case history.EventUpdateCompleted:
			if it := settle(e, "completed"); it != nil {
				it.Output = Payload(e.Payload)
			}
		case history.EventUpdateFailed:
			if it := settle(e, "failed"); it != nil {
				it.Error = DecodeFailure(e.Payload)
			}
		case history.EventMarker:
			if strings.HasPrefix(e.Name, sagaPrefix) {
				var m sagaMarker
				_ = json.Unmarshal(e.Payload, &m)
				it := add(e, "compensation", strings.TrimPrefix(e.Name, sagaPrefix))
				it.Name = m.Step
				it.Detail = fmt.Sprintf("saga step %d (%s)", m.Index, m.Kind)
				if m.Saga != "" {
					it.Detail = fmt.Sprintf("saga %q, step %d (%s)", m.Saga, m.Index, m.Kind)
				}
				if m.Error != "" {
					it.Error = &Failure{Message: m.Error}
				}
				continue
			}
			add(e, "marker", "recorded").Input = Payload(e.Payload)
		case history.EventCancelRequested:
			delivered(e)
			add(e, "cancel-requested", "requested")
		case history.EventSideEffect:
			add(e, "side-effect", "recorded").Output = Payload(e.Payload)
		case history.EventVersionMarker:
			add(e, "version", "recorded").Output = Payload(e.Payload)
		case history.EventSearchAttributesUpserted:
			it := add(e, "search-attributes", "set")
			it.Detail = e.Name
		case history.EventRunCompleted:
			add(e, "run-completed", "completed").Output = Payload(e.Payload)
		case history.EventRunFailed:
			add(e, "run-failed", "failed").Error = DecodeFailure(e.Payload)
		case history.EventRunCanceled:
			add(e, "run-canceled", "canceled").Error = DecodeFailure(e.Payload)
		case history.EventRunTerminated:
			add(e, "run-terminated", "terminated").Error = DecodeFailure(e.Payload)
		case history.EventRunContinuedAsNew:
			add(e, "continued-as-new", "continued").Input = Payload(e.Payload)
		case history.EventActivityRetried:
			// A note on step Ref, right before its outcome.
			if i, ok := open[e.Ref]; ok {
				if a, err := history.DecodeActivityRetried(e.Payload); err == nil {
					it := &tl.Items[i]
					it.Attempts = a.Attempts
					it.FirstFailureAt = JSONTime(a.FirstFailureAt)
					it.LastFailure = FromFailure(a.LastFailure)
				}
			}
		case history.EventOperatorAction:
			it := add(e, "operator-action", "recorded")
			if a, err := history.DecodeOperatorAction(e.Payload); err == nil {
				it.Detail = a.Action + " by " + a.Identity
				if a.Signal != "" {
					it.Detail += ", signal " + strconv.Quote(a.Signal)
				}
				if a.Update != "" {
					it.Detail += ", update " + strconv.Quote(a.Update)
				}
				if a.Reason != "" {
					it.Detail += ", reason: " + a.Reason
				}
			} else {
				it.Detail = "undecodable: " + err.Error()
			}
		default:
			add(e, strings.ToLower(e.Type.String()), "recorded").Input = Payload(e.Payload)
		}
	}
	// What is still open: pending, with the attempt to run next.
	for step, i := range open {
		it := &tl.Items[i]
		if step < first || info.Status.Ended() {
			if it.Status == "scheduled" || it.Status == "started" || it.Status == "sending" || it.Status == "accepted" {
				it.Status = "not settled"
			}
			continue
		}
		t, ok := own[step]
		switch it.Kind {
		case "activity":
			if ok {
				it.Attempts = t.Attempt
				it.NextAttempt = JSONTime(t.NotBefore)
				it.FirstFailureAt = JSONTime(t.FirstFailureAt)
				it.LastFailure = DecodeFailure(t.LastFailure)
				if t.Attempt > 1 {
					it.Status = "retrying"
				}
				if !t.Pending.IsZero() {
					it.Status = "completing outside"
				}
			}
		case "timer":
			it.Status = "pending"
		}
	}
	return tl
}

package inspect

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/chorusdev/chorus/history"
)

// Run is a run's summary (what `chorus runs show` prints), derived from
// its index row, its journal and its pending tasks.
type Run struct {
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
	Error      *Failure        `json:"error,omitempty"`
	// Blocked is why a blocked run cannot advance (for a Divergence, what
	// the journal recorded against what the code issued).
	Blocked *Failure `json:"blocked,omitempty"`
	// Divergence is, for a run blocked because its code no longer matches
	// its journal, the step and what each side holds there.
	Divergence *Divergence       `json:"divergence,omitempty"`
	Activities []PendingActivity `json:"pending_activities"`
	Queued     []QueuedInput     `json:"queued_inputs,omitempty"`
	// HumanTasks are the run's human tasks (package human), from the
	// audit markers of its journal.
	HumanTasks    []HumanTask    `json:"human_tasks,omitempty"`
	Timers        []PendingTimer `json:"pending_timers"`
	Signals       []Signal       `json:"signals_received"`
	Children      []Child        `json:"children"`
	Compensations []Compensation `json:"compensations"`
	// Attrs and Memo are the run's search attributes and memo, from a store
	// that indexes them.
	Attrs []Attr                     `json:"search_attributes,omitempty"`
	Memo  map[string]json.RawMessage `json:"memo,omitempty"`
}

// Attr is one search attribute of a run.
type Attr struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Value any    `json:"value"`
}

// Divergence is where a blocked run's code stopped matching its journal:
// the step, what the journal recorded there and what the code issued.
type Divergence struct {
	Step     int64  `json:"step"`
	Recorded string `json:"recorded"`
	Issued   string `json:"issued"`
}

// PendingActivity is an activity that has not settled: the attempt to run
// next and when.
type PendingActivity struct {
	Step        int64           `json:"step"`
	Name        string          `json:"name"`
	ScheduledAt string          `json:"scheduled_at"`
	Attempt     int             `json:"attempt"`
	NotBefore   string          `json:"not_before,omitempty"`
	Pending     bool            `json:"completed_from_outside,omitempty"`
	Input       json.RawMessage `json:"input,omitempty"`
	Heartbeat   json.RawMessage `json:"heartbeat,omitempty"`
	// LastError is how the latest failed attempt failed, and
	// FirstFailureAt when the first one did; absent before a failure.
	LastError      *Failure `json:"last_error,omitempty"`
	FirstFailureAt string   `json:"first_failure_at,omitempty"`
	// CancelRequested: the workflow canceled it and waits for the running
	// attempt to return.
	CancelRequested bool `json:"cancel_requested,omitempty"`
}

// HumanTask is a human task of the run as its audit markers
// ("human.task.ACTION") tell it: its last action is its state ("created",
// "claimed", "completed", "timed-out"...), and the trail every action.
type HumanTask struct {
	ID    string       `json:"id"`
	State string       `json:"state"`
	By    string       `json:"by,omitempty"`
	Since string       `json:"since"`
	Audit []HumanAudit `json:"audit"`
}

// HumanAudit is one entry of a human task's audit trail.
type HumanAudit struct {
	Seq    int64  `json:"seq"`
	Time   string `json:"time"`
	Action string `json:"action"`
	User   string `json:"user,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// humanPrefix begins the names of the human package's audit markers.
const humanPrefix = "human.task."

// QueuedInput is a cancel or a signal that a process without the run's
// workflow registered queued (an InputQueued note); the code sees it once
// a process with the workflow delivers it.
type QueuedInput struct {
	Seq      int64           `json:"seq"`
	Time     string          `json:"time"`
	Action   string          `json:"action"`
	Signal   string          `json:"signal,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
	Identity string          `json:"identity,omitempty"`
}

// PendingTimer is a timer that has not fired.
type PendingTimer struct {
	Step     int64  `json:"step"`
	Duration string `json:"duration"`
	FireAt   string `json:"fire_at"`
}

// Signal is a signal the run received.
type Signal struct {
	Seq   int64           `json:"seq"`
	Name  string          `json:"name"`
	Time  string          `json:"time"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Child is a child run the run started.
type Child struct {
	Step     int64    `json:"step"`
	ID       string   `json:"id"`
	Workflow string   `json:"workflow"`
	Status   string   `json:"status"`
	Error    *Failure `json:"error,omitempty"`
}

// Compensation is one saga marker.
type Compensation struct {
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

// Describe builds the summary of run id from st, its payloads decoded by
// pc (nil for none: see [DecodePayload]). An unknown run is the store's
// error wrapping [history.ErrRunNotFound].
func Describe(ctx context.Context, st history.Store, id string, pc history.PayloadCodec) (*Run, error) {
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
	var tasks []history.Task
	if rs, ok := any(st).(history.RunTaskStore); ok {
		tasks, err = rs.RunTasks(ctx, id)
	} else {
		tasks, err = st.Tasks(ctx)
	}
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
	first := max(info.FirstSeq, 1)
	v := &Run{
		ID: info.ID, Workflow: info.Workflow, Status: info.Status.String(),
		CreatedAt: JSONTime(info.CreatedAt), UpdatedAt: JSONTime(info.UpdatedAt),
		Parent: info.Parent, ParentStep: info.ParentStep, Events: info.LastSeq, FirstSeq: first,
		Result:     Payload(info.Result),
		Activities: []PendingActivity{}, Timers: []PendingTimer{}, Signals: []Signal{},
		Children: []Child{}, Compensations: []Compensation{},
	}
	if as, ok := any(st).(history.AttrStore); ok {
		ra, err := as.RunAttrs(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, a := range ra.Attrs {
			val := a.Value()
			if t, ok := val.(time.Time); ok {
				val = JSONTime(t)
			}
			v.Attrs = append(v.Attrs, Attr{Name: a.Name, Kind: a.Kind.String(), Value: val})
		}
		for k, m := range ra.Memo {
			if v.Memo == nil {
				v.Memo = map[string]json.RawMessage{}
			}
			v.Memo[k] = Payload(DecodePayload(pc, m))
		}
	}
	if info.Status == history.StatusBlocked {
		v.Blocked = DecodeFailure(info.Failure)
		if v.Blocked != nil && len(v.Blocked.Details) > 0 {
			var d Divergence
			if json.Unmarshal(v.Blocked.Details, &d) == nil && d.Recorded != "" {
				d.Issued = strings.TrimPrefix(d.Issued, "issues ")
				v.Divergence = &d
			}
		}
	} else {
		v.Error = DecodeFailure(info.Failure)
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
			v.Input = Payload(e.Payload)
		case history.EventActivityScheduled:
			t, ok := own[e.Seq]
			if done || !ok {
				continue
			}
			pa := PendingActivity{Step: e.Seq, Name: e.Name, ScheduledAt: JSONTime(e.Time), Attempt: t.Attempt,
				NotBefore: JSONTime(t.NotBefore), Pending: !t.Pending.IsZero(), Input: Payload(e.Payload), Heartbeat: Payload(t.Heartbeat),
				LastError: DecodeFailure(t.LastFailure), FirstFailureAt: JSONTime(t.FirstFailureAt), CancelRequested: t.Canceled}
			v.Activities = append(v.Activities, pa)
		case history.EventInputQueued:
			t, ok := own[e.Seq]
			if done || !ok || t.Kind != history.TaskWake {
				continue // delivered
			}
			q, err := history.DecodeInputQueued(e.Payload)
			if err != nil {
				continue
			}
			v.Queued = append(v.Queued, QueuedInput{Seq: e.Seq, Time: JSONTime(e.Time), Action: q.Action, Signal: q.Signal,
				Value: Payload(DecodePayload(pc, q.Value)), Identity: q.Identity})
		case history.EventTimerScheduled:
			if _, ok := own[e.Seq]; done || !ok {
				continue
			}
			var tp struct {
				FireAt   time.Time     `json:"fire_at"`
				Duration time.Duration `json:"duration"`
			}
			_ = json.Unmarshal(e.Payload, &tp)
			v.Timers = append(v.Timers, PendingTimer{Step: e.Seq, Duration: tp.Duration.String(), FireAt: JSONTime(tp.FireAt)})
		case history.EventSignalReceived:
			v.Signals = append(v.Signals, Signal{Seq: e.Seq, Name: e.Name, Time: JSONTime(e.Time), Value: Payload(e.Payload)})
		case history.EventChildStarted:
			var cp struct {
				ID       string `json:"id"`
				Workflow string `json:"workflow"`
			}
			_ = json.Unmarshal(e.Payload, &cp)
			c := Child{Step: e.Seq, ID: cp.ID, Workflow: cp.Workflow, Status: "running"}
			if s, ok := settled[e.Seq]; ok {
				switch s.Type {
				case history.EventChildCompleted:
					c.Status = "completed"
				case history.EventChildFailed:
					c.Status = "failed"
					c.Error = DecodeFailure(s.Payload)
				}
			} else if ci, err := st.Run(ctx, cp.ID); err == nil {
				c.Status = ci.Status.String()
			}
			v.Children = append(v.Children, c)
		case history.EventMarker:
			if strings.HasPrefix(e.Name, humanPrefix) {
				v.HumanTasks = addHumanAudit(v.HumanTasks, e)
				continue
			}
			if !strings.HasPrefix(e.Name, sagaPrefix) {
				continue
			}
			var m sagaMarker
			_ = json.Unmarshal(e.Payload, &m)
			v.Compensations = append(v.Compensations, Compensation{Seq: e.Seq, Time: JSONTime(e.Time),
				Event: strings.TrimPrefix(e.Name, sagaPrefix), Saga: m.Saga, Index: m.Index, Step: m.Step, Kind: m.Kind, Error: m.Error})
		}
	}
	return v, nil
}

// addHumanAudit adds the audit marker e to its task in tasks (in the order
// the tasks were created), skipping a marker that does not decode.
func addHumanAudit(tasks []HumanTask, e history.Event) []HumanTask {
	var m struct {
		Task   string `json:"task"`
		User   string `json:"user"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(e.Payload, &m) != nil || m.Task == "" {
		return tasks
	}
	a := HumanAudit{Seq: e.Seq, Time: JSONTime(e.Time), Action: strings.TrimPrefix(e.Name, humanPrefix), User: m.User, Detail: m.Detail}
	i := slices.IndexFunc(tasks, func(t HumanTask) bool { return t.ID == m.Task })
	if i < 0 {
		tasks = append(tasks, HumanTask{ID: m.Task})
		i = len(tasks) - 1
	}
	t := &tasks[i]
	t.Audit = append(t.Audit, a)
	switch a.Action {
	case "commented", "notified", "notify-failed", "assigned", "fallback", "escalation-failed":
		// Not a change of state.
	default:
		t.State, t.By, t.Since = a.Action, a.User, a.Time
	}
	if t.State == "" {
		t.State, t.Since = a.Action, a.Time
	}
	return tasks
}

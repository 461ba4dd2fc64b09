package kpi

import (
	"strings"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// outcome is how a step ended.
type outcome uint8

const (
	outPending outcome = iota
	outCompleted
	outFailed
	outCanceled
)

// step is one ActivityScheduled of a journal and what became of it.
type step struct {
	seq      int64
	name     string
	outcome  outcome
	attempts int
	// firstFail is when its first attempt failed, from its ActivityRetried
	// note; zero when not known.
	firstFail time.Time
}

// incident is a failure of an activity not yet recovered from.
type incident struct {
	start time.Time // the first failure
	seq   int64     // the Seq of the ActivityFailed that opened it
}

// journal is what one run's journal says about its steps.
type journal struct {
	steps []*step
	// recovered holds the time to recover of each incident recovered
	// from.
	recovered []time.Duration
	// unrecovered is the earliest start of the incidents not recovered
	// from by the journal's end, zero for none.
	unrecovered time.Time
	// failedAt is the time of the run's RunFailed, zero for none.
	failedAt time.Time
	// decisions counts the run's decide.decision markers.
	decisions Decisions
	// human counts the run's human task markers; claim and decide are
	// its tasks' times to claim and to decide.
	human         HumanTasks
	claim, decide []time.Duration
}

// humanTask is what the journal says of one human task so far.
type humanTask struct {
	created, claimed time.Time
}

// humanNote is the part of a human task marker the KPIs read.
type humanNote struct {
	Task string `json:"task"`
}

// DecisionMarker names the journal marker of a model-scored decision
// (package decide records one per decision). Its payload's fields
// decided_by, fallback, compared and agreed are what the KPIs count.
const DecisionMarker = "decide.decision"

// decisionNote is the part of a decision marker the KPIs read.
type decisionNote struct {
	DecidedBy string `json:"decided_by"`
	Fallback  string `json:"fallback"`
	Compared  bool   `json:"compared"`
	Agreed    bool   `json:"agreed"`
}

// readJournal reads the steps of the run's current execution out of evs (a
// whole journal, from Seq 1). It reports false when the events contradict
// each other.
func readJournal(evs []history.Event, codec history.Codec) (*journal, bool) {
	// The journal of a reused ID starts with the runs that held it before:
	// the current one starts at the last RunStarted that follows an end
	// other than a continue-as-new.
	start := 0
	for i := 1; i < len(evs); i++ {
		if evs[i].Type == history.EventRunStarted && evs[i-1].Type.IsTerminal() && evs[i-1].Type != history.EventRunContinuedAsNew {
			start = i
		}
	}
	j := &journal{}
	bySeq := map[int64]*step{}
	open := map[string]*incident{}
	tasks := map[string]*humanTask{} // by task ID, in the current generation
	for _, e := range evs[start:] {
		switch e.Type {
		case history.EventRunStarted:
			// Task IDs count again from 1 in each generation.
			tasks = map[string]*humanTask{}
		case history.EventActivityScheduled:
			s := &step{seq: e.Seq, name: e.Name, attempts: 1}
			j.steps = append(j.steps, s)
			bySeq[e.Seq] = s
		case history.EventActivityRetried:
			s := bySeq[e.Ref]
			if s == nil || s.outcome != outPending {
				return nil, false
			}
			n, err := history.DecodeActivityRetried(e.Payload)
			if err != nil {
				return nil, false
			}
			s.attempts, s.firstFail = n.Attempts, n.FirstFailureAt
		case history.EventActivityCompleted, history.EventActivityFailed:
			s := bySeq[e.Ref]
			if s == nil || s.outcome != outPending {
				return nil, false
			}
			if e.Type == history.EventActivityCompleted {
				s.outcome = outCompleted
				if in := open[s.name]; in != nil && s.seq > in.seq {
					// Recovered by a step the workflow scheduled after the
					// failure: the incident ends, whatever this step's own
					// attempts.
					j.recovered = append(j.recovered, e.Time.Sub(in.start))
					delete(open, s.name)
				} else if !s.firstFail.IsZero() {
					// Recovered by retrying.
					j.recovered = append(j.recovered, e.Time.Sub(s.firstFail))
				}
				continue
			}
			var fl history.Failure
			if err := codec.Unmarshal(e.Payload, &fl); err != nil {
				// The step failed; how many attempts it took is unknown.
				fl = history.Failure{}
			}
			if fl.Type == activity.TypeCanceled {
				s.outcome = outCanceled
				continue
			}
			s.outcome = outFailed
			s.attempts = max(s.attempts, fl.Attempt, 1)
			if open[s.name] == nil {
				start := e.Time
				if !s.firstFail.IsZero() {
					start = s.firstFail
				}
				open[s.name] = &incident{start: start, seq: e.Seq}
			}
		case history.EventRunCompleted:
			// The workflow handled its failures.
			for name, in := range open {
				j.recovered = append(j.recovered, e.Time.Sub(in.start))
				delete(open, name)
			}
		case history.EventRunFailed:
			j.failedAt = e.Time
		case history.EventMarker:
			if action, ok := strings.CutPrefix(e.Name, HumanMarkerPrefix); ok {
				j.humanMarker(tasks, action, e, codec)
				continue
			}
			if e.Name != DecisionMarker {
				continue
			}
			var n decisionNote
			if err := codec.Unmarshal(e.Payload, &n); err != nil {
				j.decisions.Unreadable++
				continue
			}
			j.decisions.add(n)
		}
	}
	for _, in := range open {
		if j.unrecovered.IsZero() || in.start.Before(j.unrecovered) {
			j.unrecovered = in.start
		}
	}
	return j, true
}

// humanMarker counts one human task marker ("human.task.<action>").
func (j *journal) humanMarker(tasks map[string]*humanTask, action string, e history.Event, codec history.Codec) {
	switch action {
	case "created", "claimed", "completed", "timed-out", "escalated", "canceled", "failed":
	default:
		return // the rest of the audit trail does not count
	}
	var n humanNote
	if err := codec.Unmarshal(e.Payload, &n); err != nil {
		j.human.Unreadable++
		return
	}
	h := &j.human
	t := tasks[n.Task]
	if t == nil {
		t = &humanTask{}
		tasks[n.Task] = t
	}
	switch action {
	case "created":
		h.Created++
		*t = humanTask{created: e.Time}
	case "claimed", "completed":
		// A person takes a task by claiming it, or by completing it
		// unclaimed: the first of these is its time to claim.
		if t.claimed.IsZero() {
			t.claimed = e.Time
			if !t.created.IsZero() {
				j.claim = append(j.claim, e.Time.Sub(t.created))
			}
		}
		if action == "completed" {
			h.Completed++
			if !t.created.IsZero() {
				j.decide = append(j.decide, e.Time.Sub(t.created))
			}
		}
	case "timed-out":
		h.TimedOut++
	case "escalated":
		h.Escalations++
	case "canceled":
		h.Canceled++
	case "failed":
		h.Failed++
	}
}

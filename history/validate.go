package history

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Validate checks what can be checked of b without a database: the rules
// every [Store] applies before it writes a batch (run and parent IDs,
// events numbered one by one from a valid first Seq, statuses, reuse of an
// ended run's ID, tasks, and times a Unix-nanosecond integer can hold).
// Its error names the run and what is wrong; a nil b is invalid.
func (b *Batch) Validate() error {
	if b == nil {
		return errors.New("invalid batch: nil")
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("run %q: invalid batch: %s", b.RunID, fmt.Sprintf(format, args...))
	}
	if b.RunID == "" {
		return bad("empty RunID")
	}
	if !StorableTime(b.Time) {
		return bad("Time %v is out of range", b.Time)
	}
	if c := b.Create; c != nil {
		if c.ID != "" && c.ID != b.RunID {
			return bad("Create.ID is %q", c.ID)
		}
		if c.Status != 0 && !c.Status.Valid() {
			return bad("Create.Status is %v", c.Status)
		}
		switch {
		case c.ParentStep < 0:
			return bad("Create.ParentStep is %d, want 0 or more", c.ParentStep)
		case c.Parent == "" && c.ParentStep != 0:
			return bad("Create.ParentStep is %d without a Parent", c.ParentStep)
		case c.Parent != "" && c.ParentStep == 0:
			return bad("Create.Parent is %q without a ParentStep", c.Parent)
		case c.Parent == b.RunID:
			return bad("Create.Parent is the run itself")
		}
	}
	for i, e := range b.Events {
		switch {
		case !e.Type.Valid():
			return bad("event %d has unknown type %v", e.Seq, e.Type)
		case i == 0 && b.Create != nil && e.Seq != 1:
			return bad("the first event of a new run has Seq %d, want 1", e.Seq)
		case i == 0 && e.Seq < 1:
			return bad("event Seq %d, want 1 or more", e.Seq)
		case i > 0 && e.Seq != b.Events[i-1].Seq+1:
			return bad("event Seq %d follows %d", e.Seq, b.Events[i-1].Seq)
		case !StorableTime(e.Time):
			return bad("event %d: Time %v is out of range", e.Seq, e.Time)
		}
	}
	if st := b.Status; st != nil {
		if !st.Status.Valid() {
			return bad("Status.Status is %v", st.Status)
		}
		if st.FirstSeq != 0 && !startsGeneration(b.Events, st.FirstSeq) {
			return bad("Status.FirstSeq is %d, which is not the Seq of a %v event of the batch",
				st.FirstSeq, EventRunStarted)
		}
	}
	if c := b.Reuse; c != nil {
		st := b.Status
		switch {
		case b.Create != nil:
			return bad("both Create and Reuse")
		case c.ID != "" && c.ID != b.RunID:
			return bad("Reuse.ID is %q", c.ID)
		case c.Workflow == "":
			return bad("Reuse.Workflow is empty")
		case c.ParentStep < 0:
			return bad("Reuse.ParentStep is %d, want 0 or more", c.ParentStep)
		case c.Parent == "" && c.ParentStep != 0:
			return bad("Reuse.ParentStep is %d without a Parent", c.ParentStep)
		case c.Parent != "" && c.ParentStep == 0:
			return bad("Reuse.Parent is %q without a ParentStep", c.Parent)
		case c.Parent == b.RunID:
			return bad("Reuse.Parent is the run itself")
		case st == nil:
			return bad("Reuse without a Status")
		case !startsGeneration(b.Events, c.FirstSeq):
			return bad("Reuse.FirstSeq is %d, which is not the Seq of a %v event of the batch", c.FirstSeq, EventRunStarted)
		case st.FirstSeq != 0 && st.FirstSeq < c.FirstSeq:
			return bad("Status.FirstSeq %d is before the new run's RunStarted at %d", st.FirstSeq, c.FirstSeq)
		case c.FirstSeq > b.Events[0].Seq:
			// The batch ends the run it replaces, right before.
			if prev := b.Events[c.FirstSeq-b.Events[0].Seq-1].Type; !prev.IsTerminal() || prev == EventRunContinuedAsNew {
				return bad("Reuse: the event before the new RunStarted is %v, which does not end a run", prev)
			}
		}
	}
	for _, ts := range [][]Task{b.AddTasks, b.UpdateTasks} {
		for _, k := range ts {
			switch {
			case k.RunID != "" && k.RunID != b.RunID:
				return bad("task %d has RunID %q", k.Step, k.RunID)
			case k.Step == 0:
				return bad("task step 0, want a step number (negative for a second task of a step)")
			case k.Attempt < 0:
				return bad("task %d: Attempt %d, want 0 or more", k.Step, k.Attempt)
			case !StorableTime(k.NotBefore):
				return bad("task %d: NotBefore %v is out of range", k.Step, k.NotBefore)
			case !StorableTime(k.Pending):
				return bad("task %d: Pending %v is out of range", k.Step, k.Pending)
			}
		}
	}
	for _, k := range b.AddTasks {
		switch {
		case k.Kind != 0 && !k.Kind.Valid():
			return bad("task %d has unknown kind %v", k.Step, k.Kind)
		case (k.Kind == 0 || k.Kind == TaskActivity) && k.Name == "":
			return bad("activity task %d has an empty Name", k.Step)
		}
	}
	return nil
}

// startsGeneration reports whether seq is the Seq of a RunStarted event of
// events, which Validate has found to be numbered one by one.
func startsGeneration(events []Event, seq int64) bool {
	if len(events) == 0 {
		return false
	}
	i := seq - events[0].Seq
	return i >= 0 && i < int64(len(events)) && events[i].Type == EventRunStarted
}

// The times a Unix-nanosecond int64 can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// StorableTime reports whether a store can keep t: the zero time, or an
// instant between 1677 and 2262 (Unix nanoseconds in an int64).
func StorableTime(t time.Time) bool {
	return t.IsZero() || !t.Before(minTime) && !t.After(maxTime)
}

package remote

import (
	"context"
	"encoding/json"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// stub stands in the hub's engine for a remote activity: each attempt
// offers a task to the workers and waits for a worker's answer.
type stub struct {
	h    *Hub
	name string
	opts *activity.Options
}

func (s *stub) Name() string               { return s.name }
func (s *stub) Options() *activity.Options { return s.opts }

// Invoke offers the attempt to workers and returns the answer of the one
// that ran it. It relays the worker's heartbeats to the engine, so that
// the activity's HeartbeatTimeout holds across the network; when ctx ends
// (the activity was canceled or timed out, or the engine is closing) the
// task is withdrawn and a worker still running it is told at its next
// renewal.
func (s *stub) Invoke(ctx context.Context, _ history.Codec, input []byte) ([]byte, error) {
	info := activity.GetInfo(ctx)
	t := &task{
		w: wireTask{Queue: s.opts.Queue, Activity: s.name, RunID: info.RunID, Workflow: info.Workflow, Step: info.Step,
			Attempt: info.Attempt, IdempotencyKey: info.IdempotencyKey, ScheduledAt: info.ScheduledAt, Input: input},
		offered: s.h.o.Clock.Now(),
		answer:  make(chan answerRequest, 1),
		beats:   make(chan json.RawMessage, 1),
	}
	var prev json.RawMessage
	if activity.HeartbeatDetails(ctx, &prev) {
		t.w.Heartbeat = prev
	}
	s.h.offer(t)
	for {
		select {
		case a := <-t.answer:
			// A heartbeat sent before the answer is relayed first: the
			// next attempt may resume from its details.
			select {
			case d := <-t.beats:
				relayBeat(ctx, d)
			default:
			}
			switch {
			case a.Pending:
				return nil, activity.ErrResultPending
			case a.Failure != nil:
				return nil, &activity.Error{Type: a.Failure.Type, Message: a.Failure.Message, NonRetryable: a.Failure.NonRetryable}
			}
			return a.Result, nil
		case d := <-t.beats:
			relayBeat(ctx, d)
		case <-ctx.Done():
			s.h.withdraw(t)
			return nil, ctx.Err()
		}
	}
}

// relayBeat passes a worker's heartbeat to the engine.
func relayBeat(ctx context.Context, d json.RawMessage) {
	if d == nil {
		activity.Heartbeat(ctx, nil)
		return
	}
	activity.Heartbeat(ctx, d)
}

// task is one attempt of a remote activity, offered or leased. Its fields
// but w, offered and the channels are guarded by the hub's lock.
type task struct {
	w       wireTask // Lease unset: t.lease holds it
	offered time.Time
	answer  chan answerRequest   // gets the one answer
	beats   chan json.RawMessage // the latest heartbeat to relay
	lease   string               // "" while ready
	worker  string               // holder of lease
	timer   *clock.Timer         // lease expiry
	done    bool                 // answered or withdrawn
}

// wire returns t as handed to its worker.
func (t *task) wire(leaseTimeout time.Duration) wireTask {
	w := t.w
	w.Lease = t.lease
	w.LeaseTimeoutMS = leaseTimeout.Milliseconds()
	return w
}

// armLease (re)starts the lease's expiry. Called with the hub's lock.
func (t *task) armLease(h *Hub, lease string) {
	t.stopTimer()
	if h.closed {
		return
	}
	tm := new(*clock.Timer)
	*tm = h.o.Clock.AfterFunc(h.o.LeaseTimeout, func() { h.expire(t, lease, tm) })
	t.timer = *tm
}

func (t *task) stopTimer() {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}

// beat hands the latest heartbeat to the stub, replacing one not yet
// relayed. Called with the hub's lock.
func (t *task) beat(details json.RawMessage) {
	select {
	case <-t.beats:
	default:
	}
	t.beats <- details
}

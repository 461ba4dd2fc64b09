package activity

import (
	"context"
	"time"
)

// Info describes the attempt an activity is running.
type Info struct {
	// RunID is the run that scheduled the activity.
	RunID string
	// Workflow is the name of that run's workflow.
	Workflow string
	// Activity is the activity's registered name.
	Activity string
	// Step is the journal position of the ActivityScheduled event.
	Step int64
	// Attempt counts attempts from 1. It grows with each retry after a
	// failure; an attempt cut short by a crash is run again with the same
	// number.
	Attempt int
	// IdempotencyKey is the same for every attempt of this activity, across
	// retries and crashes, and different for every other activity: hand it to
	// external APIs so a repeated attempt does not repeat the effect. It is
	// RunID + "/" + Step in decimal, and is also the key by which an
	// activity that returned [ErrResultPending] is completed.
	IdempotencyKey string
	// ScheduledAt is when the workflow scheduled the activity.
	ScheduledAt time.Time
}

type infoKey struct{}

// WithInfo returns a context carrying info. The engine uses it for every
// attempt; tests use it to run an activity function directly.
func WithInfo(ctx context.Context, info Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// GetInfo returns the [Info] of the attempt running under ctx, and the zero
// Info when ctx does not belong to an activity.
func GetInfo(ctx context.Context) Info {
	info, _ := ctx.Value(infoKey{}).(Info)
	return info
}

// Heartbeater is what [Heartbeat] and [HeartbeatDetails] talk to. The engine
// puts one in every attempt's context; tests can install their own with
// [WithHeartbeater].
type Heartbeater interface {
	// RecordHeartbeat notes that the attempt is alive, with optional
	// progress details.
	RecordHeartbeat(details any)
	// PreviousDetails decodes into v the details of the last heartbeat of an
	// earlier attempt, and reports whether there were any.
	PreviousDetails(v any) bool
}

type heartbeatKey struct{}

// WithHeartbeater returns a context whose [Heartbeat] calls go to h.
func WithHeartbeater(ctx context.Context, h Heartbeater) context.Context {
	return context.WithValue(ctx, heartbeatKey{}, h)
}

// Heartbeat tells the engine that a long activity is alive, and records
// details of its progress (nil for none). With Options.HeartbeatTimeout set,
// an attempt that does not heartbeat within the timeout is stopped and
// retried; the next attempt can read the last details with
// [HeartbeatDetails] and resume instead of starting over. Outside an
// activity it does nothing.
func Heartbeat(ctx context.Context, details any) {
	if h, ok := ctx.Value(heartbeatKey{}).(Heartbeater); ok {
		h.RecordHeartbeat(details)
	}
}

// HeartbeatDetails decodes into v the details that an earlier attempt of
// this activity last passed to [Heartbeat], and reports whether there were
// any. Details are journaled with the activity's task, so they survive a
// crash of the process; to bound the writes, the engine records the first
// heartbeat with details of an attempt at once (Heartbeat returns after it
// is durable) and then at most one write per throttle interval (80% of
// Options.HeartbeatTimeout, at most 30 seconds, 30 seconds without a
// heartbeat timeout), keeping only the latest details. An attempt that
// follows a crash sees the last details written; one that follows a
// failure sees the very last details.
func HeartbeatDetails(ctx context.Context, v any) bool {
	h, ok := ctx.Value(heartbeatKey{}).(Heartbeater)
	return ok && h.PreviousDetails(v)
}

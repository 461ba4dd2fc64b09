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
	// external APIs so a repeated attempt does not repeat the effect.
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

package engine

import (
	"context"
	"sync"
)

// suspension lets an activity attempt stop counting as work in flight
// while it waits for the engine's clock to move (a mock of a test
// environment that takes fake time to answer): an environment that skips
// time only does so when nothing is in flight.
type suspension struct {
	e         *Engine
	mu        sync.Mutex
	suspended bool
	over      bool // the worker is done with the attempt
}

type suspensionKey struct{}

// SuspendAttempt stops counting the activity attempt whose context is ctx
// as work in flight, until resume is called (at most once has an effect).
// It reports false, suspending nothing, outside an engine's attempt. Once
// the engine is done with the attempt (it returned, or was abandoned after
// its timeout), resume does nothing.
func SuspendAttempt(ctx context.Context) (resume func(), ok bool) {
	s, _ := ctx.Value(suspensionKey{}).(*suspension)
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	if s.over || s.suspended {
		s.mu.Unlock()
		return func() {}, true
	}
	s.suspended = true
	s.mu.Unlock()
	s.e.settled() // the attempt's unit of busy work, taken back by resume
	return s.resume, true
}

func (s *suspension) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.suspended && !s.over {
		s.suspended = false
		s.e.busy.Add(1)
	}
}

// onCancel returns cancel preceded by resume: an attempt the run no longer
// wants counts as work in flight again before it learns so, so nobody sees
// the engine idle while it winds down.
func (s *suspension) onCancel(cancel context.CancelFunc) context.CancelFunc {
	return func() {
		s.resume()
		cancel()
	}
}

// end is called by the worker when the attempt is over, before it stops
// counting it: an attempt still suspended counts again first, so the books
// balance.
func (s *suspension) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.suspended {
		s.suspended = false
		s.e.busy.Add(1)
	}
	s.over = true
}

package engine

import "context"

// A run blocked when the engine opened is resumed in the background, by an
// inResume input. Until that input is applied, the run's row still says
// blocked with the old reason, although the registered code may replay it
// now; reads that answer from the row wait for it through WaitResume.

// resumeInput returns the input that resumes blocked run id, marking the
// resume as under way until it is answered.
func (e *Engine) resumeInput(id string) input {
	e.beginResume(id)
	return input{kind: inResume, after: func(error) { e.endResume(id) }}
}

func (e *Engine) beginResume(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.resuming == nil {
		e.resuming = map[string]chan struct{}{}
	}
	if _, ok := e.resuming[id]; !ok {
		e.resuming[id] = make(chan struct{})
	}
}

func (e *Engine) endResume(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ch, ok := e.resuming[id]; ok {
		close(ch)
		delete(e.resuming, id)
	}
}

// WaitResume waits until the resume of run id that the engine started (at
// Open, or when the run's workflow was registered) has been applied, so that
// what the caller reads next is not the blocked status the fixed code
// replaces. It returns at once when no resume of the run is under way,
// including when it waits for its workflow to be registered.
func (e *Engine) WaitResume(ctx context.Context, id string) error {
	e.mu.Lock()
	ch := e.resuming[id]
	e.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.closed:
		return ErrEngineClosed
	}
}

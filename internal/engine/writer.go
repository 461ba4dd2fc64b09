package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chorusdev/chorus/history"
)

// writer is the engine's one write path. It commits the batches of many
// runs in one store transaction (group commit): while one transaction is
// being written, the next batches queue up and go together in the next one.
type writer struct {
	store history.Store
	max   int
	reqs  chan *commitReq
	done  chan struct{}
	obs   Observer // told of each commit; nil without an observer
}

type commitReq struct {
	b    *history.Batch
	err  error
	done chan struct{}
}

func newWriter(store history.Store, maxBatch int) *writer {
	w := &writer{store: store, max: maxBatch, reqs: make(chan *commitReq, maxBatch), done: make(chan struct{})}
	go w.loop()
	return w
}

// submit commits b and returns once it is durable, or why it is not.
func (w *writer) submit(b *history.Batch) error {
	req := &commitReq{b: b, done: make(chan struct{})}
	w.reqs <- req
	<-req.done
	return req.err
}

// stop ends the writer after every submitted batch is committed. No submit
// may be called after stop.
func (w *writer) stop() {
	close(w.reqs)
	<-w.done
}

func (w *writer) loop() {
	defer close(w.done)
	reqs := make([]*commitReq, 0, w.max)
	batches := make([]*history.Batch, 0, w.max)
	for req := range w.reqs {
		reqs = append(reqs[:0], req)
	drain:
		for len(reqs) < w.max {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break drain
				}
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		batches = batches[:0]
		for _, r := range reqs {
			batches = append(batches, r.b)
		}
		// Commits are never canceled half-way: a caller that gave up still
		// needs to know the journal's state, and Close waits for them.
		var began time.Time
		if w.obs != nil {
			began = time.Now()
		}
		errs, err := w.commit(batches)
		if w.obs != nil {
			w.observe(began, len(batches), err)
		}
		for i, r := range reqs {
			switch {
			case err != nil && errors.Is(err, ErrCommitUnknown):
				r.err = err
			case err != nil:
				// The store could not say what became of the transaction:
				// callers must find out before they act on it.
				r.err = fmt.Errorf("%w: %w", ErrCommitUnknown, err)
			case i < len(errs) && errs[i] != nil:
				r.err = errs[i]
			}
			close(r.done)
		}
		clear(batches)
	}
}

// observe reports a commit of n runs' batches that began at began and
// ended now, measured in real time whatever the engine's clock.
func (w *writer) observe(began time.Time, n int, err error) {
	now := time.Now()
	w.obs(context.Background(), &Observation{Kind: ObsCommit, Time: now, Start: began, Latency: now.Sub(began), Size: n, Err: err})
}

// commit calls the store, turning a panic into an error whose outcome is
// unknown, so a broken store cannot take the writer (and every run) down.
func (w *writer) commit(batches []*history.Batch) (errs []error, err error) {
	defer func() {
		if p := recover(); p != nil {
			errs, err = nil, fmt.Errorf("%w: the store panicked during commit (the outcome is unknown): %v", ErrCommitUnknown, p)
		}
	}()
	return w.store.Commit(context.Background(), batches)
}

// ErrCommitUnknown reports a commit whose outcome the store could not tell.
var ErrCommitUnknown = errors.New("chorus: commit outcome unknown")

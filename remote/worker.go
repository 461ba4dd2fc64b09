package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// Defaults of [WorkerOptions].
const (
	// DefaultConcurrency is how many tasks a worker runs at once.
	DefaultConcurrency = 4
	// DefaultRetryDelay is how long a worker waits before it retries a
	// request that failed for a reason that may pass (the network, a hub
	// restarting).
	DefaultRetryDelay = time.Second
)

// WorkerOptions configures a [Worker].
type WorkerOptions struct {
	// Concurrency is how many tasks the worker runs at once: it keeps as
	// many polls open. Defaults to [DefaultConcurrency].
	Concurrency int
	// Client sends the requests. It must not time out before the hub's
	// poll timeout. Defaults to a client of http.DefaultTransport without
	// a timeout (the requests' contexts bound them).
	Client *http.Client
	// Codec decodes inputs and encodes results: the hub's engine's codec.
	// Defaults to [history.JSONCodec].
	Codec history.Codec
	// RetryDelay is how long the worker waits before it retries a request
	// that failed for a reason that may pass. Defaults to
	// [DefaultRetryDelay].
	RetryDelay time.Duration
	// Logger receives the worker's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// DrainTimeout is how long a stopping worker lets the tasks it is
	// running finish: when Run's context ends, the worker stops asking
	// for tasks at once, and the running ones keep their contexts, their
	// leases and the right to answer for up to DrainTimeout; those still
	// running then are canceled and given back. Zero (the default) cancels
	// them at once. Set it for deploys: a task that finishes during the
	// drain is not run a second time elsewhere.
	DrainTimeout time.Duration
}

// Worker runs the tasks of remote activities that a [Hub] offers. Create
// it with [NewWorker] and call [Worker.Run].
type Worker struct {
	url    string
	auth   string
	queues []string
	acts   map[string]Activity
	names  []string
	o      WorkerOptions
}

// NewWorker returns a worker that serves queues of the hub at hubURL (the
// URL the hub's handler is mounted at) with token, running acts. Each
// task's activity is looked up by name among acts; the worker asks only
// for tasks of the activities it has.
func NewWorker(hubURL, token string, queues []string, opts *WorkerOptions, acts ...Activity) (*Worker, error) {
	var o WorkerOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case !strings.HasPrefix(hubURL, "http://") && !strings.HasPrefix(hubURL, "https://"):
		return nil, fmt.Errorf("remote: NewWorker: hub URL %q is not http:// or https://", hubURL)
	case token == "":
		return nil, errors.New("remote: NewWorker: empty token")
	case len(queues) == 0:
		return nil, errors.New("remote: NewWorker: no queue to serve")
	case len(acts) == 0:
		return nil, errors.New("remote: NewWorker: no activity to run")
	case o.Concurrency < 0:
		return nil, fmt.Errorf("remote: WorkerOptions.Concurrency is negative (%d)", o.Concurrency)
	case o.RetryDelay < 0:
		return nil, fmt.Errorf("remote: WorkerOptions.RetryDelay is negative (%v)", o.RetryDelay)
	case o.DrainTimeout < 0:
		return nil, fmt.Errorf("remote: WorkerOptions.DrainTimeout is negative (%v)", o.DrainTimeout)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Codec == nil {
		o.Codec = history.JSONCodec{}
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	w := &Worker{url: strings.TrimSuffix(hubURL, "/"), auth: "Bearer " + token, queues: queues, acts: map[string]Activity{}, o: o}
	for i, a := range acts {
		if a == nil {
			return nil, fmt.Errorf("remote: NewWorker: activity %d is nil", i)
		}
		if _, dup := w.acts[a.Name()]; dup {
			return nil, fmt.Errorf("remote: NewWorker: activity %q is given twice", a.Name())
		}
		w.acts[a.Name()] = a
		w.names = append(w.names, a.Name())
	}
	return w, nil
}

// Run polls the hub and runs its tasks until ctx ends, then returns nil
// once the tasks it was running have stopped. With
// [WorkerOptions].DrainTimeout, they may finish and answer first, for up
// to that long; those still running then (all of them, without a drain)
// are canceled, and the worker gives them back to the hub unanswered,
// which offers them again at once (a task the worker cannot give back,
// the hub being unreachable, is offered again when its lease expires). It
// returns an error early, canceling its tasks at once, when the hub
// refuses the worker for a reason that retrying cannot fix:
// [ErrUnauthorized], [ErrForbidden], [ErrUnknownQueue], [ErrBadRequest].
func (w *Worker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Tasks run under tasks, which outlives ctx by the drain: each loop
	// runs at most one task, so the loops' end is the tasks' end.
	tasks, stopTasks := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopTasks(nil)
	var wg sync.WaitGroup
	for range w.o.Concurrency {
		wg.Go(func() {
			if err := w.loop(ctx, tasks); err != nil {
				cancel(err)
			}
		})
	}
	loopsDone, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		select {
		case <-ctx.Done():
		case <-loopsDone:
			return
		}
		if err := context.Cause(ctx); w.o.DrainTimeout > 0 && !isRefusal(err) {
			timer := time.NewTimer(w.o.DrainTimeout)
			defer timer.Stop()
			select {
			case <-loopsDone:
			case <-timer.C:
				w.o.Logger.Warn("remote: worker stopping; the drain timed out, tasks still running are canceled and given back",
					"drain_timeout", w.o.DrainTimeout)
			}
		}
		stopTasks(context.Cause(ctx))
	}()
	wg.Wait()
	close(loopsDone)
	<-drained
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// isRefusal reports whether err is the hub refusing the worker for good.
func isRefusal(err error) bool {
	var he *HubError
	return errors.As(err, &he) && he.permanent()
}

// loop polls under ctx and runs tasks under tasks until ctx ends or the
// hub refuses the worker.
func (w *Worker) loop(ctx, tasks context.Context) error {
	for ctx.Err() == nil {
		var t wireTask
		status, err := w.call(ctx, "poll", pathPoll, pollRequest{Queues: w.queues, Activities: w.names}, &t)
		switch {
		case err != nil:
			if isRefusal(err) {
				return err
			}
			if ctx.Err() == nil {
				w.o.Logger.Warn("remote: poll failed; retrying", "err", err, "in", w.o.RetryDelay)
				w.pause(ctx)
			}
		case status == http.StatusOK:
			w.run(tasks, &t)
		}
	}
	return nil
}

// run runs task t and answers it, unless the worker stops or loses the
// task meanwhile.
func (w *Worker) run(ctx context.Context, t *wireTask) {
	log := w.o.Logger.With("activity", t.Activity, "key", t.IdempotencyKey, "attempt", t.Attempt)
	act := w.acts[t.Activity]
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	hb := &relay{kick: make(chan struct{}, 1), prev: t.Heartbeat}
	actx = activity.WithHeartbeater(activity.WithInfo(actx, activity.Info{
		RunID: t.RunID, Workflow: t.Workflow, Activity: t.Activity, Step: t.Step, Attempt: t.Attempt,
		IdempotencyKey: t.IdempotencyKey, ScheduledAt: t.ScheduledAt,
	}), hb)

	var lost bool
	renewed := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(renewed)
		lost = w.renew(ctx, t, hb, stop)
		if lost {
			cancel()
		}
	}()
	var ans answerRequest
	if act == nil {
		ans.Failure = &wireFailure{Type: "remote.UnknownActivity", Message: fmt.Sprintf("the worker has no activity %q", t.Activity), NonRetryable: true}
	} else {
		out, err := act.Invoke(actx, w.o.Codec, t.Input)
		ans = answerOf(out, err)
	}
	close(stop)
	<-renewed
	switch {
	case ctx.Err() != nil && !lost:
		w.giveBack(ctx, t, log)
		return
	case ctx.Err() != nil:
		return
	case lost:
		log.Warn("remote: the task is no longer this worker's (lease expired, canceled, or hub restarted); its outcome is dropped")
		return
	}
	if relay, details := hb.take(); relay {
		// The last heartbeat before the end: relay it before the answer,
		// so that a retry can resume from its details.
		_, err := w.call(ctx, "heartbeat", pathHeartbeat, heartbeatRequest{Lease: t.Lease, Relay: true, Details: details}, nil)
		if errors.Is(err, ErrNotHeld) {
			log.Warn("remote: the task is no longer this worker's; its outcome is dropped")
			return
		}
	}
	ans.Lease = t.Lease
	for {
		var resp answerResponse
		_, err := w.call(ctx, "answer", pathAnswer, ans, &resp)
		switch {
		case err == nil:
			return
		case errors.Is(err, ErrNotHeld):
			log.Warn("remote: the hub refused the answer: the task is no longer this worker's", "err", err)
			return
		case ctx.Err() != nil:
			return
		}
		var he *HubError
		if errors.As(err, &he) && he.permanent() {
			log.Error("remote: the hub refused the answer", "err", err)
			return
		}
		log.Warn("remote: answer failed; retrying", "err", err, "in", w.o.RetryDelay)
		w.pause(ctx)
	}
}

// releaseTimeout bounds the request that gives a task back as the worker
// stops.
const releaseTimeout = 5 * time.Second

// giveBack releases t, interrupted by the worker's stop, so that the hub
// offers it again at once.
func (w *Worker) giveBack(ctx context.Context, t *wireTask, log *slog.Logger) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if _, err := w.call(rctx, "release", pathRelease, releaseRequest{Lease: t.Lease}, nil); err != nil && !errors.Is(err, ErrNotHeld) {
		log.Warn("remote: worker stopping; could not give the task back, the hub offers it again when its lease expires", "err", err)
	}
}

// answerOf is the answer of an attempt that returned out, err.
func answerOf(out []byte, err error) answerRequest {
	switch {
	case err == nil:
		if out == nil {
			out = []byte{}
		}
		return answerRequest{Result: out}
	case errors.Is(err, activity.ErrResultPending):
		return answerRequest{Pending: true}
	}
	f := &wireFailure{Type: activity.TypeOf(err), Message: err.Error(), NonRetryable: activity.IsNonRetryable(err)}
	var ae *activity.Error
	if errors.As(err, &ae) {
		f.Type, f.Message = ae.Type, ae.Message
	}
	if f.Message == "" {
		f.Message = f.Type
	}
	if f.Message == "" {
		f.Message = "activity failed"
	}
	return answerRequest{Failure: f}
}

// renew renews t's lease every third of its timeout, and at once when the
// activity heartbeats, until stop closes or ctx ends. It reports true when
// the hub says the task is no longer the worker's.
func (w *Worker) renew(ctx context.Context, t *wireTask, hb *relay, stop <-chan struct{}) bool {
	every := leaseTimeout(t) / 3
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		case <-tick.C:
		case <-hb.kick:
		}
		req := heartbeatRequest{Lease: t.Lease}
		req.Relay, req.Details = hb.take()
		_, err := w.call(ctx, "heartbeat", pathHeartbeat, req, nil)
		if errors.Is(err, ErrNotHeld) {
			return true
		}
		if err != nil && ctx.Err() == nil {
			w.o.Logger.Warn("remote: lease renewal failed; retrying at the next tick", "key", t.IdempotencyKey, "err", err)
		}
	}
}

// pause waits RetryDelay or until ctx ends.
func (w *Worker) pause(ctx context.Context) {
	tm := time.NewTimer(w.o.RetryDelay)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// call posts req to path and decodes a 200 answer into resp (when not
// nil). It returns the status, and a *HubError for an error answer.
func (w *Worker) call(ctx context.Context, op, path string, req, resp any) (int, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("remote: %s: encode the request: %w", op, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("remote: %s: %w", op, err)
	}
	hr.Header.Set("Authorization", w.auth)
	hr.Header.Set("Content-Type", "application/json")
	r, err := w.o.Client.Do(hr)
	if err != nil {
		return 0, fmt.Errorf("remote: %s: %w", op, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return r.StatusCode, fmt.Errorf("remote: %s: read the answer: %w", op, err)
	}
	switch {
	case r.StatusCode == http.StatusNoContent:
		return r.StatusCode, nil
	case r.StatusCode != http.StatusOK:
		he := &HubError{Op: op, Status: r.StatusCode, Message: strings.TrimSpace(string(b))}
		var eb errorBody
		if json.Unmarshal(b, &eb) == nil && eb.Code != "" {
			he.Code, he.Message = eb.Code, eb.Message
		}
		return r.StatusCode, he
	case resp != nil:
		if err := json.Unmarshal(b, resp); err != nil {
			return r.StatusCode, fmt.Errorf("remote: %s: malformed answer: %w", op, err)
		}
	}
	return r.StatusCode, nil
}

// relay is the heartbeater of a remote attempt: it keeps the latest
// details for the next renewal, and hands out the previous attempt's.
type relay struct {
	kick    chan struct{}
	prev    json.RawMessage
	mu      sync.Mutex
	pending bool
	details json.RawMessage
}

// RecordHeartbeat notes details (encoded as JSON) for the hub and asks
// for a renewal now.
func (r *relay) RecordHeartbeat(details any) {
	var b json.RawMessage
	if details != nil {
		var err error
		if b, err = json.Marshal(details); err != nil {
			b = nil
		}
	}
	r.mu.Lock()
	r.pending, r.details = true, b
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// PreviousDetails decodes the previous attempt's last details into v.
func (r *relay) PreviousDetails(v any) bool {
	return len(r.prev) > 0 && json.Unmarshal(r.prev, v) == nil
}

// take returns the heartbeat to relay, if any, and clears it.
func (r *relay) take() (bool, json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, d := r.pending, r.details
	r.pending, r.details = false, nil
	return p, d
}

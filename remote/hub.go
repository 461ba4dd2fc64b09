package remote

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// Defaults of [HubOptions].
const (
	// DefaultLeaseTimeout is how long a task stays a worker's without a
	// renewal.
	DefaultLeaseTimeout = 30 * time.Second
	// DefaultPollTimeout is how long a poll waits for a task.
	DefaultPollTimeout = 30 * time.Second
	// DefaultMaxRequestBytes caps a request's body (8 MiB: an encoded
	// payload of the engine's default limit, in base64, with room).
	DefaultMaxRequestBytes = 8 << 20
)

// Activity is an activity definition, as made by activity.New: the hub
// takes its name and options, a worker its function.
type Activity interface {
	Name() string
	Invoke(ctx context.Context, codec history.Codec, input []byte) ([]byte, error)
	Options() *activity.Options
}

// WorkerToken is a worker's credential and what it may serve.
type WorkerToken struct {
	// Name identifies the worker in logs and in its leases; not empty.
	Name string
	// Token is the bearer token the worker presents; at least 16 bytes.
	// Generate it at random (32 bytes from crypto/rand, in hex).
	Token string
	// Queues are the queues whose tasks the worker may take; at least one.
	Queues []string
}

// HubOptions configures a [Hub].
type HubOptions struct {
	// Activities run on workers. Each must have activity.Options.Queue
	// set (with WithOptions): the queue whose workers run it. The queue
	// should be declared in the engine's chorus.Options.Queues (a
	// Concurrency there bounds the tasks outstanding at workers). At least
	// one.
	Activities []Activity
	// Workers are the credentials the hub accepts. At least one.
	Workers []WorkerToken
	// LeaseTimeout is how long a task stays a worker's without a renewal;
	// workers renew every third of it. When it passes, the task is offered
	// again. Defaults to [DefaultLeaseTimeout].
	LeaseTimeout time.Duration
	// PollTimeout is how long a poll waits for a task before answering
	// that there is none. Defaults to [DefaultPollTimeout].
	PollTimeout time.Duration
	// MaxRequestBytes caps a request's body. Defaults to
	// [DefaultMaxRequestBytes].
	MaxRequestBytes int64
	// Clock times leases and polls. Defaults to the wall clock.
	Clock clock.Clock
	// Logger receives the hub's logs. Defaults to slog.Default().
	Logger *slog.Logger
}

func (o *HubOptions) withDefaults() HubOptions {
	var c HubOptions
	if o != nil {
		c = *o
	}
	if c.LeaseTimeout == 0 {
		c.LeaseTimeout = DefaultLeaseTimeout
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.Clock == nil {
		c.Clock = clock.New()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (o *HubOptions) validate() error {
	switch {
	case len(o.Activities) == 0:
		return errors.New("remote: HubOptions.Activities is empty")
	case len(o.Workers) == 0:
		return errors.New("remote: HubOptions.Workers is empty")
	case o.LeaseTimeout < 0:
		return fmt.Errorf("remote: HubOptions.LeaseTimeout is negative (%v)", o.LeaseTimeout)
	case o.PollTimeout < 0:
		return fmt.Errorf("remote: HubOptions.PollTimeout is negative (%v)", o.PollTimeout)
	case o.MaxRequestBytes < 0:
		return fmt.Errorf("remote: HubOptions.MaxRequestBytes is negative (%d)", o.MaxRequestBytes)
	}
	for i, a := range o.Activities {
		if a == nil {
			return fmt.Errorf("remote: HubOptions.Activities[%d] is nil", i)
		}
		if a.Options() == nil || a.Options().Queue == "" {
			return fmt.Errorf("remote: HubOptions.Activities[%d] (%q) has no queue: set activity.Options.Queue with WithOptions", i, a.Name())
		}
	}
	names, tokens := map[string]bool{}, map[string]bool{}
	for i, w := range o.Workers {
		where := fmt.Sprintf("remote: HubOptions.Workers[%d] (%q)", i, w.Name)
		switch {
		case w.Name == "":
			return fmt.Errorf("%s: Name is empty", where)
		case names[w.Name]:
			return fmt.Errorf("%s: the name is given twice", where)
		case len(w.Token) < 16:
			return fmt.Errorf("%s: Token is shorter than 16 bytes", where)
		case tokens[w.Token]:
			return fmt.Errorf("%s: the token is given to another worker too", where)
		case len(w.Queues) == 0:
			return fmt.Errorf("%s: Queues is empty", where)
		}
		names[w.Name], tokens[w.Token] = true, true
	}
	return nil
}

// Hub offers the tasks of remote activities to workers over HTTP. It is an
// [http.Handler]; create it with [NewHub].
type Hub struct {
	o       HubOptions
	creds   []credential
	queues  map[string]bool // queues some remote activity is bound to
	stopped chan struct{}

	mu       sync.Mutex
	closed   bool
	ready    map[string][]*task // by queue, oldest first
	leased   map[string]*task   // by lease
	waiters  []*waiter
	answered map[string]bool // leases answered, to acknowledge a repeated answer
	order    []answeredLease // answered, oldest first, to forget them

	mux *http.ServeMux
}

type credential struct {
	digest [sha256.Size]byte
	name   string
	queues map[string]bool
}

type answeredLease struct {
	lease string
	at    time.Time
}

// waiter is a poll waiting for a task.
type waiter struct {
	worker string
	queues []string
	acts   map[string]bool
	ch     chan wireTask // gets one task, leased to the worker
}

// NewHub registers in e a stand-in for each of opts.Activities, which
// offers the activity's tasks to workers instead of running them, and
// returns the handler workers talk to. Register the workflows in e as
// usual, but not these activities (the names would be registered twice).
// To shut down, close e first (answers that arrive during its grace are
// still taken), then the hub.
func NewHub(e *chorus.Engine, opts *HubOptions) (*Hub, error) {
	if e == nil {
		return nil, errors.New("remote: NewHub: nil engine")
	}
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	h := &Hub{o: o, queues: map[string]bool{}, stopped: make(chan struct{}), ready: map[string][]*task{},
		leased: map[string]*task{}, answered: map[string]bool{}}
	for _, w := range o.Workers {
		c := credential{digest: sha256.Sum256([]byte(w.Token)), name: w.Name, queues: map[string]bool{}}
		for _, q := range w.Queues {
			c.queues[q] = true
		}
		h.creds = append(h.creds, c)
	}
	defs := make([]chorus.Definition, 0, len(o.Activities))
	for _, a := range o.Activities {
		h.queues[a.Options().Queue] = true
		defs = append(defs, &stub{h: h, name: a.Name(), opts: a.Options()})
	}
	if err := e.Register(defs...); err != nil {
		return nil, fmt.Errorf("remote: NewHub: %w", err)
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("POST "+pathPoll, h.authed(h.poll))
	h.mux.HandleFunc("POST "+pathHeartbeat, h.authed(h.heartbeat))
	h.mux.HandleFunc("POST "+pathAnswer, h.authed(h.answer))
	h.mux.HandleFunc("POST "+pathRelease, h.authed(h.release))
	return h, nil
}

// ServeHTTP serves the workers' requests.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Close refuses the workers' requests from then on (503) and ends the
// polls waiting. Tasks outstanding stay with the engine: close the engine
// too, and its next hub offers them again.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.stopped)
	for _, t := range h.leased {
		t.stopTimer()
	}
}

// authed checks the bearer token and passes the worker's credential on.
func (h *Hub) authed(next func(http.ResponseWriter, *http.Request, *credential)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := h.credential(r)
		if c == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chorus"`)
			writeError(w, codeUnauthorized, "unknown or missing bearer token")
			return
		}
		h.mu.Lock()
		closed := h.closed
		h.mu.Unlock()
		if closed {
			writeError(w, codeClosed, "the hub is closed")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.o.MaxRequestBytes)
		next(w, r, c)
	}
}

// credential returns the credential of r's bearer token, or nil. Every
// credential is compared, in constant time, whatever matches.
func (h *Hub) credential(r *http.Request) *credential {
	const prefix = "Bearer "
	a := r.Header.Get("Authorization")
	if len(a) <= len(prefix) || a[:len(prefix)] != prefix {
		return nil
	}
	d := sha256.Sum256([]byte(a[len(prefix):]))
	var found *credential
	for i := range h.creds {
		if subtle.ConstantTimeCompare(d[:], h.creds[i].digest[:]) == 1 {
			found = &h.creds[i]
		}
	}
	return found
}

func (h *Hub) poll(w http.ResponseWriter, r *http.Request, c *credential) {
	var req pollRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.Queues) == 0 || len(req.Activities) == 0 {
		writeError(w, codeBadRequest, "a poll names at least one queue and one activity")
		return
	}
	for _, q := range req.Queues {
		if !c.queues[q] {
			writeError(w, codeForbidden, fmt.Sprintf("worker %q may not serve queue %q", c.name, q))
			return
		}
		if !h.queues[q] {
			writeError(w, codeUnknownQueue, fmt.Sprintf("no remote activity of the hub is bound to queue %q", q))
			return
		}
	}
	wt := &waiter{worker: c.name, queues: req.Queues, acts: map[string]bool{}, ch: make(chan wireTask, 1)}
	for _, a := range req.Activities {
		wt.acts[a] = true
	}
	t, ok := h.take(wt)
	if !ok {
		timer := h.o.Clock.Timer(h.o.PollTimeout)
		select {
		case t, ok = <-wt.ch:
		case <-r.Context().Done():
		case <-timer.C:
		case <-h.stopped:
		}
		timer.Stop()
		if !ok {
			t, ok = h.forget(wt)
		}
	}
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Context().Err() != nil {
		// The worker left as the task reached it: offer it again.
		h.requeue(t.Lease)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (h *Hub) heartbeat(w http.ResponseWriter, r *http.Request, c *credential) {
	var req heartbeatRequest
	if !decode(w, r, &req) {
		return
	}
	h.mu.Lock()
	t := h.leased[req.Lease]
	if t == nil || t.worker != c.name {
		h.mu.Unlock()
		writeError(w, codeNotHeld, fmt.Sprintf("worker %q holds no task under lease %q", c.name, req.Lease))
		return
	}
	t.armLease(h, req.Lease)
	if req.Relay {
		t.beat(req.Details)
	}
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, struct{}{})
}

func (h *Hub) answer(w http.ResponseWriter, r *http.Request, c *credential) {
	var req answerRequest
	if !decode(w, r, &req) {
		return
	}
	if n := btoi(req.Result != nil) + btoi(req.Failure != nil) + btoi(req.Pending); n != 1 {
		writeError(w, codeBadRequest, "an answer has exactly one of result, failure and pending")
		return
	}
	if req.Failure != nil && req.Failure.Message == "" {
		writeError(w, codeBadRequest, "a failure has a message")
		return
	}
	h.mu.Lock()
	if h.answered[req.Lease] {
		h.mu.Unlock()
		writeJSON(w, http.StatusOK, answerResponse{Duplicate: true})
		return
	}
	t := h.leased[req.Lease]
	if t == nil || t.worker != c.name {
		h.mu.Unlock()
		writeError(w, codeNotHeld, fmt.Sprintf("worker %q holds no task under lease %q", c.name, req.Lease))
		return
	}
	delete(h.leased, req.Lease)
	t.stopTimer()
	t.done = true
	h.rememberLocked(req.Lease)
	t.answer <- req // buffered; sent once, as the task is done
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, answerResponse{})
}

func (h *Hub) release(w http.ResponseWriter, r *http.Request, c *credential) {
	var req releaseRequest
	if !decode(w, r, &req) {
		return
	}
	h.mu.Lock()
	t := h.leased[req.Lease]
	held := t != nil && t.worker == c.name && h.requeueLocked(req.Lease)
	h.mu.Unlock()
	if !held {
		writeError(w, codeNotHeld, fmt.Sprintf("worker %q holds no task under lease %q", c.name, req.Lease))
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// rememberLocked notes that lease was answered, and forgets the leases
// answered more than ten lease timeouts ago.
func (h *Hub) rememberLocked(lease string) {
	now := h.o.Clock.Now()
	h.answered[lease] = true
	h.order = append(h.order, answeredLease{lease, now})
	i := 0
	for i < len(h.order) && now.Sub(h.order[i].at) > 10*h.o.LeaseTimeout {
		delete(h.answered, h.order[i].lease)
		i++
	}
	h.order = h.order[i:]
}

// offer makes t available to workers: to a waiting poll, or in its queue.
func (h *Hub) offer(t *task) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.offerLocked(t, false)
}

func (h *Hub) offerLocked(t *task, front bool) {
	for i, wt := range h.waiters {
		if wt.acts[t.w.Activity] && slices.Contains(wt.queues, t.w.Queue) {
			h.waiters = slices.Delete(h.waiters, i, i+1)
			wt.ch <- h.leaseLocked(t, wt.worker)
			return
		}
	}
	q := h.ready[t.w.Queue]
	if front {
		q = slices.Insert(q, 0, t)
	} else {
		q = append(q, t)
	}
	h.ready[t.w.Queue] = q
}

// take leases to wt the oldest ready task it can run, or registers wt as
// waiting and returns false.
func (h *Hub) take(wt *waiter) (wireTask, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var best *task
	for _, q := range wt.queues {
		for _, t := range h.ready[q] {
			if wt.acts[t.w.Activity] {
				if best == nil || t.offered.Before(best.offered) {
					best = t
				}
				break
			}
		}
	}
	if best == nil {
		if !h.closed {
			h.waiters = append(h.waiters, wt)
		}
		return wireTask{}, false
	}
	h.removeReadyLocked(best)
	return h.leaseLocked(best, wt.worker), true
}

// forget removes a waiter that stopped waiting; it returns the task handed
// to it meanwhile, if any.
func (h *Hub) forget(wt *waiter) (wireTask, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.waiters, wt); i >= 0 {
		h.waiters = slices.Delete(h.waiters, i, i+1)
		return wireTask{}, false
	}
	select {
	case t := <-wt.ch:
		return t, true
	default:
		return wireTask{}, false
	}
}

// leaseLocked leases t to worker and returns it as the worker gets it.
func (h *Hub) leaseLocked(t *task, worker string) wireTask {
	var b [16]byte
	_, _ = rand.Read(b[:])
	lease := hex.EncodeToString(b[:])
	t.lease, t.worker = lease, worker
	h.leased[lease] = t
	t.armLease(h, lease)
	return t.wire(h.o.LeaseTimeout)
}

// requeue offers the task of lease again, if the lease still holds it.
func (h *Hub) requeue(lease string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requeueLocked(lease)
}

func (h *Hub) requeueLocked(lease string) bool {
	t := h.leased[lease]
	if t == nil || t.done {
		return false
	}
	delete(h.leased, lease)
	t.stopTimer()
	t.lease, t.worker = "", ""
	if !h.closed {
		h.offerLocked(t, true)
	}
	return true
}

// expire is called when lease's time is up. A renewal that took the lock
// first re-armed the lease with a new timer, and this one finds the timer
// replaced.
func (h *Hub) expire(t *task, lease string, tm **clock.Timer) {
	h.mu.Lock()
	worker := t.worker
	expired := t.timer == *tm && h.requeueLocked(lease)
	h.mu.Unlock()
	if expired {
		h.o.Logger.Warn("remote: a worker's lease expired; the task is offered again",
			"worker", worker, "activity", t.w.Activity, "key", t.w.IdempotencyKey, "queue", t.w.Queue)
	}
}

// withdraw takes t back from workers: its attempt ended on the hub's side
// (canceled, timed out, or the engine is closing).
func (h *Hub) withdraw(t *task) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	if t.lease != "" {
		delete(h.leased, t.lease)
		t.stopTimer()
		return
	}
	h.removeReadyLocked(t)
}

func (h *Hub) removeReadyLocked(t *task) {
	q := h.ready[t.w.Queue]
	if i := slices.Index(q, t); i >= 0 {
		h.ready[t.w.Queue] = slices.Delete(q, i, i+1)
	}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeError(w, codeBadRequest, fmt.Sprintf("the body is over %d bytes", mb.Limit))
			return false
		}
		writeError(w, codeBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, codeBadRequest, "malformed JSON body: data after the object")
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, code, msg string) {
	writeJSON(w, codeStatus[code], errorBody{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "remote: encode the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cschleiden/go-workflows/backend"
	gwhistory "github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/backend/monoprocess"
	gwsqlite "github.com/cschleiden/go-workflows/backend/sqlite"
	"github.com/cschleiden/go-workflows/client"
	"github.com/cschleiden/go-workflows/worker"
	gw "github.com/cschleiden/go-workflows/workflow"
)

// The go-workflows side, written from its public API (client, worker,
// workflow, backend/sqlite, backend/monoprocess).

func gwStep(ctx context.Context, n int) (int, error) { return n + 1, nil }

func gwThree(ctx gw.Context, n int) (int, error) {
	for range 3 {
		var err error
		if n, err = gw.ExecuteActivity[int](ctx, gw.DefaultActivityOptions, gwStep, n).Get(ctx); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func gwFan(ctx gw.Context, n int) (int, error) {
	fs := make([]gw.Future[int], n)
	for i := range fs {
		fs[i] = gw.ExecuteActivity[int](ctx, gw.DefaultActivityOptions, gwStep, i)
	}
	sum := 0
	for _, f := range fs {
		v, err := f.Get(ctx)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

func gwParked(ctx gw.Context, n int) (int, error) {
	v, _ := gw.NewSignalChannel[int](ctx, "wake").Receive(ctx)
	return n + v, nil
}

func gwHistory(ctx gw.Context, n int) (int, error) {
	done := 0
	for done < n {
		k := min(historyWave, n-done)
		fs := make([]gw.Future[int], k)
		for i := range fs {
			fs[i] = gw.ExecuteActivity[int](ctx, gw.DefaultActivityOptions, gwStep, done+i)
		}
		for _, f := range fs {
			if _, err := f.Get(ctx); err != nil {
				return 0, err
			}
		}
		done += k
	}
	v, _ := gw.NewSignalChannel[int](ctx, "wake").Receive(ctx)
	return done + v, nil
}

type gowDriver struct {
	mono bool

	raw    interface{ Close() error }
	be     backend.Backend
	c      *client.Client
	w      *worker.Worker
	cancel context.CancelFunc

	path      string
	mu        sync.Mutex
	instances map[string]*gw.Instance
}

// A go-workflows run is addressed by instance and execution ID; the
// execution IDs of the runs that a later process wakes (W5) are kept in a
// file beside the database.
func (d *gowDriver) saveInstance(inst *gw.Instance) error {
	b, err := json.Marshal(inst)
	if err != nil {
		return err
	}
	return os.WriteFile(d.path+".meta", b, 0o644)
}

func (d *gowDriver) loadInstance() {
	b, err := os.ReadFile(d.path + ".meta")
	if err != nil {
		return
	}
	var inst gw.Instance
	if json.Unmarshal(b, &inst) == nil {
		d.instances[inst.InstanceID] = &inst
	}
}

func (d *gowDriver) Open(ctx context.Context, path string) error {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// NewSqliteBackend opens "file:"+path with modernc.org/sqlite and sets
	// WAL itself; synchronous is made explicit here (FULL is also SQLite's
	// default) so that every engine commits with the same durability.
	b := gwsqlite.NewSqliteBackend(path+"?_pragma=synchronous(FULL)",
		gwsqlite.WithBackendOptions(backend.WithLogger(logger), backend.WithMaxHistorySize(1<<30)))
	d.raw = b
	d.be = b
	if d.mono {
		d.be = monoprocess.NewMonoprocessBackend(b)
	}
	d.w = worker.New(d.be, nil)
	for _, wf := range []any{gwThree, gwFan, gwParked, gwHistory, gwPayload} {
		if err := d.w.RegisterWorkflow(wf); err != nil {
			return err
		}
	}
	for _, a := range []any{gwStep, gwPayloadStep} {
		if err := d.w.RegisterActivity(a); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if err := d.w.Start(wctx); err != nil {
		cancel()
		return err
	}
	d.c = client.New(d.be)
	d.path = path
	d.instances = map[string]*gw.Instance{}
	d.loadInstance()
	return nil
}

func (d *gowDriver) Close(ctx context.Context) error {
	d.cancel()
	err := d.w.WaitForCompletion()
	if cerr := d.raw.Close(); err == nil {
		err = cerr
	}
	return err
}

func (d *gowDriver) Abandon() {}

func (d *gowDriver) start(ctx context.Context, id string, wf any, in any) (*gw.Instance, error) {
	inst, err := d.c.CreateWorkflowInstance(ctx, client.WorkflowInstanceOptions{InstanceID: id}, wf, in)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.instances[id] = inst
	d.mu.Unlock()
	return inst, nil
}

func (d *gowDriver) instance(id string) *gw.Instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	if inst, ok := d.instances[id]; ok {
		return inst
	}
	return &gw.Instance{InstanceID: id}
}

// resultTimeout bounds GetWorkflowResult, which polls the database with
// an exponential backoff (1 ms, x1.5, up to 1 s).
const resultTimeout = 10 * time.Minute

func (d *gowDriver) StartThree(ctx context.Context, id string, n int) (func() error, error) {
	inst, err := d.start(ctx, id, gwThree, n)
	if err != nil {
		return nil, err
	}
	return func() error {
		got, err := client.GetWorkflowResult[int](ctx, d.c, inst, resultTimeout)
		if err == nil && got != n+3 {
			err = fmt.Errorf("run %s: result %d, want %d", id, got, n+3)
		}
		return err
	}, nil
}

func (d *gowDriver) FanOut(ctx context.Context, id string, n int) error {
	inst, err := d.start(ctx, id, gwFan, n)
	if err != nil {
		return err
	}
	got, err := client.GetWorkflowResult[int](ctx, d.c, inst, resultTimeout)
	if err == nil && got != n*(n+1)/2 {
		err = fmt.Errorf("fan-out %s: result %d, want %d", id, got, n*(n+1)/2)
	}
	return err
}

func (d *gowDriver) StartParked(ctx context.Context, id string) error {
	_, err := d.start(ctx, id, gwParked, 1)
	return err
}

// WaitParked waits until no workflow task is pending: every started run
// then has executed up to its signal wait and committed that.
func (d *gowDriver) WaitParked(ctx context.Context, n int, deadline time.Time) (int, error) {
	for {
		s, err := d.be.GetStats(ctx)
		if err != nil {
			return 0, err
		}
		pending := 0
		for _, v := range s.PendingWorkflowTasks {
			pending += int(v)
		}
		if pending == 0 || time.Now().After(deadline) {
			return max(n-pending, 0), nil
		}
		if err := sleepCtx(ctx, 20*pollEvery); err != nil {
			return 0, err
		}
	}
}

func (d *gowDriver) Wake(ctx context.Context, id string) error {
	if err := d.c.SignalWorkflow(ctx, id, "wake", 1); err != nil {
		return err
	}
	_, err := client.GetWorkflowResult[int](ctx, d.c, d.instance(id), resultTimeout)
	return err
}

func (d *gowDriver) WakeHistory(ctx context.Context, id string) error { return d.Wake(ctx, id) }

func (d *gowDriver) BuildHistory(ctx context.Context, id string, activities int) (int, error) {
	inst, err := d.start(ctx, id, gwHistory, activities)
	if err != nil {
		return 0, err
	}
	if err := d.saveInstance(inst); err != nil {
		return 0, err
	}
	for {
		h, err := d.be.GetWorkflowInstanceHistory(ctx, inst, nil)
		if err != nil {
			return 0, err
		}
		completed := 0
		for _, e := range h {
			if e.Type == gwhistory.EventType_ActivityCompleted {
				completed++
			}
		}
		if completed >= activities {
			if _, err := d.WaitParked(ctx, 1, time.Now().Add(time.Minute)); err != nil {
				return 0, err
			}
			h, err = d.be.GetWorkflowInstanceHistory(ctx, inst, nil)
			return len(h), err
		}
		if err := sleepCtx(ctx, 20*pollEvery); err != nil {
			return 0, err
		}
	}
}

func (d *gowDriver) Query(ctx context.Context, id string) error { return errNA }

func (d *gowDriver) ReplayExport(ctx context.Context, id string) (time.Duration, error) {
	return 0, errNA
}

// W7's workflow on go-workflows.
func gwPayloadStep(ctx context.Context, in []byte) ([]byte, error) { return payloadStep(in), nil }

func gwPayload(ctx gw.Context, in []byte) ([]byte, error) {
	for range 3 {
		var err error
		if in, err = gw.ExecuteActivity[[]byte](ctx, gw.DefaultActivityOptions, gwPayloadStep, in).Get(ctx); err != nil {
			return nil, err
		}
	}
	sig, _ := gw.NewSignalChannel[[]byte](ctx, "data").Receive(ctx)
	out := append([]byte(nil), in...)
	if len(out) > 0 {
		out[0] += byte(len(sig))
	}
	return out, nil
}

func (d *gowDriver) StartPayload(ctx context.Context, id string, in []byte) (func() ([]byte, error), error) {
	inst, err := d.start(ctx, id, gwPayload, in)
	if err != nil {
		return nil, err
	}
	return func() ([]byte, error) {
		return client.GetWorkflowResult[[]byte](ctx, d.c, inst, resultTimeout)
	}, nil
}

func (d *gowDriver) SignalPayload(ctx context.Context, id string, data []byte) error {
	return d.c.SignalWorkflow(ctx, id, "data", data)
}

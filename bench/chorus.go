package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// The Chorus side of the benchmark, through the public API only.
var (
	cStep = activity.New("bench-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })

	cThree = workflow.New("bench-three", func(ctx workflow.Context, n int) (int, error) {
		for range 3 {
			var err error
			if n, err = workflow.ExecuteActivity(ctx, cStep, n).Get(ctx); err != nil {
				return 0, err
			}
		}
		return n, nil
	})

	cFan = workflow.New("bench-fanout", func(ctx workflow.Context, n int) (int, error) {
		fs := make([]workflow.Future[int], n)
		for i := range fs {
			fs[i] = workflow.ExecuteActivity(ctx, cStep, i)
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
	})

	cWake = workflow.NewSignal[int]("wake")

	cParked = workflow.New("bench-parked", func(ctx workflow.Context, n int) (int, error) {
		v, _ := workflow.GetSignalChannel(ctx, cWake).Receive(ctx)
		return n + v, nil
	})

	cProgress = workflow.NewQuery[struct{}, int]("progress")

	cHistory = workflow.New("bench-history", func(ctx workflow.Context, n int) (int, error) {
		done := 0
		workflow.SetQueryHandler(ctx, cProgress, func(struct{}) (int, error) { return done, nil })
		for done < n {
			k := min(historyWave, n-done)
			fs := make([]workflow.Future[int], k)
			for i := range fs {
				fs[i] = workflow.ExecuteActivity(ctx, cStep, done+i)
			}
			for _, f := range fs {
				if _, err := f.Get(ctx); err != nil {
					return 0, err
				}
			}
			done += k
		}
		v, _ := workflow.GetSignalChannel(ctx, cWake).Receive(ctx)
		return done + v, nil
	})
)

// historyWave is how many activities the history-building workflow runs at
// once, on every engine.
const historyWave = 100

type chorusDriver struct {
	normal bool
	pg     bool     // on PostgreSQL: path is ignored, the database is fresh
	db     *freshDB // the database of pg
	eng    *chorus.Engine
}

func (d *chorusDriver) Open(ctx context.Context, path string) error {
	o := &chorus.Options{Synchronous: sqlite.SynchronousFull}
	if d.normal {
		o.Synchronous = sqlite.SynchronousNormal
	}
	var eng *chorus.Engine
	var err error
	if d.pg {
		eng, err = d.openPG(ctx, o)
	} else {
		eng, err = chorus.Open(ctx, path, o)
	}
	if err != nil {
		return err
	}
	if err := eng.Register(cThree, cFan, cParked, cHistory, cPayload, cStep, cPayloadStep); err != nil {
		_ = eng.Close(ctx)
		return err
	}
	d.eng = eng
	return nil
}

// openPG opens an engine on the PostgreSQL store, in a new database.
func (d *chorusDriver) openPG(ctx context.Context, o *chorus.Options) (*chorus.Engine, error) {
	db, err := createFreshDB(ctx)
	if err != nil {
		return nil, err
	}
	d.db = db
	st, err := postgres.Open(ctx, db.URL, nil)
	if err != nil {
		return nil, errors.Join(err, db.drop(ctx))
	}
	eng, err := chorus.OpenStore(ctx, st, o)
	if err != nil {
		return nil, errors.Join(err, st.Close(), db.drop(ctx))
	}
	return eng, nil
}

func (d *chorusDriver) Close(ctx context.Context) error {
	return errors.Join(d.eng.Close(ctx), d.db.drop(ctx))
}

func (d *chorusDriver) Abandon() {}

func (d *chorusDriver) StartThree(ctx context.Context, id string, n int) (func() error, error) {
	run, err := chorus.Start(ctx, d.eng, cThree, n, &chorus.StartOptions{ID: id})
	if err != nil {
		return nil, err
	}
	return func() error {
		got, err := run.Result(ctx)
		if err == nil && got != n+3 {
			err = fmt.Errorf("run %s: result %d, want %d", id, got, n+3)
		}
		return err
	}, nil
}

func (d *chorusDriver) FanOut(ctx context.Context, id string, n int) error {
	run, err := chorus.Start(ctx, d.eng, cFan, n, &chorus.StartOptions{ID: id})
	if err != nil {
		return err
	}
	got, err := run.Result(ctx)
	if err == nil && got != n*(n+1)/2 {
		err = fmt.Errorf("fan-out %s: result %d, want %d", id, got, n*(n+1)/2)
	}
	return err
}

// StartParked returns once the run is journaled and waits for its signal:
// chorus.Start executes a run up to its first wait before it returns.
func (d *chorusDriver) StartParked(ctx context.Context, id string) error {
	_, err := chorus.Start(ctx, d.eng, cParked, 1, &chorus.StartOptions{ID: id})
	return err
}

func (d *chorusDriver) WaitParked(ctx context.Context, n int, deadline time.Time) (int, error) {
	return n, nil
}

func (d *chorusDriver) Wake(ctx context.Context, id string) error {
	if err := chorus.Signal(ctx, d.eng, id, cWake, 1); err != nil {
		return err
	}
	// By ID, as a handler that receives the ID (a webhook) would: the
	// handle costs no memory while the run is parked, and one read here.
	run, err := chorus.Lookup(ctx, d.eng, cParked, id)
	if err != nil {
		return err
	}
	_, err = run.Result(ctx)
	return err
}

func (d *chorusDriver) WakeHistory(ctx context.Context, id string) error {
	if err := chorus.Signal(ctx, d.eng, id, cWake, 1); err != nil {
		return err
	}
	run, err := chorus.Lookup(ctx, d.eng, cHistory, id)
	if err != nil {
		return err
	}
	_, err = run.Result(ctx)
	return err
}

func (d *chorusDriver) BuildHistory(ctx context.Context, id string, activities int) (int, error) {
	run, err := chorus.Start(ctx, d.eng, cHistory, activities, &chorus.StartOptions{ID: id})
	if err != nil {
		return 0, err
	}
	for {
		done, err := chorus.Query(ctx, d.eng, id, cProgress, struct{}{})
		if err != nil {
			return 0, err
		}
		if done >= activities {
			break
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return 0, err
		}
	}
	// The last wave's completions are journaled with the step that reached
	// the signal wait; wait until that step is durable.
	for {
		h, err := chorus.History(ctx, d.eng, run.ID())
		if err != nil {
			return 0, err
		}
		if len(h.Events) >= 2*activities+1 {
			return len(h.Events), nil
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return 0, err
		}
	}
}

func (d *chorusDriver) Query(ctx context.Context, id string) error {
	_, err := chorus.Query(ctx, d.eng, id, cProgress, struct{}{})
	return err
}

func (d *chorusDriver) ReplayExport(ctx context.Context, id string) (time.Duration, error) {
	h, err := chorus.History(ctx, d.eng, id)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	err = replay.Run(ctx, h, cHistory, cStep)
	return time.Since(t0), err
}

// W7's workflow: three activities and a signal, each carrying the payload.
var (
	cPayloadStep = activity.New("bench-payload-step", func(ctx context.Context, in []byte) ([]byte, error) {
		return payloadStep(in), nil
	})

	cData = workflow.NewSignal[[]byte]("data")

	cPayload = workflow.New("bench-payload", func(ctx workflow.Context, in []byte) ([]byte, error) {
		for range 3 {
			var err error
			if in, err = workflow.ExecuteActivity(ctx, cPayloadStep, in).Get(ctx); err != nil {
				return nil, err
			}
		}
		sig, _ := workflow.GetSignalChannel(ctx, cData).Receive(ctx)
		out := append([]byte(nil), in...)
		if len(out) > 0 {
			out[0] += byte(len(sig))
		}
		return out, nil
	})
)

func (d *chorusDriver) StartPayload(ctx context.Context, id string, in []byte) (func() ([]byte, error), error) {
	run, err := chorus.Start(ctx, d.eng, cPayload, in, &chorus.StartOptions{ID: id})
	if err != nil {
		return nil, err
	}
	return func() ([]byte, error) { return run.Result(ctx) }, nil
}

func (d *chorusDriver) SignalPayload(ctx context.Context, id string, data []byte) error {
	return chorus.Signal(ctx, d.eng, id, cData, data)
}

package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	_ "github.com/dbos-inc/dbos-transact-golang/dbos/driver/sqlite" // SQLite system database support
)

// The DBOS Transact side, written from its public API (dbos package and
// its SQLite driver package). A DBOS "step" plays the part of an activity;
// Send/Recv play the part of a signal.

func dStep(n int) dbos.Step[int] {
	return func(ctx context.Context) (int, error) { return n + 1, nil }
}

func dThree(ctx dbos.Context, n int) (int, error) {
	for range 3 {
		var err error
		if n, err = dbos.RunAsStep(ctx, dStep(n)); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func dFan(ctx dbos.Context, n int) (int, error) {
	chs := make([]<-chan dbos.StepOutcome[int], n)
	for i := range chs {
		ch, err := dbos.Go(ctx, dStep(i))
		if err != nil {
			return 0, err
		}
		chs[i] = ch
	}
	sum := 0
	for _, ch := range chs {
		o := <-ch
		if o.Err != nil {
			return 0, o.Err
		}
		sum += o.Result
	}
	return sum, nil
}

// dParkedCount counts the parked runs of this process that reached Recv.
var dParkedCount atomic.Int64

// dbosRecvTimeout is how long a parked run waits; longer than any benchmark.
const dbosRecvTimeout = 24 * time.Hour

func dParked(ctx dbos.Context, n int) (int, error) {
	dParkedCount.Add(1)
	v, err := dbos.Recv[int](ctx, "wake", dbosRecvTimeout)
	if err != nil {
		return 0, err
	}
	return n + v, nil
}

// dHistoryDone counts the activities (steps) the history run completed in
// this process.
var dHistoryDone atomic.Int64

func dHistory(ctx dbos.Context, n int) (int, error) {
	done := 0
	for done < n {
		k := min(historyWave, n-done)
		chs := make([]<-chan dbos.StepOutcome[int], k)
		for i := range chs {
			ch, err := dbos.Go(ctx, dStep(done+i))
			if err != nil {
				return 0, err
			}
			chs[i] = ch
		}
		for _, ch := range chs {
			if o := <-ch; o.Err != nil {
				return 0, o.Err
			}
		}
		done += k
		dHistoryDone.Store(int64(done))
	}
	dParkedCount.Add(1)
	v, err := dbos.Recv[int](ctx, "wake", dbosRecvTimeout)
	if err != nil {
		return 0, err
	}
	return done + v, nil
}

type dbosDriver struct {
	full bool
	pg   bool     // on PostgreSQL: path is ignored, the database is fresh
	pgdb *freshDB // the database of pg

	ctx dbos.Context
	db  *sql.DB

	mu      sync.Mutex
	handles map[string]dbos.WorkflowHandle[int]
}

func (d *dbosDriver) Open(ctx context.Context, path string) error {
	cfg := dbos.Config{
		AppName:            "chorus-bench",
		ApplicationVersion: "bench-1",
		ExecutorID:         "bench",
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if d.pg {
		db, err := createFreshDB(ctx)
		if err != nil {
			return err
		}
		d.pgdb = db
		cfg.DatabaseURL = db.URL
	} else if d.full {
		// A handle of our own, opened as DBOS opens its own (same DSN
		// parameters and pool limits) but with synchronous=FULL: DBOS's
		// own opener forces NORMAL on the first connection.
		dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)" +
			"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(4)
		db.SetConnMaxLifetime(time.Hour)
		var sync int
		if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			return err
		}
		if sync != 2 {
			return fmt.Errorf("dbos FULL handle: PRAGMA synchronous is %d, want 2 (FULL)", sync)
		}
		d.db = db
		cfg.SQLiteSystemDB = db
	} else {
		cfg.DatabaseURL = "sqlite:" + path
	}
	dctx, err := dbos.NewContext(ctx, cfg)
	if err != nil {
		return err
	}
	dbos.RegisterWorkflow(dctx, dThree)
	dbos.RegisterWorkflow(dctx, dFan)
	dbos.RegisterWorkflow(dctx, dParked)
	dbos.RegisterWorkflow(dctx, dHistory)
	dbos.RegisterWorkflow(dctx, dPayload)
	if err := dbos.Launch(dctx); err != nil {
		return err
	}
	d.ctx = dctx
	d.handles = map[string]dbos.WorkflowHandle[int]{}
	return nil
}

func (d *dbosDriver) Close(ctx context.Context) error {
	err := dbos.Shutdown(d.ctx, 30*time.Second)
	if d.db != nil {
		if cerr := d.db.Close(); err == nil {
			err = cerr
		}
	}
	if derr := d.pgdb.drop(ctx); err == nil {
		err = derr
	}
	return err
}

// Abandon leaves DBOS running until the process exits: shutting it down
// would cancel the parked runs' contexts, so the setup processes of W5 and
// W6 end as a killed process would, with every run PENDING in the file.
func (d *dbosDriver) Abandon() {}

func (d *dbosDriver) StartThree(ctx context.Context, id string, n int) (func() error, error) {
	h, err := dbos.RunWorkflow(d.ctx, dThree, n, dbos.WithWorkflowID(id))
	if err != nil {
		return nil, err
	}
	return func() error {
		got, err := h.GetResult()
		if err == nil && got != n+3 {
			err = fmt.Errorf("run %s: result %d, want %d", id, got, n+3)
		}
		return err
	}, nil
}

func (d *dbosDriver) FanOut(ctx context.Context, id string, n int) error {
	h, err := dbos.RunWorkflow(d.ctx, dFan, n, dbos.WithWorkflowID(id))
	if err != nil {
		return err
	}
	got, err := h.GetResult()
	if err == nil && got != n*(n+1)/2 {
		err = fmt.Errorf("fan-out %s: result %d, want %d", id, got, n*(n+1)/2)
	}
	return err
}

func (d *dbosDriver) StartParked(ctx context.Context, id string) error {
	h, err := dbos.RunWorkflow(d.ctx, dParked, 1, dbos.WithWorkflowID(id))
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.handles[id] = h
	d.mu.Unlock()
	return nil
}

// WaitParked waits until n runs of this process called Recv. (RunWorkflow
// returned once each run's status row was committed.)
func (d *dbosDriver) WaitParked(ctx context.Context, n int, deadline time.Time) (int, error) {
	for dParkedCount.Load() < int64(n) && time.Now().Before(deadline) {
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return 0, err
		}
	}
	return int(min(dParkedCount.Load(), int64(n))), nil
}

func (d *dbosDriver) handle(id string) (dbos.WorkflowHandle[int], error) {
	d.mu.Lock()
	h, ok := d.handles[id]
	d.mu.Unlock()
	if ok {
		return h, nil
	}
	return dbos.RetrieveWorkflow[int](d.ctx, id)
}

func (d *dbosDriver) Wake(ctx context.Context, id string) error {
	if err := dbos.Send(d.ctx, id, 1, "wake"); err != nil {
		return err
	}
	h, err := d.handle(id)
	if err != nil {
		return err
	}
	// A handle from RetrieveWorkflow polls the database (every second by
	// default); poll every millisecond instead.
	_, err = h.GetResult(dbos.WithHandlePollingInterval(time.Millisecond))
	return err
}

func (d *dbosDriver) WakeHistory(ctx context.Context, id string) error { return d.Wake(ctx, id) }

func (d *dbosDriver) BuildHistory(ctx context.Context, id string, activities int) (int, error) {
	h, err := dbos.RunWorkflow(d.ctx, dHistory, activities, dbos.WithWorkflowID(id))
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.handles[id] = h
	d.mu.Unlock()
	if n, err := d.WaitParked(ctx, 1, time.Now().Add(time.Minute)); err != nil || n < 1 {
		return 0, fmt.Errorf("the history run did not reach Recv: %v", err)
	}
	steps, err := dbos.GetWorkflowSteps(d.ctx, id)
	if err != nil {
		return 0, err
	}
	return len(steps), nil
}

func (d *dbosDriver) Query(ctx context.Context, id string) error { return errNA }

func (d *dbosDriver) ReplayExport(ctx context.Context, id string) (time.Duration, error) {
	return 0, errNA
}

// W7's workflow on DBOS: steps carry the payload, Send/Recv the signal.
func dPayload(ctx dbos.Context, in []byte) ([]byte, error) {
	for range 3 {
		cur := in
		var err error
		if in, err = dbos.RunAsStep(ctx, func(context.Context) ([]byte, error) { return payloadStep(cur), nil }); err != nil {
			return nil, err
		}
	}
	sig, err := dbos.Recv[[]byte](ctx, "data", dbosRecvTimeout)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), in...)
	if len(out) > 0 {
		out[0] += byte(len(sig))
	}
	return out, nil
}

func (d *dbosDriver) StartPayload(ctx context.Context, id string, in []byte) (func() ([]byte, error), error) {
	h, err := dbos.RunWorkflow(d.ctx, dPayload, in, dbos.WithWorkflowID(id))
	if err != nil {
		return nil, err
	}
	return func() ([]byte, error) { return h.GetResult() }, nil
}

func (d *dbosDriver) SignalPayload(ctx context.Context, id string, data []byte) error {
	return dbos.Send(d.ctx, id, data, "data")
}

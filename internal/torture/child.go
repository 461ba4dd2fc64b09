package torture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/faultstore"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
)

// The environment of a child process.
const (
	EnvDB       = "CHORUS_TORTURE_DB"       // database path
	EnvCounter  = "CHORUS_TORTURE_COUNTER"  // execution counter file
	EnvGen      = "CHORUS_TORTURE_GEN"      // this process's generation: 1, 2, ...
	EnvUpTo     = "CHORUS_TORTURE_UPTO"     // start runs 0 .. UPTO-1
	EnvSkip     = "CHORUS_TORTURE_SKIP"     // file of ended run IDs to leave alone
	EnvStarters = "CHORUS_TORTURE_STARTERS" // goroutines starting runs
	EnvWorkers  = "CHORUS_TORTURE_WORKERS"  // Options.MaxConcurrentActivities
	EnvSeed     = "CHORUS_TORTURE_SEED"     // seeds the activities' tiny pauses
	EnvExclude  = "CHORUS_TORTURE_EXCLUDE"  // kinds of run to leave out, comma-separated
	EnvFaults   = "CHORUS_TORTURE_FAULTS"   // "1": the store injects faults (internal/faultstore); "final": a few, then none
	EnvSync     = "CHORUS_TORTURE_SYNC"     // the store's synchronous setting (FULL or NORMAL); empty: the default
)

// childRates are the faults a child's store injects with EnvFaults.
var childRates = faultstore.Rates{CommitError: 0.01, BatchError: 0.02, CommitUnknown: 0.01, CommitLost: 0.01, CommitPanic: 0.005, Read: 0.02}

// isInjected reports an error a fault of the store explains. (A store
// panic reaches callers as an error quoting the panic value.)
func isInjected(err error) bool {
	return err != nil && (errors.Is(err, faultstore.ErrInjected) || strings.Contains(err.Error(), faultstore.ErrInjected.Error()))
}

// retry calls f until it returns nil or an error no fault explains.
func retry(f func() error) error {
	for {
		if err := f(); !isInjected(err) {
			return err
		}
	}
}

// ChildMain is the child process. It opens the database, starts (or
// attaches to) every run of the workload below UPTO that is not in the
// skip file, sends the Go signal to the KindSignal runs whose journal does
// not hold it yet, waits for every result, and exits 0, unless it is
// killed first. It writes to its standard output, one line each, once the
// thing is durable:
//
//	open                  the engine is open (recovery started)
//	started <id>          Start returned (the run exists in the journal)
//	signaled <id>         Signal returned (the signal is journaled)
//	result <id> ok <q>    Result returned the strconv-quoted result q
//	result <id> err <q>   Result returned the error whose text is q
//	alldone               every result is in; the engine is closed next
//	fault <op>            with EnvFaults: the store injected a fault
//
// and appends to the counter file a line when an activity execution begins
// and one when it has done its work:
//
//	B <gen> <run> <step> <activity> <attempt>
//	E <gen> <run> <step> <activity> <attempt>
//
// It never returns: it exits 0 when done and 3 on any unexpected error.
func ChildMain() {
	p := childproc.New("torture child")
	p.Require(EnvDB, EnvCounter)
	db, counter := os.Getenv(EnvDB), os.Getenv(EnvCounter)
	gen, upTo := p.NumOr(EnvGen, 1), p.NumOr(EnvUpTo, 0)
	starters, workers := p.NumOr(EnvStarters, 8), p.NumOr(EnvWorkers, 32)
	seed := uint64(p.NumOr(EnvSeed, 1))
	skip, exclude := map[string]bool{}, map[Kind]bool{}
	if path := os.Getenv(EnvSkip); path != "" {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			p.Fail("read skip file: %v", err)
		}
		for _, id := range strings.Fields(string(b)) {
			skip[id] = true
		}
	}

	for _, k := range strings.Split(os.Getenv(EnvExclude), ",") {
		if k != "" {
			exclude[Kind(k)] = true
		}
	}

	var rngMu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, uint64(gen)))
	count := func(kind, act string, info activity.Info) error {
		return childproc.AppendLine(counter, fmt.Sprintf("%s %d %s %d %s %d", kind, gen, info.RunID, info.Step, act, info.Attempt))
	}
	w := New(Hooks{
		Begin: func(ctx context.Context, act string, info activity.Info) error {
			if err := count("B", act, info); err != nil {
				return activity.NonRetryable(fmt.Errorf("count execution: %w", err))
			}
			// A little work, so that kills land inside activities too.
			rngMu.Lock()
			d := time.Duration(rng.IntN(2000)) * time.Microsecond
			rngMu.Unlock()
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
			return nil
		},
		End: func(ctx context.Context, act string, info activity.Info) {
			if err := count("E", act, info); err != nil {
				p.Fail("count execution end: %v", err)
			}
		},
	})

	ctx := context.Background()
	// The engine's warnings and errors go to standard error, which the
	// parent keeps in the working directory (child-<gen>.stderr).
	opts := &chorus.Options{Definitions: w.Definitions(), MaxConcurrentActivities: workers,
		Synchronous: sqlite.Synchronous(os.Getenv(EnvSync)),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	var eng *chorus.Engine
	var err error
	if faults := os.Getenv(EnvFaults); faults != "" {
		st, err := sqlite.Open(ctx, db, &sqlite.Options{Synchronous: opts.Synchronous})
		if err != nil {
			p.Fail("open store: %v", err)
		}
		rates := childRates
		if faults == "final" {
			rates.MaxFaults = 50
		}
		rates.OnFault = func(f faultstore.Fault) { p.Say("fault %s", f.Op) }
		fs := faultstore.Wrap(st, int64(seed), rates)
		err = retry(func() (err error) {
			eng, err = chorus.OpenStore(ctx, fs, opts)
			return err
		})
		if err != nil {
			p.Fail("open: %v", err)
		}
	} else if eng, err = chorus.Open(ctx, db, opts); err != nil {
		p.Fail("open: %v", err)
	}
	p.Say("open")

	ids := make(chan string)
	var results sync.WaitGroup
	var startWG sync.WaitGroup
	for range starters {
		startWG.Go(func() {
			for id := range ids {
				var run *chorus.Run[string]
				err := retry(func() (err error) {
					run, err = w.Start(ctx, eng, id)
					return err
				})
				if err != nil {
					p.Fail("start %s: %v", id, err)
				}
				p.Say("started %s", id)
				if k, _ := KindOf(id); k == KindSignal {
					if err := retry(func() error { return signalOnce(ctx, eng, w, id) }); err != nil {
						p.Fail("signal %s: %v", id, err)
					}
					p.Say("signaled %s", id)
				}
				results.Go(func() {
					var v string
					err := retry(func() (err error) {
						v, err = run.Result(ctx)
						return err
					})
					var we *chorus.WorkflowError
					switch {
					case err == nil:
						p.Say("result %s ok %s", id, strconv.Quote(v))
					case errors.As(err, &we):
						p.Say("result %s err %s", id, strconv.Quote(err.Error()))
					default:
						p.Fail("result %s: %v", id, err)
					}
				})
			}
		})
	}
	for i := range upTo {
		if id := RunID(i); !skip[id] && !exclude[Kinds[i%len(Kinds)]] {
			ids <- id
		}
	}
	close(ids)
	startWG.Wait()
	results.Wait()
	p.Say("alldone")
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := eng.Close(cctx); err != nil {
		p.Fail("close: %v", err)
	}
	os.Exit(0)
}

// signalOnce sends run id its Go signal unless its journal holds it
// already (an earlier process sent it and died before saying so).
func signalOnce(ctx context.Context, eng *chorus.Engine, w *Workload, id string) error {
	h, err := chorus.History(ctx, eng, id)
	if err != nil {
		return err
	}
	for _, ev := range h.Events {
		if ev.Type == history.EventSignalReceived && ev.Name == w.Go.Name() {
			return nil
		}
	}
	return chorus.Signal(ctx, eng, id, w.Go, SignalValue(id))
}

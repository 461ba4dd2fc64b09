// Command postgres runs a Chorus engine on PostgreSQL instead of a SQLite
// file. Start two copies at once: the first owns the database and runs the
// work, the second waits as a standby and takes over within the lease's
// time if the first dies (kill -9 it half way and watch).
//
//	export CHORUS_POSTGRES_URL=postgres://user@localhost:5432/app
//	go run ./examples/postgres
//
// With -shared, the copies share the database and each runs its own run
// (give them different -id values); each stays up once its run is done,
// until Ctrl-C. Kill -9 one half way: within the lease another copy adopts
// its run and finishes it (the remaining steps print there).
//
//	go run ./examples/postgres -shared -id one    # in one terminal
//	go run ./examples/postgres -shared -id two    # in another
//
// Without CHORUS_POSTGRES_URL it says how to set it and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/workflow"
)

var (
	// step stands for work with side effects (a payment, an e-mail).
	step = activity.New("pg-example-step", func(ctx context.Context, n int) (int, error) {
		fmt.Printf("  step %d runs\n", n)
		return n + 1, nil
	})
	// pipeline runs the steps one after the other, with a pause between
	// them that leaves time to kill the process.
	pipeline = workflow.New("pg-example-pipeline", func(ctx workflow.Context, steps int) (int, error) {
		n := 0
		for range steps {
			var err error
			if n, err = workflow.ExecuteActivity(ctx, step, n).Get(ctx); err != nil {
				return 0, err
			}
			if err := workflow.Sleep(ctx, 500*time.Millisecond); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
)

func main() {
	id := flag.String("id", "pg-example", "run ID: a second program started with the same ID finds the run")
	steps := flag.Int("steps", 6, "number of steps")
	ttl := flag.Duration("lease", 3*time.Second, "how long a standby waits for a dead owner")
	shared := flag.Bool("shared", false, "share the database with the other copies (each runs its own run) instead of waiting as a standby")
	flag.Parse()
	url := os.Getenv("CHORUS_POSTGRES_URL")
	if url == "" {
		fmt.Println("CHORUS_POSTGRES_URL is not set: set it to a PostgreSQL database, for example")
		fmt.Println("  export CHORUS_POSTGRES_URL=postgres://user@localhost:5432/app")
		fmt.Println("(the CI script .ci/postgres.sh starts a private server and sets it)")
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, url, *id, *steps, *ttl, *shared); err != nil {
		fmt.Fprintln(os.Stderr, "postgres example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, id string, steps int, ttl time.Duration, shared bool) error {
	if !shared {
		fmt.Println("waiting for the database's lease (another copy may own it)...")
	}
	store, err := postgres.Open(ctx, url, &postgres.Options{Standby: !shared, Shared: shared, LeaseTTL: ttl})
	if err != nil {
		return err
	}
	if shared {
		fmt.Printf("node %s, epoch %d\n", store.Owner(), store.Epoch())
	} else {
		fmt.Printf("owner %s, epoch %d\n", store.Owner(), store.Epoch())
	}
	eng, err := chorus.OpenStore(ctx, store, nil)
	if err != nil {
		return errors.Join(err, store.Close())
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := eng.Close(cctx); err != nil {
			fmt.Fprintln(os.Stderr, "close:", err)
		}
	}()
	if err := eng.Register(pipeline, step); err != nil {
		return err
	}

	// Start the run, or find it if an earlier owner started it: the
	// engine already resumed it from the journal.
	r, err := chorus.Start(ctx, eng, pipeline, steps, &chorus.StartOptions{ID: id, IfExists: chorus.AttachIfExists})
	if err != nil {
		return err
	}
	fmt.Println("run", r.ID())
	done := make(chan struct{})
	var (
		result int
		rerr   error
	)
	go func() {
		defer close(done)
		result, rerr = r.Result(ctx)
	}()
	select {
	case <-done:
	case <-store.Lost():
		// Paused past the lease: another copy owns the database now, and
		// this one can write nothing. Stop.
		return fmt.Errorf("another engine took the database over")
	}
	if rerr != nil {
		return rerr
	}
	fmt.Printf("run %s completed: %d steps\n", r.ID(), result)
	if shared {
		// Stay up: should another copy die, this one adopts its run.
		fmt.Println("serving (another copy's run, should it die); Ctrl-C to stop")
		select {
		case <-ctx.Done():
		case <-store.Lost():
			return fmt.Errorf("another engine adopted this one's runs")
		}
	}
	return nil
}

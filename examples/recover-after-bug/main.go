// Command recover-after-bug shows how an operator recovers runs that a bug
// failed: release 1 of an order workflow fails every order at step 3; the
// fix (release 2) is deployed on the same database; one batch reset moves
// every failed run back to just before the failed step, and each completes
// without running steps 1 and 2 again (no second charge).
//
//	go run ./examples/recover-after-bug
//	go run ./examples/recover-after-bug -n 1000
//
// The workflow is in package orders, beside this file. Step executions are
// counted in a file outside the journal (-counts).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/recover-after-bug/orders"
)

func main() {
	dir := filepath.Join(os.TempDir(), "chorus-recover-after-bug")
	db := flag.String("db", filepath.Join(dir, "orders.db"), "journal database `file`")
	counts := flag.String("counts", filepath.Join(dir, "counts.txt"), "`file` counting every step execution")
	n := flag.Int("n", 100, "number of orders")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "recover-after-bug: -n must be positive")
		os.Exit(2)
	}
	if err := os.MkdirAll(filepath.Dir(*db), 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "recover-after-bug:", err)
		os.Exit(1)
	}
	if err := run(*db, *counts, *n); err != nil {
		fmt.Fprintln(os.Stderr, "recover-after-bug:", err)
		os.Exit(1)
	}
}

func run(db, counts string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := orders.NewCounter(counts)
	if err := release1(ctx, db, c, n); err != nil {
		return err
	}
	return release2(ctx, db, c, n)
}

func orderID(i int) string { return fmt.Sprintf("order-%04d", i) }

// release1 is the deployment with the bug: every order fails at step 3.
func release1(ctx context.Context, db string, c *orders.Counter, n int) error {
	wf, defs := orders.Release(c, 1)
	eng, err := chorus.Open(ctx, db, &chorus.Options{Definitions: defs})
	if err != nil {
		return err
	}
	defer closeEngine(eng)
	runs := make([]*chorus.Run[string], n)
	for i := range runs {
		if runs[i], err = chorus.Start(ctx, eng, wf, orderID(i), &chorus.StartOptions{ID: orderID(i)}); err != nil {
			return err
		}
	}
	failed := 0
	for _, r := range runs {
		if _, err := r.Result(ctx); err != nil {
			failed++
		}
	}
	fmt.Printf("release 1: %d of %d orders failed at step 3 (%v)\n", failed, n, orders.ErrBadAddress)
	return nil
}

// release2 opens the same database with the fix and resets every failed
// run in one batch.
func release2(ctx context.Context, db string, c *orders.Counter, n int) error {
	wf, defs := orders.Release(c, 2)
	eng, err := chorus.Open(ctx, db, &chorus.Options{Definitions: defs})
	if err != nil {
		return err
	}
	defer closeEngine(eng)
	res, err := eng.Batch(chorus.WithIdentity(ctx, "ops@example.com"), chorus.BatchOptions{
		ID:     "fix-ship-address",
		Action: chorus.BatchReset,
		Filter: chorus.ListOptions{Workflow: orders.Workflow, Statuses: []chorus.RunStatus{chorus.StatusFailed}},
		Reset:  chorus.ResetOptions{ToFirstFailure: true, Reason: "release 2 fixes the address check"},
		RPS:    1000,
		Progress: func(p chorus.BatchProgress) {
			if p.Done%25 == 0 || p.Done == p.Total {
				fmt.Printf("batch: %d/%d reset\n", p.Done, p.Total)
			}
		},
	})
	if err != nil {
		return err
	}
	fmt.Printf("release 2: batch %s: %d reset, %d skipped, %d failed\n", res.ID, res.Done, res.Skipped, res.Failed)
	completed := 0
	for i := range n {
		r, err := chorus.Lookup(ctx, eng, wf, orderID(i))
		if err != nil {
			return err
		}
		if _, err := r.Result(ctx); err == nil {
			completed++
		}
	}
	fmt.Printf("release 2: %d of %d orders completed\n", completed, n)
	got, err := orders.ReadCounts(c.Path())
	if err != nil {
		return err
	}
	for _, step := range []string{orders.StepReserve, orders.StepCharge, orders.StepShip} {
		total, most := 0, 0
		for _, k := range got[step] {
			total += k
			most = max(most, k)
		}
		fmt.Printf("%s ran %d times in all, at most %d times for one order\n", step, total, most)
	}
	return nil
}

func closeEngine(eng *chorus.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "recover-after-bug: close:", err)
	}
}

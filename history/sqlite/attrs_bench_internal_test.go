package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chorusdev/chorus/history"
)

// benchRuns is how many runs BenchmarkListByAttribute fills its database
// with: CHORUS_BENCH_RUNS, or 10,000 so that the suite stays fast.
func benchRuns(b *testing.B) int {
	if v := os.Getenv("CHORUS_BENCH_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			b.Fatalf("CHORUS_BENCH_RUNS=%q: want a number of 100 or more", v)
		}
		return n
	}
	return 10_000
}

// BenchmarkListByAttribute lists the runs of one customer (100 runs, a
// keyword search attribute) among N runs (CHORUS_BENCH_RUNS, default
// 10,000), one page of 100 per operation, and counts them. The database is
// filled with direct INSERTs in one transaction, not through the engine.
func BenchmarkListByAttribute(b *testing.B) {
	ctx := context.Background()
	n := benchRuns(b)
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"), &Options{Synchronous: SynchronousNormal})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	customers := n / 100
	fillAttrRuns(b, s, n, customers)

	customer := history.NewKeyword("customer")
	b.Run(fmt.Sprintf("runs=%d/list", n), func(b *testing.B) {
		i := 0
		for b.Loop() {
			c := fmt.Sprintf("cust-%06d", (i*7919)%customers)
			i++
			runs, err := s.ListRuns(ctx, history.ListFilter{Attrs: []history.AttrFilter{customer.Is(c)}, Limit: 100})
			if err != nil {
				b.Fatal(err)
			}
			if len(runs) != 100 {
				b.Fatalf("customer %s: %d runs, want 100", c, len(runs))
			}
		}
	})
	b.Run(fmt.Sprintf("runs=%d/list-completed", n), func(b *testing.B) {
		i := 0
		for b.Loop() {
			c := fmt.Sprintf("cust-%06d", (i*7919)%customers)
			i++
			if _, err := s.ListRuns(ctx, history.ListFilter{Attrs: []history.AttrFilter{customer.Is(c)},
				Status: history.StatusCompleted, Limit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("runs=%d/count", n), func(b *testing.B) {
		i := 0
		for b.Loop() {
			c := fmt.Sprintf("cust-%06d", (i*7919)%customers)
			i++
			got, err := s.CountRuns(ctx, history.ListFilter{Attrs: []history.AttrFilter{customer.Is(c)}})
			if err != nil {
				b.Fatal(err)
			}
			if got != 100 {
				b.Fatalf("customer %s: count %d, want 100", c, got)
			}
		}
	})
}

// fillAttrRuns inserts n runs, run i of customer i % customers with an
// amount attribute, in one transaction.
func fillAttrRuns(b *testing.B, s *Store, n, customers int) {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	run, err := tx.PrepareContext(ctx, `INSERT INTO runs (id, workflow, status, created_at, updated_at, last_seq, first_seq, sum)
		VALUES (?, 'order', ?, ?, ?, 2, 1, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	attr, err := tx.PrepareContext(ctx, `INSERT INTO run_attrs (run_id, name, kind, text_val, int_val) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("run-%08d", i)
		created := t0.Add(time.Duration(i) * time.Second)
		status := history.StatusCompleted
		if i%10 == 0 {
			status = history.StatusRunning
		}
		if _, err := run.ExecContext(ctx, id, int64(status), created.UnixNano(), created.UnixNano(), runSum(id, "order", created, "", 0)); err != nil {
			b.Fatal(err)
		}
		if _, err := attr.ExecContext(ctx, id, "customer", int64(history.AttrKeyword), fmt.Sprintf("cust-%06d", i%customers), nil); err != nil {
			b.Fatal(err)
		}
		if _, err := attr.ExecContext(ctx, id, "amount", int64(history.AttrInt), nil, int64(i%5000)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

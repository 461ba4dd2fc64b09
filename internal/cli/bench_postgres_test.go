package cli_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/postgres/pgtest"
	"github.com/chorusdev/chorus/internal/cli"
	"github.com/chorusdev/chorus/workflow"
)

// benchRuns is how many runs the command benchmarks' databases hold.
const benchRuns = 1000

var (
	benchAct = activity.New("bench-cli-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	benchWF  = workflow.New("bench-cli", func(ctx workflow.Context, n int) (int, error) {
		return workflow.ExecuteActivity(ctx, benchAct, n).Get(ctx)
	})
)

// fillBench runs benchRuns runs of benchWF to their end on eng, and closes
// it.
func fillBench(b *testing.B, eng *chorus.Engine) {
	b.Helper()
	ctx := context.Background()
	if err := eng.Register(benchWF, benchAct); err != nil {
		b.Fatal(err)
	}
	runs := make([]*chorus.Run[int], benchRuns)
	for i := range runs {
		r, err := chorus.Start(ctx, eng, benchWF, i, &chorus.StartOptions{ID: fmt.Sprintf("bench-%05d", i)})
		if err != nil {
			b.Fatal(err)
		}
		runs[i] = r
	}
	for _, r := range runs {
		if _, err := r.Result(ctx); err != nil {
			b.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := eng.Close(cctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCommands times the read commands, each a whole invocation
// (open, read, print, close), on a SQLite file and on a PostgreSQL
// database holding the same benchRuns ended runs:
//
//	CHORUS_POSTGRES_URL=... go test -run '^$' -bench Commands ./internal/cli/
func BenchmarkCommands(b *testing.B) {
	quiet := &chorus.Options{Logger: slog.New(slog.DiscardHandler)}
	path := filepath.Join(b.TempDir(), "bench.db")
	eng, err := chorus.Open(context.Background(), path, quiet)
	if err != nil {
		b.Fatal(err)
	}
	fillBench(b, eng)
	targets := []struct{ name, target string }{{"sqlite", path}}
	if os.Getenv(pgtest.EnvURL) != "" {
		u := pgtest.URL(b)
		st, err := postgres.Open(context.Background(), u, nil)
		if err != nil {
			b.Fatal(err)
		}
		eng, err := chorus.OpenStore(context.Background(), st, quiet)
		if err != nil {
			b.Fatal(err)
		}
		fillBench(b, eng)
		targets = append(targets, struct{ name, target string }{"postgres", u})
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"runs-list-100", []string{"runs", "list", "@", "--limit", "100"}},
		{"runs-list-all", []string{"runs", "list", "@"}},
		{"runs-show", []string{"runs", "show", "@", "bench-00500"}},
		{"history", []string{"history", "@", "bench-00500"}},
		{"stats", []string{"stats", "@"}},
	} {
		for _, tg := range targets {
			b.Run(c.name+"/"+tg.name, func(b *testing.B) {
				args := make([]string, len(c.args))
				for i, a := range c.args {
					if a == "@" {
						a = tg.target
					}
					args[i] = a
				}
				for b.Loop() {
					if code := cli.Run(context.Background(), args, io.Discard, io.Discard); code != 0 {
						b.Fatalf("%v: exit status %d", args, code)
					}
				}
			})
		}
	}
}

package remote_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
)

// BenchmarkRemoteActivity measures runs of a workflow whose one activity
// runs on a worker over HTTP (a loopback httptest server, a SQLite hub
// with synchronous=FULL): one run at a time (sequential), and 64 at once
// on 1 and 4 workers of 16 tasks each; "sequential-local" is the same
// workflow with the activity registered in the engine, for comparison.
func BenchmarkRemoteActivity(b *testing.B) {
	b.Run("sequential-local", func(b *testing.B) {
		eng := openSQLite(b, tempDB(b))
		b.Cleanup(func() { closeEngine(b, eng) })
		require.NoError(b, eng.Register(ledgerWF, ledger(func(_ context.Context, in string) (string, error) { return in, nil })))
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			run, err := chorus.Start(ctx, eng, ledgerWF, "x", &chorus.StartOptions{ID: fmt.Sprint("local-", i)})
			require.NoError(b, err)
			_, err = run.Result(ctx)
			require.NoError(b, err)
		}
	})
	b.Run("sequential", func(b *testing.B) {
		env := newHubEnv(b, openSQLite(b, tempDB(b)), nil)
		env.startWorker(b, tokenA, ledger(func(_ context.Context, in string) (string, error) { return in, nil }))
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			run, err := chorus.Start(ctx, env.eng, ledgerWF, "x", &chorus.StartOptions{ID: fmt.Sprint("seq-", i)})
			require.NoError(b, err)
			_, err = run.Result(ctx)
			require.NoError(b, err)
		}
	})
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("64-concurrent-%d-workers", workers), func(b *testing.B) {
			env := newHubEnv(b, openSQLite(b, tempDB(b)), nil)
			for range workers {
				env.startWorkerN(b, tokenA, 16, ledger(func(_ context.Context, in string) (string, error) { return in, nil }))
			}
			ctx := context.Background()
			b.ResetTimer()
			var wg sync.WaitGroup
			ids := make(chan int)
			for range 64 {
				wg.Go(func() {
					for i := range ids {
						run, err := chorus.Start(ctx, env.eng, ledgerWF, "x", &chorus.StartOptions{ID: fmt.Sprint("par-", i)})
						if err == nil {
							_, err = run.Result(ctx)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			for i := range b.N {
				ids <- i
			}
			close(ids)
			wg.Wait()
		})
	}
}

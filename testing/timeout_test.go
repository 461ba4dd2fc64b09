package chorustest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// queryDB is set by the test before the env starts: the database the
// Lookup activity queries with its own context.
var queryDB *sql.DB

var Lookup = activity.New("lookup", func(ctx context.Context, n int) (int, error) {
	var got int
	if err := queryDB.QueryRowContext(ctx, "SELECT ? + 1", n).Scan(&got); err != nil {
		return 0, err
	}
	rows, err := queryDB.QueryContext(ctx, "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < ?) SELECT v FROM s", n)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
		got += v
	}
	return got, rows.Err()
}).WithOptions(activity.Options{StartToCloseTimeout: time.Minute})

var Lookups = workflow.New("lookups", func(ctx workflow.Context, n int) (int, error) {
	fs := make([]workflow.Future[int], n)
	for i := range fs {
		fs[i] = workflow.ExecuteActivity(ctx, Lookup, i+1)
	}
	total := 0
	for _, f := range fs {
		v, err := f.Get(ctx)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
})

// An activity with a start-to-close timeout passes its context to
// database/sql, which derives contexts of its own and reads Err from other
// goroutines: under the race detector, that must raise no report (the
// timeout context used to be the clock mock's, whose Err is unguarded).
func TestTimeoutContextReachesDatabaseSQL(t *stdtesting.T) {
	db, err := sql.Open("sqlite", "file::memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1) // one in-memory database shared by every query
	queryDB = db
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Lookups, Lookup}, InMemory: true})
	for i := range 3 {
		got, err := chorustest.Result(env, chorustest.Start(env, Lookups, 8, &chorus.StartOptions{ID: fmt.Sprint("lookups-", i)}))
		require.NoError(t, err)
		want := 0
		for n := 1; n <= 8; n++ {
			want += n + 1 + n*(n+1)/2
		}
		require.Equal(t, want, got)
	}
}

// timeoutSeen is what the attempt of the stuck activity saw when its context ended.
type timeoutSeen struct {
	err, childErr, cause error
	deadline             time.Time
	hasDeadline          bool
	childDeadline        time.Time
	errBefore            error
	elapsedAtDone        time.Duration
}

// The start-to-close timeout is measured on the env's fake clock: the
// attempt's context reports the deadline on that clock, ends with
// context.DeadlineExceeded (in itself, its cause and a context derived
// from it) when the test moves the clock past it, and the attempt fails
// with a timeout.
func TestTimeoutFiresOnTheFakeClock(t *stdtesting.T) {
	t.Parallel()
	started := make(chan struct{})
	seen := make(chan timeoutSeen, 1)
	var env *chorustest.Env
	stuck := activity.New("stuck", func(ctx context.Context, _ int) (int, error) {
		var s timeoutSeen
		s.deadline, s.hasDeadline = ctx.Deadline()
		s.errBefore = ctx.Err()
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		s.childDeadline, _ = child.Deadline()
		close(started)
		<-child.Done()
		<-ctx.Done()
		s.err, s.childErr, s.cause = ctx.Err(), child.Err(), context.Cause(child)
		s.elapsedAtDone = env.Elapsed()
		seen <- s
		return 0, ctx.Err()
	}).WithOptions(activity.Options{StartToCloseTimeout: 10 * time.Minute, RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 1}})
	wf := workflow.New("waits-for-stuck", func(ctx workflow.Context, _ int) (int, error) {
		return workflow.ExecuteActivity(ctx, stuck, 0).Get(ctx)
	})
	env = chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{wf, stuck}})
	run := chorustest.Start(env, wf, 0, &chorus.StartOptions{ID: "stuck"})
	<-started
	env.Clock().Add(10*time.Minute - time.Nanosecond)
	select {
	case <-seen:
		t.Fatal("the attempt's context ended before its deadline")
	default:
	}
	env.Clock().Add(time.Nanosecond)
	s := <-seen
	require.True(t, s.hasDeadline)
	require.Equal(t, env.StartTime().Add(10*time.Minute), s.deadline, "the deadline is on the fake clock")
	require.Equal(t, s.deadline, s.childDeadline)
	require.NoError(t, s.errBefore)
	require.Equal(t, 10*time.Minute, s.elapsedAtDone)
	require.Equal(t, context.DeadlineExceeded, s.err)
	require.ErrorIs(t, s.childErr, context.DeadlineExceeded, "a derived context sees the deadline too")
	require.ErrorIs(t, s.cause, context.DeadlineExceeded)

	_, err := chorustest.Result(env, run)
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Contains(t, err.Error(), "start-to-close timeout of 10m0s")
	require.True(t, errors.Is(s.err, context.DeadlineExceeded))
}

package replay_test

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait, so a bug shows up as a failure that says
// what it waited for instead of a hung test binary.
const testTimeout = 20 * time.Second

// t0 is when every recording starts, on a fake clock.
var t0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// recorder runs workflows on an in-memory engine with a fake clock set to
// t0 and one activity worker, so that what it records is the same on every
// run, and exports their histories.
type recorder struct {
	t    testing.TB
	ctx  context.Context
	eng  *chorus.Engine
	mock *clock.Mock
}

func newRecorder(t testing.TB, defs ...chorus.Definition) *recorder {
	t.Helper()
	ctx := testContext(t)
	mock := clock.NewMock()
	mock.Set(t0)
	st, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Clock: mock, Definitions: defs, MaxConcurrentActivities: 1})
	require.NoError(t, err)
	r := &recorder{t: t, ctx: ctx, eng: eng, mock: mock}
	t.Cleanup(r.close)
	return r
}

// close stops the engine, interrupting activities that still run.
func (r *recorder) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.NoError(r.t, r.eng.Close(ctx))
}

// waitFor waits until the engine is quiescent (no run being processed, no
// activity queued or running) and cond holds (see testutil.Await: nothing
// polls).
func (r *recorder) waitFor(what string, cond func() bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	core := hook.Core(r.eng)
	require.NoError(r.t, testutil.Await(ctx, r.eng, what, func() (bool, error) {
		return core.Quiescent() && cond(), nil
	}))
}

// export returns the run's history.
func (r *recorder) export(id string) *history.Export {
	r.t.Helper()
	x, err := chorus.History(r.ctx, r.eng, id)
	require.NoError(r.t, err)
	return x
}

// waitLast waits until the last event of the run's journal has type typ
// and the engine is quiescent.
func (r *recorder) waitLast(id string, typ history.EventType) {
	r.t.Helper()
	r.waitFor("run "+id+" to record "+typ.String(), func() bool {
		x, err := chorus.History(r.ctx, r.eng, id)
		return err == nil && x.Events[len(x.Events)-1].Type == typ
	})
}

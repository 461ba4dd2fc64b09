package saga_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/saga"
)

// testTimeout bounds every wait, so a bug shows up as a failure that says
// what it waited for instead of a hung test binary.
const testTimeout = 20 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// setup opens an engine on a new database file with defs registered; it is
// closed when the test ends (closing it earlier is fine).
func setup(t *testing.T, opts *chorus.Options, defs ...chorus.Definition) (*chorus.Engine, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chorus.db")
	eng, err := chorus.Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	require.NoError(t, eng.Register(defs...))
	return eng, path
}

func closeEngine(t *testing.T, eng *chorus.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := eng.Close(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// What Close interrupted took longer than its grace to stop: a
		// loaded machine, not the behaviour under test (the Close tests
		// check that themselves). The rest stops in the background.
		t.Logf("close: %v", err)
		return
	}
	require.NoError(t, err)
}

// fastRetry is a retry policy for tests: retries come at once.
func fastRetry(maxAttempts int) *activity.RetryPolicy {
	return &activity.RetryPolicy{InitialInterval: time.Millisecond, MaximumInterval: time.Millisecond, MaximumAttempts: maxAttempts}
}

// recorder keeps the order in which activities executed, outside the
// journal.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, s)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.seen {
		if x == s {
			n++
		}
	}
	return n
}

// book is a step that succeeds and returns a reservation ID.
func book(rec *recorder, name string) *activity.Definition[string, string] {
	return activity.New(name, func(ctx context.Context, in string) (string, error) {
		rec.add(name)
		return name + "/" + in, nil
	})
}

// undo is a compensation that records its execution (with its input) and
// then runs hook, if any.
func undo(rec *recorder, name string, hook func(ctx context.Context, attempt int) error) *activity.Definition[string, struct{}] {
	return activity.New(name, func(ctx context.Context, in string) (struct{}, error) {
		rec.add(name)
		if hook != nil {
			return struct{}{}, hook(ctx, activity.GetInfo(ctx).Attempt)
		}
		return struct{}{}, nil
	})
}

// fail is a step that fails for good.
func fail(rec *recorder, name, typ string) *activity.Definition[string, string] {
	return activity.New(name, func(ctx context.Context, in string) (string, error) {
		rec.add(name)
		return "", activity.NonRetryable(activity.NewError(typ, "%s is not possible for %s", name, in))
	})
}

// failHook makes an undo fail for good.
func failHook(ctx context.Context, _ int) error {
	return activity.NonRetryable(activity.NewError("undo-refused", "the remote system refused"))
}

// journal closes eng and returns the events of run runID, read with the
// SQLite store from a copy of the database file.
func journal(t *testing.T, eng *chorus.Engine, db, runID string) []history.Event {
	t.Helper()
	closeEngine(t, eng)
	return readEvents(t, copyDB(t, db), runID)
}

// copyDB copies the database files at db into a new directory and returns
// the copy's path.
func copyDB(t *testing.T, db string) string {
	t.Helper()
	p, err := testutil.CopyDatabase(db, t.TempDir())
	require.NoError(t, err)
	return p
}

func readEvents(t *testing.T, path, runID string) []history.Event {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	evs, err := st.Events(ctx, runID, 0)
	require.NoError(t, err)
	return evs
}

// marker is a saga marker found in a journal.
type marker struct {
	Seq  int64
	Name string
	saga.MarkerDetails
}

// String is the compact form tests compare: "start 2 cancel-c".
func (m marker) String() string {
	names := map[string]string{saga.MarkerStart: "start", saga.MarkerDone: "done", saga.MarkerFailed: "failed", saga.MarkerSkipped: "skipped"}
	return fmt.Sprintf("%s %d %s", names[m.Name], m.Index, m.Step)
}

func markers(t *testing.T, evs []history.Event) []marker {
	t.Helper()
	var ms []marker
	for _, ev := range evs {
		if ev.Type != history.EventMarker {
			continue
		}
		m := marker{Seq: ev.Seq, Name: ev.Name}
		require.NoError(t, json.Unmarshal(ev.Payload, &m.MarkerDetails), "marker %v: %s", ev, ev.Payload)
		ms = append(ms, m)
	}
	return ms
}

func markerStrings(ms []marker) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}

// recv waits for a value on ch or fails the test.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

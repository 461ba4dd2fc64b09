package chorus_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
)

// testTimeout bounds every wait in these tests, so a bug shows up as a
// failure that says what it waited for instead of a hung test binary.
const testTimeout = 20 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// setup opens an engine on a new database file with defs registered.
func setup(t *testing.T, opts *chorus.Options, defs ...chorus.Definition) (*chorus.Engine, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chorus.db")
	return openEngine(t, path, opts, defs...), path
}

// openEngine opens the database at path with defs registered and closes the
// engine when the test ends.
func openEngine(t *testing.T, path string, opts *chorus.Options, defs ...chorus.Definition) *chorus.Engine {
	t.Helper()
	eng, err := chorus.Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { closeEngine(t, eng) })
	require.NoError(t, eng.Register(defs...))
	return eng
}

func closeEngine(t *testing.T, eng *chorus.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
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

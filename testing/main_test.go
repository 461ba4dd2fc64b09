package chorustest_test

import (
	"runtime"
	"slices"
	"strings"
	"sync"
	stdtesting "testing"

	"go.uber.org/goleak"
)

// Every goroutine an env or its engine started must be gone when the tests
// end.
func TestMain(m *stdtesting.M) {
	goleak.VerifyTestMain(m)
}

// fakeTB is a test that the env under test reports to, so a test can assert
// on what the env reports (errors, logs) at its end. It records Error and
// Log calls, collects cleanups until finish runs them, and takes the rest
// (TempDir, Context, ...) from the real test.
type fakeTB struct {
	stdtesting.TB
	mu       sync.Mutex
	errs     []string
	logs     []string
	cleanups []func()
}

func newFakeTB(t *stdtesting.T) *fakeTB { return &fakeTB{TB: t} }

func (f *fakeTB) Helper() {}

func (f *fakeTB) Error(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, sprint(args...))
}

func (f *fakeTB) Errorf(format string, args ...any) { f.Error(sprintf(format, args...)) }

func (f *fakeTB) Fatal(args ...any) {
	f.Error(args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) { f.Fatal(sprintf(format, args...)) }

func (f *fakeTB) Log(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, sprint(args...))
}

func (f *fakeTB) Logf(format string, args ...any) { f.Log(sprintf(format, args...)) }

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errs) > 0
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// finish ends the fake test: it runs the cleanups, last registered first.
func (f *fakeTB) finish() {
	f.mu.Lock()
	cs := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for _, c := range slices.Backward(cs) {
		c()
	}
}

func (f *fakeTB) errors() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errs, "\n")
}

func (f *fakeTB) logged() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.logs, "\n")
}

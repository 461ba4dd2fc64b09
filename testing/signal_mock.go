package chorustest

import (
	"slices"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// SignalMock answers, in a test, the signals that workflow code sends to
// other runs with workflow.SignalExternal, in place of delivering them.
// Create it with [OnSignalExternal] and configure it with its methods,
// which return the mock for chaining:
//
//	chorustest.OnSignalExternal(env, Approved).Return(nil) // the target need not exist
//	chorustest.OnSignalExternal(env, Approved).When(func(runID string, v bool) bool { return runID == "gone" }).
//		Return(chorus.ErrRunNotFound)
//
// A mock with no Return or Do delivers the signal for real and only counts
// it.
type SignalMock[T any] struct {
	env     *Env
	name    string
	match   func(string, T) bool
	times   int
	do      func(string, T) error
	calls   int
	targets []string
	values  []T
}

// sigMocker is a *SignalMock of any type.
type sigMocker interface {
	// take reports whether the mock answers a signal with this target and
	// value and, if it does, counts the call and returns the answer (nil:
	// deliver for real). env.mu is held.
	take(codec history.Codec, target string, value []byte) (func() error, bool)
}

// OnSignalExternal adds a mock for the signal sig sent by workflow code
// with workflow.SignalExternal. Mocks of one signal are consulted in the
// order they were added; the first that matches the target run and value
// ([SignalMock.When]) and has calls left ([SignalMock.Times]) answers it: the
// signal is not delivered, and the sender's future gets the mock's error
// (nil means delivered; chorus.ErrRunNotFound and chorus.ErrRunEnded are
// reported as when the target does not exist or has ended). A signal no
// mock answers is delivered as usual. The answer is journaled in the
// sender, so replays see the same outcome.
func OnSignalExternal[T any](env *Env, sig *workflow.Signal[T]) *SignalMock[T] {
	env.t.Helper()
	m := &SignalMock[T]{env: env, name: sig.Name()}
	env.mu.Lock()
	if env.sigMocks == nil {
		env.sigMocks = map[string][]sigMocker{}
		env.core.SetSignalInterceptor(env.interceptSignal)
	}
	env.sigMocks[m.name] = append(env.sigMocks[m.name], m)
	env.mu.Unlock()
	return m
}

// interceptSignal is the engine's signal interceptor: the first mock that
// takes the signal answers it.
func (e *Env) interceptSignal(_, target, name string, value []byte) (bool, error) {
	codec := e.core.Codec()
	e.mu.Lock()
	var answer func() error
	for _, m := range e.sigMocks[name] {
		if f, ok := m.take(codec, target, value); ok {
			answer = f
			break
		}
	}
	e.mu.Unlock()
	e.kick() // an Env.Await condition may count calls
	if answer == nil {
		return false, nil
	}
	return true, answer()
}

// Return makes the mock answer with err: nil for a signal delivered.
func (m *SignalMock[T]) Return(err error) *SignalMock[T] {
	return m.Do(func(string, T) error { return err })
}

// Do makes the mock answer by calling fn with the target run's ID and the
// signal's value. fn runs on an engine goroutine: it must be quick.
func (m *SignalMock[T]) Do(fn func(runID string, v T) error) *SignalMock[T] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.do = fn
	return m
}

// When makes the mock answer only signals to a run and with a value that
// satisfy match.
func (m *SignalMock[T]) When(match func(runID string, v T) bool) *SignalMock[T] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.match = match
	return m
}

// Times limits the mock to the first n signals it matches. n <= 0 means no
// limit, the default.
func (m *SignalMock[T]) Times(n int) *SignalMock[T] {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	m.times = n
	return m
}

// Once is Times(1).
func (m *SignalMock[T]) Once() *SignalMock[T] { return m.Times(1) }

// Calls returns how many signals the mock answered.
func (m *SignalMock[T]) Calls() int {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	return m.calls
}

// Targets returns the IDs of the runs the signals the mock answered were
// sent to, in order.
func (m *SignalMock[T]) Targets() []string {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	return slices.Clone(m.targets)
}

// Values returns the values of the signals the mock answered, in order.
func (m *SignalMock[T]) Values() []T {
	m.env.mu.Lock()
	defer m.env.mu.Unlock()
	return slices.Clone(m.values)
}

func (m *SignalMock[T]) take(codec history.Codec, target string, value []byte) (func() error, bool) {
	var v T
	if err := codec.Unmarshal(value, &v); err != nil {
		return nil, false // delivered for real, the receiver reports it
	}
	if (m.match != nil && !m.match(target, v)) || (m.times > 0 && m.calls >= m.times) {
		return nil, false
	}
	m.calls++
	m.targets = append(m.targets, target)
	m.values = append(m.values, v)
	do := m.do
	if do == nil {
		return nil, true
	}
	return func() error { return do(target, v) }, true
}

// Package chorustest tests Chorus workflows as easily as plain functions:
// on a real engine and a real SQLite journal, with a fake clock that skips
// ahead by itself, typed activity and child-workflow mocks, and a
// determinism check of every run for free.
//
// Import it under its package name:
//
//	import chorustest "github.com/chorusdev/chorus/testing"
//
// # The environment
//
// [New] returns an [*Env] for one test: an engine on a journal in
// t.TempDir() (or in memory, with [Options].InMemory), whose clock is a
// github.com/benbjohnson/clock mock starting at [DefaultStart], with the
// definitions of [Options].Definitions registered. The env cleans up after
// itself with t.Cleanup:
//
//   - runs that have not ended are reported (t.Log, or t.Error with
//     [Options].FailOnUnfinished), and so are [Env.At] callbacks that never
//     ran;
//   - every run is replayed against its journal with the registered code
//     (see "Determinism check" below);
//   - the engine is closed, and an activity attempt still running after
//     that (one that ignores its context) is a test error.
//
// The engine's logs go to t.Log, from the warning level up ([Options].Verbose
// or [Options].LogLevel for more), stamped with the fake time.
//
// Drive runs with [Start], [SignalWithStart], [Signal], [Query],
// [Env.Cancel] and [Env.Terminate], wait for them with [Result] and
// [Env.Await], and reach anything else through [Env.Engine]. The helpers
// that cannot fail in a meaningful way (Start, Signal, Cancel, ...) fail the
// test on error; those whose error is worth asserting (Result, Query, Await)
// return it.
//
//	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Claim, Notify}})
//	run := chorustest.Start(env, Claim, "claim-1", nil)
//	got, err := chorustest.Result(env, run) // 30 days later, in milliseconds
//
// # Time
//
// The rule: fake time moves only while the test waits in [Result],
// [Env.Await] or [Env.Advance]. Between two env calls the clock stands
// still, so a test that starts a run and then sends a signal knows that no
// timer fired in between. [Env.Settle], [Query], [Env.History] and
// [Env.Describe] wait too, but only for what is in flight at the current
// fake time: they never move the clock.
//
// While a wait is in progress, the env moves the clock whenever nothing is
// in flight: no run is being processed, no activity attempt is queued or
// running, no fired timer is on its way and no env call or callback runs.
// It then moves the clock to the next due time, the earliest of the engine's
// timers (workflow timers and activity retry backoffs) and the [Env.At]
// callbacks, lets the engine react, and looks again. It is woken by the
// engine itself (its OnSettle hook), never by polling, so a workflow that
// waits 30 days for an approval and then escalates is tested in
// milliseconds. A wait whose run can no longer end by itself (it waits for a
// signal and nothing is due) returns an error wrapping [ErrStalled] rather
// than hanging.
//
// [Result] and [Env.Await] fail fast, before moving the clock, when a run
// of the env waits for an activity or a child workflow that is neither
// registered nor mocked: the error wraps [ErrStalled] and
// chorus.ErrNotRegistered and names the run, the activity or workflow and
// the step. Register everything a run needs (or mock it) before waiting
// for the run; [Env.Describe] lists such waits too ([chorus.RunInfo]
// Unregistered).
//
// Because an activity attempt counts as work in flight, the clock never
// moves while one runs: an activity that blocks until its start-to-close or
// heartbeat timeout passes on the fake clock needs the test to move the
// clock itself ([Env.Clock]). The attempt's context carries the deadline on
// the fake clock and ends with context.DeadlineExceeded once the clock
// passes it; it is safe to hand to database/sql and other code that reads
// it from goroutines of its own, under the race detector.
// [Options].Timeout bounds every wait in wall time, only to turn a hung
// test into a failure that describes the env: for each run that has not
// ended, what it waits for (each pending activity with its attempt number,
// whether it runs or when it is due, and the last error the env saw it
// return; timers; children that have not ended; names not registered).
//
// To act at a given fake time, register a callback with [Env.At], relative
// to the env's start: env.At(47*time.Hour, func() { chorustest.Signal(env,
// id, Approve, yes) }). It runs on the waiting goroutine once the clock has
// reached that time and the engine has settled there, after the timers due
// at the same instant; it may signal and inspect, but not wait for time to
// pass. [Env.Advance] moves the clock by a given duration,
// firing everything due on the way in order; [Env.Now] and [Env.Elapsed]
// read it.
//
// An env.At callback may deliver every kind of input, each at its fake
// time: [Start] and [SignalWithStart] (a run that begins later),
// [Signal], [Query] (which answers from the state at that time),
// [Env.Cancel], [Env.Terminate], and any call on [Env.Engine]. Calls that
// answer a run from outside, such as an Update or the completion of an
// activity that completes asynchronously, are made the same way, from
// inside the callback, through their chorus functions on [Env.Engine]: the
// env counts the callback as work in flight until it returns, so the
// clock does not move while such a call is on its way.
//
// # Mocks
//
// The env registers each definition behind a wrapper of the same name that
// consults mocks first. [OnActivity] mocks an activity, typed by its
// definition:
//
//	charge := chorustest.OnActivity(env, Charge).Return(Receipt{ID: "r-1"}, nil)
//	chorustest.OnActivity(env, Ship).When(func(o Order) bool { return o.Express }).
//		ReturnError(activity.NonRetryable(errors.New("no express today")))
//	chorustest.OnActivity(env, Reserve).Times(2).ReturnError(errBusy) // then the real one
//	...
//	require.Equal(t, 1, charge.Calls())
//
// [ActivityMock.Do] answers with a function of the attempt's context and
// input. Activities without a matching mock run for real; a mock with no
// answer set runs the real activity and only counts. [OnWorkflow] mocks
// runs of a workflow the same way, typically child workflows; a mocked run
// is still a real run with a journal.
//
// A mock can take fake time to answer: [ActivityMock.After] makes each
// attempt it answers last d of fake time (the env skips it like a timer;
// the attempt's start-to-close timeout and cancellation apply as to a
// long attempt), and [WorkflowMock.After] makes a mocked run wait d on a
// durable timer before it answers:
//
//	chorustest.OnActivity(env, Charge).After(2*time.Hour).Return(Receipt{ID: "r-1"}, nil)
//
// [OnSignalExternal] mocks the signals workflow code sends to other runs
// with workflow.SignalExternal: a matching mock answers in place of the
// delivery (nil, or chorus.ErrRunNotFound as if the target did not exist),
// and its Targets and Values tell what was sent.
//
// # Context propagation
//
// Propagators go in [Options].Engine (chorus.Options.ContextPropagators);
// [StartContext] and [SignalWithStartContext] start a run with the values
// of a context, which its code, its activities (mocked or real) and its
// children then see.
//
// # Inspecting the journal
//
// [Env.History] returns a run's events as committed to the SQLite file;
// [Env.ActivitiesRun] the names of the activities whose outcome it
// recorded, in order; [Env.Markers] the names of its markers (the saga
// package marks each compensation).
//
// # Determinism check
//
// When the test ends, every run the env executed, ended or not, is replayed
// from its journal against the registered code ([Env.CheckReplay]). A
// workflow whose code does not issue the same commands again (it read the
// wall clock, a global variable, a map's order) fails its own unit test with
// the *chorus.NonDeterminismError that would otherwise block a run in
// production after a restart. Blocked runs are reported instead of being
// replayed. The replay of one run may take [Options].Timeout of wall time:
// code that blocks outside the workflow API when it runs again fails the
// test with the run's name instead of hanging it. [Options].SkipReplayCheck
// turns the check off.
//
// # Activities alone
//
// [RunActivity] runs one attempt of an activity outside any workflow with
// a chosen activity.Info (an attempt number, an idempotency key) and,
// optionally, the heartbeat details of an earlier attempt.
//
// # Goroutines and parallel tests
//
// An env starts no goroutine of its own that outlives a call: waits run on
// the caller's goroutine and the engine's goroutines stop when the env
// closes it. Check for leaks once per package with go.uber.org/goleak in
// TestMain, which is what this package's own tests do:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
//
// (a per-test goleak.VerifyNone cannot tell apart the goroutines of tests
// running in parallel). Envs are independent, each with its own clock and
// journal, so tests that use them may call t.Parallel and run under -race.
package chorustest

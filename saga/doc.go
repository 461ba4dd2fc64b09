// Package saga keeps a multi-step process that spans several systems
// consistent without a distributed transaction: each step that succeeded
// registers a compensating action, and when a later step fails the
// compensations run, by default in reverse order.
//
// A saga lives inside workflow code:
//
//	var BookTrip = workflow.New("book-trip", func(ctx workflow.Context, t Trip) (_ Itinerary, err error) {
//		s := saga.New(ctx, nil)
//		defer s.CompensateOnError(&err)
//
//		flight, err := workflow.ExecuteActivity(ctx, BookFlight, t).Get(ctx)
//		if err != nil {
//			return Itinerary{}, err
//		}
//		saga.Add(s, CancelFlight, flight.ID) // typed: a wrong argument does not compile
//
//		hotel, err := workflow.ExecuteActivity(ctx, BookHotel, t).Get(ctx)
//		if err != nil {
//			return Itinerary{}, err // cancels the flight
//		}
//		saga.Add(s, CancelHotel, hotel.ID)
//		...
//	})
//
// A compensation is an activity ([Add]), a child workflow ([AddChild]) or a
// piece of workflow code ([AddFunc]). Compensations are ordinary journaled
// steps: each is retried according to its retry policy, and a process that
// dies during compensation resumes exactly where it stopped when the
// database is opened again: a compensation that finished never runs again,
// the one that was running is retried. Make compensations idempotent, like
// every activity. A compensation activity runs with the activity options of
// the context the saga compensates with (the one given to [New] for
// CompensateOnError, or to [Saga.Compensate]) laid over its definition's
// options, as any activity would: if the workflow limits the retries of its
// steps with workflow.WithActivityOptions, give the saga a context without
// that limit, or one that sets the compensations' own policy.
//
// # Order and failures
//
// By default compensations run one at a time, the last one added first, and
// the first one that fails stops the compensation: the ones not run yet are
// skipped. [Options] can run them concurrently (Parallel, with an optional
// cap, MaxParallel) and carry on past failures (ContinueOnError).
// [Saga.Compensate] returns nil when every compensation completed and a
// [*CompensationError] otherwise, which lists each failed compensation (its
// index, its name and its error) and each skipped one.
//
// [Saga.CompensateOnError], deferred with a pointer to the workflow's named
// error result, compensates when the workflow returns an error and adds the
// outcome to that error: its text gains "; saga compensated N step(s)" or
// the text of the *CompensationError, and errors.Is and errors.As still find
// the original error (and the *CompensationError) in it. It does nothing when
// the error is nil, when the workflow continues as new, when the saga was
// compensated already, and when the function is unwinding from a panic or
// because the engine tears the run down (termination, eviction): a panic
// blocks the run until the code is fixed, and the fixed code decides. Defer
// CompensateOnError itself, not a closure that calls it: only then can it
// tell a panic from a return.
//
// # Cancellation
//
// Compensations always run in a context disconnected from the run's
// cancellation ([workflow.NewDisconnectedContext]), so a run that is
// canceled while a step is in flight still compensates: the canceled step
// returns an error that satisfies errors.Is(err, workflow.ErrCanceled),
// CompensateOnError compensates and keeps that error in the chain, and the
// run ends as canceled with the compensation outcome in its recorded error.
//
// # Nesting
//
// A child workflow can run its own saga: it compensates its own steps
// inside the child, before the parent sees the child fail, and the parent's
// saga then compensates the parent's steps. A compensation can itself be a
// child workflow ([AddChild]).
//
// # Journal markers
//
// The saga marks compensation in the run's journal with
// [workflow.RecordMarker], so people and tools reading the journal see which
// compensation ran, in which order, and why one failed. The markers are
// part of Chorus's journal format: their names and fields do not change
// meaning. Every marker's details are a [MarkerDetails], encoded with the
// engine's codec (JSON by default):
//
//	{"saga":"trip","index":1,"step":"cancel-hotel","kind":"activity","error":"..."}
//
// with these fields:
//
//   - saga: [Options].Name; omitted when empty.
//   - index: the compensation's position in the order the compensations
//     were added, from 0; compensations run from the highest index down.
//   - step: the compensation's name: the activity's or child workflow's
//     registered name, or the name given to AddFunc.
//   - kind: "activity", "child-workflow" or "func".
//   - error: the failure's text; only in saga.compensation.failed.
//
// The marker names ([MarkerStart], [MarkerDone], [MarkerFailed],
// [MarkerSkipped]):
//
//   - saga.compensation.start: the compensation is about to be started; the
//     next step of the journal is its ActivityScheduled or ChildStarted
//     command (for a func, whatever its code issues).
//   - saga.compensation.done: the compensation completed.
//   - saga.compensation.failed: the compensation failed for good (after its
//     retries); error says why.
//   - saga.compensation.skipped: the compensation was not run because an
//     earlier one failed and ContinueOnError is false.
//
// When a saga compensates, every compensation added to it gets exactly one
// of done, failed or skipped, and each done or failed marker follows the
// start marker of the same index. Sequential compensation writes start and
// done (or failed) in pairs, from the highest index down; parallel
// compensation writes the start markers in that order and the outcomes as
// they arrive. A saga with nothing to compensate writes no marker.
//
// # Determinism
//
// A saga is workflow state: it must be built by the same calls, in the same
// order, on every replay, like any other workflow code. The input given to
// Add or AddChild is encoded when the compensation is started; pass values,
// not pointers to data that changes later.
package saga

// Package workflow is what workflow code imports.
//
// A workflow is an ordinary Go function that orchestrates activities. Define
// it once, under a stable name that the journal records:
//
//	var PlaceOrder = workflow.New("place-order", func(ctx workflow.Context, o Order) (Confirmation, error) {
//		receipt, err := workflow.ExecuteActivity(ctx, Charge, ChargeReq{Order: o.ID, Cents: o.Cents}).Get(ctx)
//		if err != nil {
//			return Confirmation{}, err
//		}
//		...
//	})
//
// A workflow that returns only an error is defined with [NewVoid]; [Wait]
// waits for any future and returns only its error, which suits activities
// defined with activity.NewVoid, timers and signals:
//
//	if err := workflow.Wait(ctx, workflow.ExecuteActivity(ctx, SendEmail, e)); err != nil {
//		return err
//	}
//
// # Determinism
//
// The engine journals every command the function issues (each activity it
// schedules, its result) and every input it receives (each activity outcome,
// a cancellation). After a crash, or when a run was evicted from memory, the
// engine runs the function again from the start and feeds it the journal:
// completed activities are not executed again, their recorded results are
// returned instead. For that to work the function must issue the same
// commands in the same order each time it sees the same inputs. So workflow
// code must not read the wall clock, draw random numbers, start goroutines,
// use Go channels or select, or do I/O itself; it does those things through
// this package or inside activities.
//
// When a replay diverges from the journal, the engine stops the run with a
// *NonDeterminismError (from the chorus package) that names the step, what
// the journal holds and what the code did, and marks the run blocked: the
// journal is left untouched, and a process with fixed code resumes it.
//
// # Errors
//
// An activity that fails for good surfaces in the workflow as an
// [*ActivityError], which unwraps to an [*activity.Error] carrying the
// failure's type and message (errors cross the journal as data, so the
// original Go error value is not preserved). After the run was canceled,
// pending activities fail with an error for which errors.Is(err,
// [ErrCanceled]) holds, and so does the future of a child whose scope was
// canceled before its start was committed (the child never runs).
//
// # The end of a run
//
// When the workflow function returns (or the run is canceled, terminated or
// continues as new), activities and timers it never awaited are dropped:
// running attempts see their context canceled and nothing of them runs
// again. Child runs still going follow [ChildOptions.ParentClosePolicy].
package workflow

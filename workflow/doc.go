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
// # Mistakes the engine catches
//
// Two mistakes would otherwise hang or crash the host process, so the engine
// catches them and blocks the run instead, with a reason that says what to
// change; code fixed accordingly resumes the run after the next Open:
//
//   - Code blocked outside this package (on a Go channel, in select, on a
//     mutex, in time.Sleep, in I/O) or computing without end never hands
//     control back to the engine. When a workflow goroutine keeps control
//     longer than the engine's deadlock timeout (Options.DeadlockTimeout of
//     package chorus, 1 s by default, measured in real time per stretch of
//     execution; ten times that for code still computing), its run is
//     blocked with a *chorus.DeadlockError that holds
//     the goroutine's stack. The goroutine cannot be killed; it is abandoned
//     and ends at its next call into this package, without effect.
//   - A goroutine started with the go statement (or any goroutine other
//     than the run's own) that calls this package is stopped at that call
//     with runtime.Goexit, every time, and the run is blocked with a
//     *chorus.GoroutineError. Use [Go] instead.
//
// # Selectors
//
// A [Selector] waits for the first ready of several futures and channels,
// trying its cases in the order they were added. As in Temporal's SDK, a
// case fires once per thing that became ready, so one selector can be
// selected on in a loop: a future case is consumed when it fires (N futures
// are merged by N calls to Select, each once), and a receive case fires
// once per value its callback takes from the channel, then one last time
// when the channel is closed and drained (for [Context.Done]: once it is
// canceled). Select on a selector whose every case was consumed and that
// has no default panics rather than wait forever.
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

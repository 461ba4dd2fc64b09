// Package chorus is an embeddable durable-workflow engine: long-running
// business processes written as ordinary Go functions, journaled step by
// step to one SQLite file inside your own binary, so that they survive
// crashes and restarts and no completed step runs twice.
//
// # Quick start
//
//	var Charge = activity.New("charge-card", func(ctx context.Context, in ChargeReq) (Receipt, error) { ... })
//
//	var PlaceOrder = workflow.New("place-order", func(ctx workflow.Context, o Order) (Confirmation, error) {
//		r, err := workflow.ExecuteActivity(ctx, Charge, ChargeReq{Order: o.ID}).Get(ctx)
//		...
//	})
//
//	eng, err := chorus.Open(ctx, "orders.db", nil)
//	err = eng.Register(PlaceOrder, Charge)
//	run, err := chorus.Start(ctx, eng, PlaceOrder, order, &chorus.StartOptions{ID: "order-42"})
//	conf, err := run.Result(ctx)
//
// # Context propagation
//
// [Options].ContextPropagators carry values such as a tenant, a user, a
// request ID or a trace context from the context given to [Start] (and
// [SignalWithStart]) into the run: its workflow code reads them from its
// workflow.Context, each activity attempt from its context.Context, and
// child runs and generations continued as new get them too. They are
// journaled with the run's start, so a run rebuilt after a restart, and
// its replay, see the same values. [NewStringPropagator] carries string
// values ([WithStringValue], [StringValue]); see [ContextPropagator] for
// others.
//
// # Recovery
//
// Every step is committed to the journal before anything depends on it. When
// a process dies and the database is opened again, [Open] dispatches the
// activities that were scheduled and not yet recorded as finished (they run
// again: activities execute at least once and are recorded exactly once),
// and each run is rebuilt by replaying its journal when it next has work.
// A restarted process gets a handle to a run it started before with
// [Lookup].
//
// # Determinism
//
// Replay re-executes the workflow function and matches each command it
// issues against the journal by position and name. When the code no longer
// matches, the run is not failed: it is marked blocked with a
// [*NonDeterminismError] that names the run, the step, what the journal
// holds and what the code did, and it resumes when a process with fixed code
// opens the database. [Engine.Describe] and [Run.Result] wait for that resume,
// so they never report the block the fixed code has cleared.
//
// # Run IDs and the end of a run
//
// A run ID names one run at a time. [StartOptions.IDReusePolicy] says whether
// a new run may take the ID of one that exists: [Start] rejects it by default,
// [SignalWithStart] starts a new run on the ID of an ended one, as Temporal
// does. A run that ends leaves no work behind: the commit that ends it
// removes its un-awaited activities and timers, and its children follow their
// workflow.ChildOptions.ParentClosePolicy (terminated by default).
//
// [StartOptions.ExecutionTimeout] bounds a run across all its generations
// (continue-as-new keeps the deadline) and [StartOptions.RunTimeout] each
// generation; workflow.ChildOptions has both for children. The deadline is
// journaled with the generation's start and measured on [Options].Clock, so
// it holds across restarts and a process down at the deadline ends the run
// when it opens the database again. A run past its deadline ends as a
// terminated one does, blocked or not, with status [StatusTimedOut]: its
// journal ends with RunTerminated holding a failure of type
// [FailureTypeWorkflowTimeout], and its error (from [Run.Result], or a
// child's in its parent) matches [ErrWorkflowTimeout].
//
// # Registration
//
// Workflows and activities are registered under the names given to
// workflow.New and activity.New. Work found in the journal for a name not
// registered yet waits for it: pass the definitions in
// [Options.Definitions] (or register right after [Open]), and
// [Engine.CheckRegistrations] names anything the journal needs that the
// binary lacks. Nothing waits silently: the engine logs a warning for each
// such wait (to slog.Default() unless [Options].Logger says otherwise), and
// [Engine.Describe] lists, in [RunInfo].Unregistered, the activities and
// child workflows a run waits for that are not registered.
//
// # Updates
//
// An update is a request into a running run that returns its handler's
// result, like Temporal's: define it with workflow.NewUpdate, handle it with
// workflow.SetUpdateHandler, send it with [Update] (or [UpdateWithID],
// [StartUpdate]). The handler's validator runs first, read-only like a
// query handler; an update it refuses ([*UpdateRejectedError]), one the run
// has no handler for ([ErrUnknownUpdate]; register handlers before the
// code first waits), an ended run ([ErrRunEnded]) or a blocked one
// ([*BlockedError]) writes nothing. An accepted update is journaled
// (UpdateAccepted, then UpdateCompleted or UpdateFailed), and its handler
// runs as a workflow goroutine that may execute activities and wait; replay
// runs it again at the same point. Its update ID makes it idempotent within
// the run's current generation: the same ID again returns the recorded
// outcome, also after the engine was closed and reopened. A run that ends
// while a handler still runs ends anyway, and that update's caller gets
// [ErrUpdateUnfinished]; workflow.AllHandlersFinished lets the code wait.
//
// # Retention
//
// Runs are kept until deleted. [Options.Retention] deletes, in the
// background, the runs that ended longer ago than it says; [Engine.Purge]
// deletes those that ended before a cutoff, on demand. Both work in small
// transactions with a pause between them, so the engine keeps answering
// during a long purge. A run in flight (running or blocked) is never
// deleted, nor an ended run the engine still owes work to (see
// [Engine.Purge]). A deleted run is gone with its history: [Engine.Describe]
// answers [ErrRunNotFound], and its ID can be started again.
//
// # Queues
//
// [Options].Queues declares named queues ([Queue]) with a concurrency cap
// (from the database, and per process), a rate limit, partitions by key
// and debouncing. A run started with [StartOptions].Queue waits in its
// queue, durably and with status [StatusQueued], until the queue lets it
// start, lowest [StartOptions].Priority first and first in, first out
// within a priority; [StartOptions].DedupID refuses a second live run
// with the same ID ([ErrQueueDuplicate]). Activities whose options name a
// queue (activity.Options.Queue) have their attempts bounded by its
// limits across every run. [Engine.Queues] and the chorus queues command
// show each queue's depth and wait times.
//
// # Related packages
//
// Workflow code imports [github.com/chorusdev/chorus/workflow], activity
// code [github.com/chorusdev/chorus/activity]; compensations come from
// [github.com/chorusdev/chorus/saga]. Tests use
// [github.com/chorusdev/chorus/testing] (a fake clock that skips, mocks, a
// replay check of every run) and [github.com/chorusdev/chorus/replay]
// (recorded histories against new code). The journal's format and storage
// are [github.com/chorusdev/chorus/history] and its sqlite subpackage.
package chorus

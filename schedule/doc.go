// Package schedule starts workflows on a timetable: cron expressions (with
// time zones) or fixed intervals, durably.
//
//	chorus.Open(...); eng.Register(Reconcile)
//	schedule.Enable(eng)
//	err := schedule.Create(ctx, eng, "nightly-reconcile",
//		schedule.Spec{Cron: "0 2 * * *", TimeZone: "Europe/Paris", Jitter: 5 * time.Minute},
//		Reconcile, ReconcileInput{Ledger: "main"})
//
// # How it works
//
// Each schedule is a run of the workflow [WorkflowName] under the run ID
// [RunID](id), so it is journaled, survives crashes and restarts, runs on
// the engine's clock (a fake clock in tests), and shows in the CLI and the
// dashboard like any run. It sleeps on a durable timer until its next tick,
// then starts the action's run with an ID derived from the schedule and the
// scheduled time ([ActionRunID]): "nightly-reconcile@2026-03-02T01:00:00Z".
// The engine refuses a second run with that ID, so a restart, a replay or a
// second process never starts one tick twice. The run continues as new
// every few hundred wake-ups to keep its history short.
//
// # Overlap, catch-up and jitter
//
// [Spec].Overlap says what a tick does while the previous action runs:
// skip it (the default), keep one to start when it ends, start it alongside,
// or cancel the previous one. After downtime, ticks missed within
// [Spec].CatchupWindow are started at once, in order; older ones are counted
// as missed. [Spec].Jitter spreads starts by a delay that is the same for a
// given tick in every process.
//
// # Operating schedules
//
// [Pause], [Resume], [Trigger], [Backfill], [Update] and [Delete] send a
// [Control] signal to the schedule's run; [Describe] queries it and
// [List] lists the schedules. The schedule also keeps its [Description] in
// its run's memo ([MemoKey]), which is what `chorus schedule list` and
// `chorus schedule describe` read from the database file; `chorus schedule
// pause|resume|trigger` send the same signals as these functions.
//
// After a restart, call [Enable] and [Register] (for each workflow that
// schedules start) right after chorus.Open, as for every workflow: the
// schedules resume by themselves.
package schedule

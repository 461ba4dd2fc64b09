// Package history defines the journal that Chorus keeps for every run: the
// event types, the [Batch] a run's step commits as one unit, the [Store]
// interface a storage back end implements, the [Codec] that turns payloads
// into bytes, and the sentinel errors stores translate their driver errors to.
//
// # The journal
//
// Each run owns an append-only sequence of [Event] values numbered from 1.
// Events are either commands, which the workflow code issued (an activity
// was scheduled, the run completed), or inputs, which came from outside the
// code (an activity finished, a cancellation was requested). Replay feeds the
// inputs back to the code in journal order and checks that the code issues
// the same commands again, in the same order, with the same names.
//
// Besides the journal a store keeps indexes that can be rebuilt from it: one
// row per run with its status and outcome, and one row per pending
// task (an activity to run, a timer to fire, a child to start, ...) so that recovery after a crash does not have to replay every run.
//
// # Dependencies
//
// This package imports nothing else of Chorus. Stores (such as
// [github.com/chorusdev/chorus/history/sqlite]) import only this package.
package history

// Package postgres is a [history.Store] kept in a PostgreSQL database, for
// applications that outgrow one machine's SQLite file: the journal lives in
// the database a team already operates, and a standby engine in another
// process (on another machine) takes over the work when the engine that
// owns the database dies.
//
//	store, err := postgres.Open(ctx, "postgres://app@db:5432/app", &postgres.Options{Standby: true})
//	...
//	engine, err := chorus.OpenStore(ctx, store, nil)
//
// # Ownership
//
// One engine at a time writes a database (the schema its connection's
// search_path names first), as with SQLite, where a file's flock keeps a
// second engine out; here a lease row does. [Open] takes the lease, and a
// background goroutine renews it every [Options.LeaseTTL]/3. Another Open
// fails with an error wrapping [history.ErrLocked] while the lease is held,
// or, with [Options.Standby], waits until the lease expires (its owner died
// or lost the database) or is released by [Store.Close], and then takes
// the database over; the engine started on it recovers the work as after a
// restart.
//
// Each takeover raises the lease's epoch, the fencing token. Every write
// transaction reads the epoch and holds the lease row (FOR SHARE) until it
// ends, so a takeover waits for a commit in flight, and a store whose epoch
// is no longer the current one (a process paused past its lease, whose work
// another engine took over) cannot write: its writes fail with an error
// wrapping both [ErrFenced] and [history.ErrStoreClosed], so that its engine
// stops as if its store were closed, and [Store.Lost] is closed. A process
// paused in the middle of a write transaction would hold the lease row's
// lock and keep the standby waiting; the store's sessions set
// idle_in_transaction_session_timeout to the lease's TTL, so the server
// ends such a transaction (a connection string that sets it wins). An
// activity that such a process was running may still finish there: as
// after any crash, the new owner runs it again (activities run at least
// once), but never one whose completion was committed.
//
// # Schema
//
// The tables (chorus_runs, chorus_events, chorus_tasks, ...) are created
// and upgraded by numbered migrations embedded in the package, applied by
// Open in one transaction under an advisory lock; a database written by a
// newer version fails with [history.ErrSchemaTooNew]. Times are stored as
// Unix nanoseconds, so they read back to the nanosecond.
//
// # Group commit
//
// [Store.Commit] applies the engine's batches, which may belong to many
// runs, in one transaction, sent with the lease check in one round trip (a
// pipeline). A batch that fails a precondition (a conflict, an existing
// run) writes nothing and the others commit: the group then goes again
// batch by batch, each run row first, and, for a batch that failed after
// writing part of itself, under a savepoint per batch, so that it is
// rolled back alone.
//
// Only applications that import this package link the PostgreSQL driver
// (github.com/jackc/pgx/v5); the rest of Chorus never imports it.
package postgres

// Package postgres is a [history.Store] kept in a PostgreSQL database, for
// applications that outgrow one machine's SQLite file: the journal lives in
// the database a team already operates, and either several engine
// processes (on several machines) share the work, each executing the
// workflow code of its own runs, or one engine owns the database and a
// standby in another process takes over when it dies.
//
//	store, err := postgres.Open(ctx, "postgres://app@db:5432/app", &postgres.Options{Shared: true})
//	...
//	engine, err := chorus.OpenStore(ctx, store, nil)
//
// # Ownership
//
// A database is used in one of two modes, by every engine on it: shared
// ([Options.Shared]) or single-owner (the default). An Open in one mode
// fails with [history.ErrLocked] while a live engine uses the database in
// the other.
//
// # Shared mode
//
// In shared mode each store is a node: Open registers a row named
// [Options.Owner] (by default the host name, the process ID and a random
// suffix) with a lease that the store renews every [Options.LeaseTTL]/3,
// and whose epoch, drawn from a sequence, is the node's fencing token.
// Each run belongs to the node that created it (a Start, a child run, a
// queued run claimed by that node), and only that node writes to it:
//
//   - every write transaction holds the node's row (FOR SHARE) and checks
//     its epoch, as single-owner mode does with the database's lease;
//   - every batch on an existing run checks that the run is this node's; a
//     batch on another node's run fails alone with [history.ErrNotOwner]
//     (a [*history.NotOwnerError] naming the owner) and writes nothing, so
//     that a Signal, Cancel, Terminate or Update sent to an engine that does
//     not own the run returns that error: send it to the owner (a request
//     is not forwarded). Reads (Describe, List, a run's result, a Query
//     answered by replaying the journal) work on every node;
//   - [Store.Tasks] returns the tasks of this node's runs only, so an
//     engine at Open recovers its own work; queue claims are shared (the
//     node that claims a queued item starts the run and owns it).
//
// When a node's lease expires (its process died, or was paused or cut off
// for longer than LeaseTTL), the other nodes adopt its runs: each one,
// every LeaseTTL/3, looks for expired nodes, and in one transaction locks
// such a node's row (FOR UPDATE SKIP LOCKED, so that two survivors never
// adopt the same node), moves its runs to itself and deletes the row; the
// engine then starts the adopted runs' pending work as it does at Open
// ([Store.Adopted], [history.RunAdopter]). The old node, should it wake
// up, finds its row gone: its writes fail with [ErrFenced], and Lost is
// closed. A node reopened under the same Owner name after its lease
// expired, and before another node adopted its runs, keeps them. The
// first shared node on a database that a single-owner engine used adopts
// the runs no node owns.
//
// # Single-owner mode
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

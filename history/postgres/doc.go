// Package postgres is a [history.Store] kept in a PostgreSQL database, for
// applications that outgrow one machine's SQLite file: the journal lives in
// the database a team already operates, and a standby engine in another
// process (on another machine) takes over the work when the engine that
// owns the database dies.
//
// # Ownership
//
// One engine at a time writes a database (or a schema of it, see
// [Options.Schema]), as with SQLite; a database file's flock becomes a lease
// row here. [Open] acquires the lease, and a background goroutine renews it
// every [Options.LeaseTTL]/3. Another Open fails with an error wrapping
// [history.ErrLocked] while the lease is held, or, with [Options.Wait],
// waits as a standby until the lease expires (its owner died or lost the
// database) or is released by [Store.Close], and then takes over.
//
// Each takeover increments the lease's epoch, the fencing token. Every
// commit reads the epoch in its own transaction, and a store whose epoch is
// no longer the current one (a process that was paused past its lease, and
// whose work another engine has taken over) cannot write: its operations
// fail with an error wrapping both [ErrFenced] and [history.ErrStoreClosed],
// so that its engine stops as if its store were closed, and
// [Options.OnLeaseLost] is called once.
//
// # Schema
//
// The schema is created and upgraded by numbered migrations embedded in
// the package, applied by Open under an advisory lock; a database written by
// a newer version fails with [history.ErrSchemaTooNew].
//
// # Group commit
//
// [Store.Commit] applies the engine's batches, which may belong to many
// runs, in one transaction; each batch runs under a savepoint, so that a
// batch that fails (a conflict, an existing run) is rolled back alone and
// the others commit.
//
// Only applications that import this package link the PostgreSQL driver
// (github.com/jackc/pgx/v5); the rest of Chorus never imports it.
package postgres

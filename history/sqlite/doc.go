// Package sqlite is the default [history.Store] of Chorus: the journal, the
// run index and the pending tasks kept in one SQLite database file,
// through the pure-Go driver modernc.org/sqlite (no cgo).
//
// A [Store] has one writer connection and a small pool of reader
// connections. The writer's transactions start with BEGIN IMMEDIATE, so a
// transaction holds the write lock from its first statement and never fails
// halfway for want of it; [Store.Commit] writes many batches in one such
// transaction (group commit), which is what makes one fsync serve many
// workflow steps. In WAL mode the readers see the last committed state and
// neither wait for the writer nor make it wait. Every PRAGMA the store relies
// on is set in one place, the connection string, so that every connection,
// including ones database/sql opens later, is configured the same way.
//
// # Opening
//
// [Open] creates the database when the file does not exist or is empty. An
// existing file is first inspected read-only: its first 100 bytes must be a
// SQLite header consistent with the file's size, and SQLite, opened read-only
// and without side files, must report the Chorus [ApplicationID] (or an
// empty database, which Open adopts). Only then does Open switch the file to
// WAL mode and apply migrations. A file that is not SQLite, or is the
// database of another application, is refused with an error wrapping
// [history.ErrNotChorusDatabase]; a database written by a newer Chorus with
// [history.ErrSchemaTooNew]; a truncated or malformed one with
// [history.ErrCorrupt]. In each of these cases the file is left byte for byte
// as it was, and no -wal or -shm file is created next to it.
//
// The path ":memory:" opens a store that lives in memory, for tests. It has a
// single connection that serves reads and writes, and each such store is
// separate from every other.
//
// # File permissions
//
// Payloads often hold personal data, so a database file that Open creates
// is readable and writable by its owner only (0600), whatever the process's
// umask; [Options.FileMode] chooses another permission. SQLite gives the
// -wal and -shm files it keeps beside the database the database's
// permission. An existing database keeps the permission it has, which its
// owner may have chosen (chmod 600 makes an older, wider one private).
//
// # Durability (FULL vs NORMAL)
//
// The database runs in WAL (write-ahead log) mode. [Options.Synchronous]
// chooses when a commit waits for the disk:
//
//   - [SynchronousFull], the default, syncs the log on every commit: when
//     Commit returns, the batches survive a crash of the process, of the
//     operating system, or a power loss.
//   - [SynchronousNormal] syncs only when the log is checkpointed into the
//     database. A crash of the process still loses nothing, because the
//     operating system holds the written log; but a power loss or an
//     operating-system crash can lose the last commits that Commit
//     acknowledged. It never corrupts the database: after such a crash the
//     journal is as it was at some earlier commit. Choose NORMAL only when
//     redoing the last few workflow steps (activities run again) is
//     acceptable.
//
// Checkpoints, which copy the log back into the database file, do not run
// inside a commit: a goroutine of the store with a connection of its own
// runs them in the background every 1,000 pages of log, with the same
// synchronous setting, and the writer runs a short one itself every 4,000
// pages so that the log starts again from its beginning (its file stays
// within about 32 MiB). What a crash can lose is the same as above.
//
// # Schema and migrations
//
// The schema is a list of numbered SQL files embedded in the package
// (migrations/0001_init.sql, ...). Open applies those the database lacks,
// in order, each in a transaction of its own that also records the new
// version in PRAGMA user_version and sets PRAGMA application_id to
// [ApplicationID], so a crash leaves the database at one version or the next,
// never between. [SchemaVersion] is the newest version this code knows; a
// database at a newer version is refused rather than misread. Migrations are
// only ever appended: a released one never changes.
//
// The tables are:
//
//   - runs, the index row of each run, keyed by id: its workflow, status,
//     times, outcome, last_seq (the Seq of its last event), first_seq (the
//     Seq of the RunStarted event of its current generation, 1 until it
//     continues as new) and, for a child workflow, parent_run and
//     parent_step (NULL and 0 for a run started from outside; a partial
//     index over parent_run finds a run's children), and the checksums sum
//     and outcome_sum;
//   - events, the journal, keyed by run and sequence number, each row with
//     its checksum (sum);
//   - tasks, the pending work (activities, timers, children to start or
//     cancel, parents to notify, signals to deliver), keyed by run and step,
//     with its kind ([history.TaskKind]) and name, the state of an activity
//     attempt that must survive a crash (pending: the start of an attempt
//     that waits to be completed from outside; heartbeat: the last
//     heartbeat details; canceled: a cancellation the workflow waits on;
//     last_failure and first_failure_at: the latest failed attempt's
//     failure and when the first one failed, while the activity retries),
//     and the checksums sum, attempt_sum, state_sum and failure_sum;
//   - run_attrs, the current search attributes of each run, keyed by run
//     and name, with their kind ([history.AttrKind]) and value (text_val
//     for a keyword, int_val otherwise), indexed by (name, kind, value,
//     run) so that a list by attribute reads in run ID order; and
//     run_memo, the memo entries, unindexed. Both are derived from the
//     journal's SearchAttributesUpserted events, written in the same
//     transaction as them, and cleared when a run starts a new generation;
//     they carry no checksum, since the journal remains the record.
//
// Migration 0002 brought task kinds, generations and parent links; a
// database of version 1 reads back with every task an activity, every run's
// first_seq 1 and no parents. Migration 0003 brought the checksums below
// to events and runs, and 0004 to tasks; rows written before them have none
// and are read unchecked. Migration 0005 brought the pending, heartbeat
// and canceled columns of tasks and their checksum state_sum; older rows
// have NULLs there: not pending, no details, not canceled, nothing to
// check. Migration 0006 brought run_attrs, run_memo and indexes on
// runs.created_at and runs.updated_at for time-range listings, and 0007
// the last_failure, first_failure_at and failure_sum columns of tasks
// (NULLs in older rows: no failure recorded).
//
// Migration 0010 rebuilt events and tasks, WITHOUT ROWID tables until then,
// as rowid tables with a unique index on (run_id, seq) and (run_id, step):
// a row with a kilobyte payload stays inline on its page instead of
// spilling to overflow pages, and new rows are appended at the end of the
// table, so a step with a large payload costs little more than a small
// one. Rows, checksums, hashes and triggers on the two tables are kept.
// It also brought tasks.input_in_event: a task input of 256 bytes or more
// that the batch's event at the task's step holds too (an activity's input
// and its ActivityScheduled event) is stored once, in the event; the
// task's checksum still covers it. Migration 0011 made the index on
// runs.updated_at a partial index of ended runs, the only ones listings by
// close time look for, so that a step of a running run no longer moves an
// entry in it.
//
// Times are stored as Unix nanoseconds (NULL for the zero time) and read back
// in UTC; payloads are BLOBs, and an empty payload reads back as nil.
//
// # Damaged rows
//
// Every journal event is written with a checksum (CRC-32C) of its run,
// seq, type, name, ref, payload and time, and every run row with one of
// the columns it fixes at creation (workflow, created_at, parent) and one
// of its outcome (status, result, failure), rewritten with each status
// change. Every task row is written with a checksum of the columns it
// fixes when it is added (run, step, kind, name, input, options), one of
// its attempt and not_before, rewritten with each retry, one of its
// pending mark, heartbeat details and cancellation, and one of its last
// failure and the time of its first. A row whose
// content no longer matches its checksum was damaged
// after it was written (by the disk, a bad copy, a hand edit); it is
// reported, like a row that cannot be decoded at all (an unknown event type,
// status or task kind, a value of the wrong type, a first_seq outside the
// journal, a gap in a journal), with an error wrapping [history.ErrCorrupt]
// that names the run and, for an event or a task, its sequence number or
// step. The damage
// stays with its run:
//
//   - [Store.Events] and [Store.Run] of that run fail, and never return the
//     altered data as if it were the workflow's; the engine blocks the run
//     with the error as its reason, and other runs go on;
//   - [Store.ListRuns] lists a run whose row is damaged in its place, with
//     [history.RunInfo.Damaged] set, and lists the other runs as usual;
//   - [Store.Tasks] lists a task whose row is damaged in its place, with
//     [history.Task.Damaged] set, and lists the other tasks as usual; the
//     engine runs none of that run's tasks and blocks the run with the
//     error as its reason.
//
// Damage inside SQLite's own structures (a malformed page, rather than a
// well-formed row with wrong content) is reported by SQLite for whatever
// read crosses it, also as [history.ErrCorrupt]; [Store.IntegrityCheck]
// finds it. A checksum tells damage from data; it does not stop someone who
// can write the file from recomputing it.
//
// Errors never carry a driver type: the store translates them to the
// sentinels of package history where one fits and keeps only the driver's
// message otherwise.
package sqlite

// Command chorus inspects a Chorus database while the application that owns
// it runs: list runs, show one, print its journal or export it for replay,
// count runs and time them, verify the database's integrity, and serve the
// dashboard over it. It also acts on runs: signal, cancel, terminate, and
// purges ended ones. The database is a SQLite file or, wherever FILE
// appears below, a PostgreSQL database named by its URL (see PostgreSQL).
//
//	chorus runs list FILE [--status S,...] [--workflow W] [--attr NAME[:KIND]OP VALUE]...
//	       [--created-after T] [--created-before T] [--closed-after T] [--closed-before T]
//	       [--after ID] [--limit N]
//	chorus runs show FILE ID
//	chorus history FILE ID [--export]
//	chorus stats FILE
//	chorus verify FILE
//	chorus serve FILE [--addr 127.0.0.1:8233] [--token-file F] [--prefix /chorus]
//	chorus purge FILE --finished-before T [--workflow W] [--limit N]
//	chorus signal FILE ID NAME JSON [--identity WHO]
//	chorus cancel FILE ID [--identity WHO]
//	chorus terminate FILE ID --reason TEXT [--identity WHO]
//	chorus signal|cancel|terminate [-] ID ... --addr URL [--token T]
//
// Every command prints a table, or JSON with --json. The read commands
// (runs, history, stats, verify) open the file read-only and without a lock.
// serve runs the dashboard (package ui) read-only, on 127.0.0.1 unless
// --addr says otherwise; with a token (--token-file, or CHORUS_TOKEN) every
// page and API call needs it.
//
// The journal has one owner at a time: purge, signal, cancel and terminate
// open the file themselves only while no process holds it, and signal,
// cancel and terminate act through the owning application's dashboard API
// instead when given its URL (--addr; the token is --token or
// $CHORUS_TOKEN). Through the file, a terminate ends the run at once, and a
// cancel or a signal is queued in the journal until the application next
// opens the file with the run's workflow registered.
//
// # PostgreSQL
//
// FILE may be a connection URL, postgres://USER[:PASSWORD]@HOST[:PORT]/DB
// (or postgresql://...), with ?search_path=SCHEMA when the tables are not in
// the user's default schema; the password is better left to PGPASSWORD or
// ~/.pgpass (a command line is visible to other users) and is never
// printed. runs, history, stats, verify, queues, schedule list and serve
// read the database without taking its ownership lease, so they work while
// the engine that owns it runs, and that engine never waits for them; a
// database without Chorus tables, or with tables of another version, is
// refused and left untouched. verify checks every run row, journal and
// pending task it can read and says what it does not check there (the
// PostgreSQL store keeps no row checksums and no hash chain). signal, cancel
// and terminate act through the owning application's dashboard (--addr);
// without --addr they, and purge, take the database's lease themselves,
// which fails at once, naming the owning engine, while one holds it. audit
// and events work on SQLite files only.
//
//	chorus runs list postgres://app@db.internal/app --status failed
//	chorus serve 'postgres://app@db.internal/app?search_path=orders'
//	chorus cancel - order-42 --addr https://app.internal/chorus
//
// Exit status: 0 on success, 1 when the command failed (missing or foreign
// file or database, unknown or ended run, file or database held by a
// running process, server refused, damage found by verify), 2 on a usage
// error.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/chorusdev/chorus/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

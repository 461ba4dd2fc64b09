// Package cli is the chorus command: it reads a Chorus database (a SQLite
// file, or a PostgreSQL database named by a postgres:// URL) and shows its
// runs, journals and statistics, as tables or as JSON.
//
// The read commands (runs, history, stats, verify, serve) open the file with
// [sqlite.OpenReadOnly]: no lock is taken and nothing is written, so they
// work while the application that owns the file runs, and the application
// never waits for them. purge writes, so it opens the file itself, which only
// works while no process holds it. signal, cancel and terminate act through
// the owning process's dashboard API when given its URL (--addr), and
// otherwise open the file themselves, as purge does (see act.go).
//
// On PostgreSQL (see target.go) the read commands use
// [postgres.OpenReader], which takes no lease; purge, and signal, cancel
// and terminate without --addr, take the database's lease with
// [postgres.Open] only while no engine holds it. A URL's password is never
// printed.
//
// Exit status: 0 on success, 1 when the command failed (a missing or foreign
// file, an unknown or ended run, a file held by a running process, a server
// that refused, damage found by verify), 2 on a usage error (an unknown
// command or flag, a wrong number of arguments, a bad flag value, a signal
// value that is not JSON).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/codec"
)

// Exit statuses.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// usageError marks an error in the command line rather than in its work.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// errDamaged is returned by verify when it found damage; the report is
// already printed.
var errDamaged = errors.New("damage found")

// Run runs the chorus command with args (without the program name), writing
// its output to stdout and errors to stderr, and returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "chorus: %v\n", err)
		fmt.Fprintln(stderr, "Run 'chorus --help' for usage.")
		return ExitUsage
	}
	if !errors.Is(err, errDamaged) {
		fmt.Fprintf(stderr, "chorus: %v\n", err)
	}
	return ExitError
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "chorus",
		Short: "Inspect a Chorus database and act on its runs",
		Long: `chorus inspects a Chorus database file and acts on its runs. runs, history,
stats and verify only read: the file is opened read-only without a lock, so
they work while the application runs. purge deletes old ended runs and needs
the file to itself. serve runs the dashboard over the file, read-only. signal,
cancel and terminate act through the application's own dashboard (--addr)
while it runs, or on the file while no process holds it.
Output is a table, or JSON with --json.

FILE may also be a PostgreSQL database, named by a connection URL
(postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?search_path=SCHEMA]; prefer
PGPASSWORD or ~/.pgpass to a password in the URL, which other users can read
in the process list; it is never printed). runs, history, stats, verify,
queues, schedule list and serve read it without taking its lease, so they
work while the engine that owns it runs. signal, cancel and terminate act
through the owning application's dashboard (--addr), or take the lease
themselves while no engine holds it, as purge does. audit and events work on
SQLite files only.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.PersistentFlags().Bool("json", false, "print JSON instead of a table")
	root.PersistentFlags().String("keys", "", "keyring `FILE` that decrypts encrypted payloads (ID=BASE64KEY lines; default $"+codec.DefaultKeysEnv+"); without it they print as <encrypted: key K>")

	runs := &cobra.Command{Use: "runs", Short: "List runs and show one run", Args: noArgs}
	runs.RunE = func(cmd *cobra.Command, args []string) error {
		return usagef("runs: a subcommand is required (list or show)")
	}
	runs.AddCommand(listCmd(), showCmd())
	root.AddCommand(runs, historyCmd(), statsCmd(), verifyCmd(), auditCmd(), purgeCmd(), serveCmd())
	root.AddCommand(signalCmd(), cancelCmd(), terminateCmd())
	root.AddCommand(scheduleCmd())
	root.AddCommand(resetCmd(), batchCmd())
	root.AddCommand(queuesCmd())
	root.AddCommand(eventsCmd())
	// An unknown command is a usage error too.
	root.Args = noArgs
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	return root
}

// noArgs refuses arguments where a subcommand was expected.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: want %s, got %d argument(s)", cmd.CommandPath(), names, len(args))
		}
		return nil
	}
}

// jsonFlag reports whether --json was given.
func jsonFlag(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

// Package cli is the chorus command: it reads a Chorus database file and
// shows its runs, journals and statistics, as tables or as JSON.
//
// Every command but purge only reads. It opens the file with
// [sqlite.OpenReadOnly]: no lock is taken and nothing is written, so it works
// while the application that owns the file runs, and the application never
// waits for it. purge writes, so it opens the file itself, which only works
// while no process holds it.
//
// Exit status: 0 on success, 1 when the command failed (a missing or foreign
// file, an unknown run, damage found by verify), 2 on a usage error (an
// unknown command or flag, a wrong number of arguments, a bad flag value).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history/sqlite"
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
		Short: "Inspect a Chorus database: runs, journals, statistics, integrity",
		Long: `chorus inspects a Chorus database file. Every command but purge only reads:
the file is opened read-only without a lock, so it works while the application
runs. purge deletes old ended runs and needs the file to itself.
Output is a table, or JSON with --json.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.PersistentFlags().Bool("json", false, "print JSON instead of a table")

	runs := &cobra.Command{Use: "runs", Short: "List runs and show one run", Args: noArgs}
	runs.RunE = func(cmd *cobra.Command, args []string) error {
		return usagef("runs: a subcommand is required (list or show)")
	}
	runs.AddCommand(listCmd(), showCmd())
	root.AddCommand(runs, historyCmd(), statsCmd(), verifyCmd(), purgeCmd(), serveCmd())
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

// open opens the database file read-only.
func open(ctx context.Context, path string) (*sqlite.Store, error) {
	return sqlite.OpenReadOnly(ctx, path, nil)
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
)

// purgeBatch is how many runs one transaction of the purge deletes.
const purgeBatch = 500

func purgeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "purge FILE --finished-before T",
		Short: "Delete runs that ended before a time (needs the file to itself)",
		Long: `purge deletes the runs that ended (completed, failed, canceled, terminated or
timed out) before --finished-before (RFC 3339), with their whole history, in
transactions of 500 runs. Runs in flight, and ended runs the engine still owes
work to (a child whose parent has not recorded its end, a parent whose children
are still running), are never deleted.

Unlike the other commands, purge writes: it opens the file itself, which it
can only do while no process holds it. While the application runs, purge from
inside it instead (chorus.Engine.Purge, or chorus.Options.Retention). On a
PostgreSQL database (FILE is a postgres:// URL) it takes the database's lease,
which it can only do while no engine holds it.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			before, err := timeFlag(cmd, "finished-before")
			if err != nil {
				return err
			}
			if before.IsZero() {
				return usagef("purge: --finished-before is required (RFC 3339, e.g. 2026-01-01T00:00:00Z)")
			}
			workflow, _ := cmd.Flags().GetString("workflow")
			limit, _ := cmd.Flags().GetInt("limit")
			if limit < 0 {
				return usagef("purge: --limit is %d; want 0 (no limit) or more", limit)
			}
			n, err := purge(cmd.Context(), args[0], before, workflow, limit)
			if err != nil {
				return err
			}
			if isPostgres(args[0]) {
				if jsonFlag(cmd) {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"purged": n, "finished_before": before.UTC().Format(time.RFC3339Nano), "opened": "database"})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "purged %d run(s) that ended before %s (this command took the database's lease: no engine held it)\n",
					n, before.UTC().Format(time.RFC3339))
				return nil
			}
			if jsonFlag(cmd) {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"purged": n, "finished_before": before.UTC().Format(time.RFC3339Nano), "opened": "file"})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "purged %d run(s) that ended before %s (the file was opened by this command: no process held it)\n",
				n, before.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().String("finished-before", "", "delete runs that ended before this time (RFC 3339)")
	cmd.Flags().String("workflow", "", "only runs of this workflow")
	cmd.Flags().Int("limit", 0, "delete at most this many runs (0: no limit)")
	return cmd
}

// timeFlag parses an RFC 3339 flag; the zero time when it is not set.
func timeFlag(cmd *cobra.Command, name string) (time.Time, error) {
	v, _ := cmd.Flags().GetString(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usagef("--%s %q is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)", name, cut(v))
	}
	return t, nil
}

// cut shortens a value quoted in an error.
func cut(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// purge opens the file for writing (it takes the engine's lock, so it
// fails while a process holds the file) and deletes in batches.
func purge(ctx context.Context, path string, before time.Time, workflow string, limit int) (int, error) {
	if isPostgres(path) {
		st, err := openOwner(ctx, path, "purge", "purge from inside it (chorus.Engine.Purge or Options.Retention)")
		if err != nil {
			return 0, err
		}
		n, err := purgeBatches(ctx, st, before, workflow, limit)
		return n, pgError(path, errors.Join(err, st.Close()))
	}
	ro, err := sqlite.OpenReadOnly(ctx, path, nil)
	if err != nil {
		return 0, err // missing, foreign or older or newer file: never create or migrate one here
	}
	if err := ro.Close(); err != nil {
		return 0, err
	}
	st, err := sqlite.Open(ctx, path, nil)
	if errors.Is(err, history.ErrLocked) {
		return 0, fmt.Errorf("%s is held by a running process; purge from inside it (chorus.Engine.Purge or Options.Retention): %w", path, err)
	}
	if err != nil {
		return 0, err
	}
	defer st.Close()
	return purgeBatches(ctx, st, before, workflow, limit)
}

// purgeBatches deletes in transactions of purgeBatch runs.
func purgeBatches(ctx context.Context, st history.Store, before time.Time, workflow string, limit int) (int, error) {
	total, after := 0, ""
	for limit == 0 || total < limit {
		batch := purgeBatch
		if limit > 0 {
			batch = min(batch, limit-total)
		}
		res, err := st.PurgeRuns(ctx, history.PurgeFilter{Before: before, Workflow: workflow, AfterID: after, Limit: batch})
		if err != nil {
			return total, fmt.Errorf("purge (after %d run(s) deleted): %w", total, err)
		}
		total += res.Deleted
		if res.Next == "" {
			break
		}
		after = res.Next
	}
	return total, nil
}

package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/inspect"
)

// `runs list --json` is an [inspect.RunPage]: the runs, and the --after
// value of the next page when --limit filled this one.

func listCmd() *cobra.Command {
	var status, workflow, after string
	var createdAfter, createdBefore, closedAfter, closedBefore string
	var attrs []string
	var limit int
	cmd := &cobra.Command{
		Use:   "list FILE",
		Short: "List runs, ordered by ID",
		Long: "List runs, ordered by ID, keeping those that match every filter given.\n\n" + attrHelp + `

With --limit N, when more runs follow, the page ends with the line
"next: --after ID" (in JSON, the "next" field): pass it to list the next page.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := history.ListFilter{Workflow: workflow, AfterID: after}
			if status != "" {
				ss, err := parseStatuses(status)
				if err != nil {
					return err
				}
				if len(ss) == 1 {
					f.Status = ss[0]
				} else {
					f.Statuses = ss
				}
			}
			if limit < 0 {
				return usagef("--limit: must not be negative, got %d", limit)
			}
			for _, a := range attrs {
				af, err := parseAttrFilter(a)
				if err != nil {
					return err
				}
				f.Attrs = append(f.Attrs, af)
			}
			for _, t := range []struct {
				flag, value string
				dst         *time.Time
			}{
				{"created-after", createdAfter, &f.CreatedFrom}, {"created-before", createdBefore, &f.CreatedTo},
				{"closed-after", closedAfter, &f.ClosedFrom}, {"closed-before", closedBefore, &f.ClosedTo},
			} {
				v, err := parseTimeFlag(t.flag, t.value)
				if err != nil {
					return err
				}
				*t.dst = v
			}
			// One run more than the page tells whether another page follows.
			if limit > 0 {
				f.Limit = limit + 1
			}
			st, err := open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.ListRuns(cmd.Context(), f)
			if err != nil {
				return err
			}
			var next string
			if limit > 0 && len(runs) > limit {
				runs = runs[:limit]
				next = runs[limit-1].ID
			}
			rows := make([]inspect.RunRow, 0, len(runs))
			for _, r := range runs {
				rows = append(rows, inspect.Row(r))
			}
			out := cmd.OutOrStdout()
			if jsonFlag(cmd) {
				return writeJSON(out, inspect.RunPage{Runs: rows, Next: next})
			}
			t := newTable(out, "ID", "WORKFLOW", "STATUS", "CREATED", "UPDATED", "PARENT")
			for i, r := range runs {
				st := rows[i].Status
				if r.Damaged != nil {
					st = "DAMAGED"
				}
				t.row(r.ID, r.Workflow, st, fmtTime(r.CreatedAt), fmtTime(r.UpdatedAt), r.Parent)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if next != "" {
				_, err = fmt.Fprintf(out, "next: --after %s\n", next)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only runs with one of these statuses, comma-separated (running, completed, failed, canceled, blocked, terminated, timed-out, queued)")
	cmd.Flags().StringVar(&workflow, "workflow", "", "only runs of this workflow")
	cmd.Flags().StringArrayVar(&attrs, "attr", nil, "only runs whose search attribute matches, such as customer=acme or amount:int>=100 (repeatable; see above)")
	cmd.Flags().StringVar(&createdAfter, "created-after", "", "only runs created at or after this RFC 3339 time")
	cmd.Flags().StringVar(&createdBefore, "created-before", "", "only runs created before this RFC 3339 time")
	cmd.Flags().StringVar(&closedAfter, "closed-after", "", "only runs that ended at or after this RFC 3339 time")
	cmd.Flags().StringVar(&closedBefore, "closed-before", "", "only runs that ended before this RFC 3339 time")
	cmd.Flags().StringVar(&after, "after", "", "only runs whose ID sorts after this one (the next page)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many runs (0: all)")
	return cmd
}

func showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show FILE ID",
		Short: "Show one run: status, input, outcome, what it waits for, children, compensations",
		Args:  exactArgs(2, "FILE and ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pc, err := payloadCodec(cmd)
			if err != nil {
				return err
			}
			st, err := open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := describe(cmd.Context(), st, args[1], pc)
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			return v.print(cmd.OutOrStdout())
		},
	}
}

// notFound rewords the store's error for an unknown run.
func notFound(err error, id string) error {
	if errors.Is(err, history.ErrRunNotFound) {
		in := "this file"
		if strings.HasPrefix(err.Error(), "history/postgres: ") {
			in = "this database"
		}
		return fmt.Errorf("no run with ID %s in %s: %w", strconv.Quote(id), in, err)
	}
	return err
}

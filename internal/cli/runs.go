package cli

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
)

// runRow is one run in `runs list`.
type runRow struct {
	ID        string `json:"id"`
	Workflow  string `json:"workflow"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Parent    string `json:"parent,omitempty"`
	Damaged   string `json:"damaged,omitempty"`
}

func listCmd() *cobra.Command {
	var status, workflow string
	var limit int
	cmd := &cobra.Command{
		Use:   "list FILE",
		Short: "List runs, ordered by ID",
		Args:  exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := history.ListFilter{Workflow: workflow, Limit: limit}
			if status != "" {
				s, err := history.ParseRunStatus(status)
				if err != nil {
					return &usageError{fmt.Errorf("--status: %w", err)}
				}
				f.Status = s
			}
			if limit < 0 {
				return usagef("--limit: must not be negative, got %d", limit)
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
			rows := make([]runRow, 0, len(runs))
			for _, r := range runs {
				row := runRow{ID: r.ID, Workflow: r.Workflow, Status: r.Status.String(),
					CreatedAt: jsonTime(r.CreatedAt), UpdatedAt: jsonTime(r.UpdatedAt), Parent: r.Parent}
				if r.Damaged != nil {
					row.Damaged = r.Damaged.Error()
				}
				rows = append(rows, row)
			}
			out := cmd.OutOrStdout()
			if jsonFlag(cmd) {
				return writeJSON(out, rows)
			}
			t := newTable(out, "ID", "WORKFLOW", "STATUS", "CREATED", "UPDATED", "PARENT")
			for i, r := range runs {
				st := rows[i].Status
				if r.Damaged != nil {
					st = "DAMAGED"
				}
				t.row(r.ID, r.Workflow, st, fmtTime(r.CreatedAt), fmtTime(r.UpdatedAt), r.Parent)
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status (running, completed, failed, canceled, blocked, terminated, timed-out)")
	cmd.Flags().StringVar(&workflow, "workflow", "", "only runs of this workflow")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many runs (0: all)")
	return cmd
}

func showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show FILE ID",
		Short: "Show one run: status, input, outcome, what it waits for, children, compensations",
		Args:  exactArgs(2, "FILE and ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := describe(cmd.Context(), st, args[1])
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
		return fmt.Errorf("no run with ID %s in this file: %w", strconv.Quote(id), err)
	}
	return err
}

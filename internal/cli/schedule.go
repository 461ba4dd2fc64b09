package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/schedule"
)

// scheduleCmd groups the commands on schedules (package schedule): list and
// describe read the schedules' memos from the file; pause, resume and
// trigger send the schedule's control signal, as signal does.
func scheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "List, describe, pause, resume and trigger schedules",
		Long: `schedule works on the schedules of package schedule. Each schedule is a run
of the workflow ` + schedule.WorkflowName + ` with the ID "` + schedule.RunIDPrefix + `ID"; list and describe read
the state it keeps in its memo (as of its last wake-up) without a lock, and
pause, resume and trigger send it a ` + schedule.ControlSignal + ` signal.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("schedule: a subcommand is required (list, describe, pause, resume or trigger)")
		},
	}
	cmd.AddCommand(scheduleListCmd(), scheduleDescribeCmd(),
		scheduleControlCmd("pause", "Stop a schedule from starting actions", true),
		scheduleControlCmd("resume", "Let a paused schedule start actions again", true),
		scheduleControlCmd("trigger", "Start a schedule's action now", false))
	return cmd
}

// scheduleView is one schedule as the file shows it.
type scheduleView struct {
	Status string `json:"status"`
	schedule.Description
}

func readSchedules(ctx context.Context, st *sqlite.Store, id string) ([]scheduleView, error) {
	f := history.ListFilter{Workflow: schedule.WorkflowName, Status: history.StatusRunning}
	var runs []history.RunInfo
	if id != "" {
		r, err := st.Run(ctx, schedule.RunID(id))
		if err != nil {
			return nil, notFound(err, schedule.RunID(id))
		}
		if r.Workflow != schedule.WorkflowName {
			return nil, fmt.Errorf("run %q is not a schedule (its workflow is %q)", r.ID, r.Workflow)
		}
		runs = append(runs, r)
	} else {
		for {
			page, err := st.ListRuns(ctx, f)
			if err != nil {
				return nil, err
			}
			runs = append(runs, page...)
			if len(page) == 0 || f.Limit == 0 {
				break
			}
			f.AfterID = page[len(page)-1].ID
		}
	}
	out := make([]scheduleView, 0, len(runs))
	for _, r := range runs {
		v := scheduleView{Status: string(r.Status)}
		v.ID = strings.TrimPrefix(r.ID, schedule.RunIDPrefix)
		attrs, err := st.RunAttrs(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if b, ok := attrs.Memo[schedule.MemoKey]; ok {
			if err := json.Unmarshal(b, &v.Description); err != nil {
				return nil, fmt.Errorf("schedule %q: memo does not decode: %w", v.ID, err)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func scheduleListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list FILE",
		Short: "List the running schedules",
		Args:  exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			vs, err := readSchedules(cmd.Context(), st, "")
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), vs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWORKFLOW\tWHEN\tSTATE\tNEXT\tSTARTED\tSKIPPED\tMISSED")
			for _, v := range vs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", v.ID, v.Workflow, when(v.Spec), state(v), next(v), v.Started, v.Skipped, v.Missed)
			}
			return tw.Flush()
		},
	}
}

func scheduleDescribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe FILE ID",
		Short: "Show a schedule: its spec, next ticks and recent actions",
		Args:  exactArgs(2, "FILE and ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			vs, err := readSchedules(cmd.Context(), st, args[1])
			if err != nil {
				return err
			}
			v := vs[0]
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			return printSchedule(cmd.OutOrStdout(), v)
		},
	}
}

func printSchedule(w io.Writer, v scheduleView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Schedule:\t%s\n", v.ID)
	fmt.Fprintf(tw, "Run:\t%s (%s)\n", schedule.RunID(v.ID), v.Status)
	fmt.Fprintf(tw, "Workflow:\t%s\n", v.Workflow)
	fmt.Fprintf(tw, "When:\t%s\n", when(v.Spec))
	fmt.Fprintf(tw, "Overlap:\t%s\n", v.Spec.Overlap)
	fmt.Fprintf(tw, "State:\t%s\n", state(v))
	if v.Note != "" {
		fmt.Fprintf(tw, "Note:\t%s\n", v.Note)
	}
	for i, t := range v.Next {
		label := ""
		if i == 0 {
			label = "Next:"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, t.Format(time.RFC3339))
	}
	if !v.Buffered.IsZero() {
		fmt.Fprintf(tw, "Buffered:\t%s\n", v.Buffered.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "Last run:\t%s\n", dash(v.LastRunID))
	fmt.Fprintf(tw, "Counts:\t%d started, %d skipped, %d missed\n", v.Started, v.Skipped, v.Missed)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Recent) > 0 {
		fmt.Fprintln(w, "\nRecent actions:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SCHEDULED\tOUTCOME\tRUN")
		for _, a := range v.Recent {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Scheduled.Format(time.RFC3339), a.Outcome, dash(a.RunID))
		}
		return tw.Flush()
	}
	return nil
}

func when(s schedule.Spec) string {
	var out string
	switch {
	case s.Cron != "":
		out = "cron " + s.Cron
		if s.TimeZone != "" {
			out += " (" + s.TimeZone + ")"
		}
	case s.Every > 0:
		out = "every " + s.Every.String()
	default:
		return "-"
	}
	if s.Jitter > 0 {
		out += ", jitter " + s.Jitter.String()
	}
	return out
}

func state(v scheduleView) string {
	if v.Paused {
		return "paused"
	}
	return "active"
}

func next(v scheduleView) string {
	if len(v.Next) == 0 {
		return "-"
	}
	return v.Next[0].Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func scheduleControlCmd(op, short string, withNote bool) *cobra.Command {
	var o actOptions
	var note string
	cmd := &cobra.Command{
		Use:   op + " FILE ID",
		Short: short,
		Long: short + ` (the schedule ID, without the "` + schedule.RunIDPrefix + `" of its run).

` + actHelp,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, rest, err := o.target(cmd, args, 1, "ID")
			if err != nil {
				return err
			}
			payload, err := json.Marshal(schedule.Control{Op: op, Note: note})
			if err != nil {
				return err
			}
			return o.run(cmd, file, &act{RunID: schedule.RunID(rest[0]), Action: actSignal, Signal: schedule.ControlSignal, Payload: payload})
		},
	}
	o.flags(cmd)
	if withNote {
		cmd.Flags().StringVar(&note, "note", "", "why, shown by describe")
	}
	return cmd
}

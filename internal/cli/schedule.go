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
	"github.com/chorusdev/chorus/schedule"
)

// scheduleCmd groups the commands on schedules (package schedule): list and
// describe read the schedules' memos from the file; pause, resume,
// trigger, backfill and delete send the schedule's control signal, as
// signal does.
func scheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "List, describe, pause, resume, trigger, backfill and delete schedules",
		Long: `schedule works on the schedules of package schedule. Each schedule is a run
of the workflow ` + schedule.WorkflowName + ` with the ID "` + schedule.RunIDPrefix + `ID"; list and describe read
the state it keeps in its memo (as of its last wake-up) without a lock, and
pause, resume, trigger, backfill and delete send it a ` + schedule.ControlSignal + `
signal.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("schedule: a subcommand is required (list, describe, pause, resume, trigger, backfill or delete)")
		},
	}
	cmd.AddCommand(scheduleListCmd(), scheduleDescribeCmd(),
		scheduleControlCmd("pause", "Stop a schedule from starting actions", true),
		scheduleControlCmd("resume", "Let a paused schedule start actions again", true),
		scheduleControlCmd("trigger", "Start a schedule's action now", false),
		scheduleBackfillCmd(),
		scheduleControlCmd("delete", "End a schedule (the runs it started are left alone)", false))
	return cmd
}

// scheduleView is one schedule as the file shows it.
type scheduleView struct {
	Status string `json:"status"`
	schedule.Description
}

func readSchedules(ctx context.Context, st store, id string) ([]scheduleView, error) {
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
	var note string
	cmd := scheduleSignalCmd(op, short, "", func() (schedule.Control, error) {
		return schedule.Control{Op: op, Note: note}, nil
	})
	if withNote {
		cmd.Flags().StringVar(&note, "note", "", "why, shown by describe")
	}
	return cmd
}

// scheduleBackfillCmd starts the actions of the ticks in a range of time.
func scheduleBackfillCmd() *cobra.Command {
	var from, to, overlap string
	cmd := scheduleSignalCmd("backfill", "Start the actions of the ticks in a range of time, as if they had come on time",
		`The ticks at or after --from and before --to (RFC 3339 times) are started,
each under the run ID its scheduled time gives, so a tick already started,
by the schedule or an earlier backfill, is not started again. --overlap is the
policy of the backfilled ticks (allow-all by default: all of them start).`,
		func() (schedule.Control, error) {
			c := schedule.Control{Op: "backfill"}
			var err error
			if c.From, err = parseFlagTime("--from", from); err != nil {
				return c, err
			}
			if c.To, err = parseFlagTime("--to", to); err != nil {
				return c, err
			}
			if !c.To.After(c.From) {
				return c, usagef("schedule backfill: --to (%s) must be after --from (%s)", to, from)
			}
			if overlap != "" {
				o, err := schedule.ParseOverlap(overlap)
				if err != nil {
					return c, usagef("schedule backfill: --overlap: %v", err)
				}
				c.Overlap = &o
			}
			return c, nil
		})
	cmd.Flags().StringVar(&from, "from", "", "first instant of the range (RFC 3339), included")
	cmd.Flags().StringVar(&to, "to", "", "end of the range (RFC 3339), excluded")
	cmd.Flags().StringVar(&overlap, "overlap", "", "overlap policy of the backfilled ticks: skip, buffer-one, allow-all or cancel-previous")
	return cmd
}

func parseFlagTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, usagef("schedule backfill: %s is required", flag)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usagef("schedule backfill: %s %q is not an RFC 3339 time such as 2026-03-01T02:00:00Z", flag, v)
	}
	return t, nil
}

// scheduleSignalCmd is a command that sends the Control built by control
// to a schedule, as signal does.
func scheduleSignalCmd(op, short, long string, control func() (schedule.Control, error)) *cobra.Command {
	var o actOptions
	if long != "" {
		long = short + ".\n\n" + long
	} else {
		long = short + ` (the schedule ID, without the "` + schedule.RunIDPrefix + `" of its run).`
	}
	cmd := &cobra.Command{
		Use:   op + " FILE ID",
		Short: short,
		Long:  long + "\n\n" + actHelp,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, rest, err := o.target(cmd, args, 1, "ID")
			if err != nil {
				return err
			}
			c, err := control()
			if err != nil {
				return err
			}
			payload, err := json.Marshal(c)
			if err != nil {
				return err
			}
			return o.run(cmd, file, &act{RunID: schedule.RunID(rest[0]), Action: actSignal, Signal: schedule.ControlSignal, Payload: payload})
		},
	}
	o.flags(cmd)
	return cmd
}

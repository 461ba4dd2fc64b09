package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/inspect"
	"github.com/chorusdev/chorus/internal/kpi"
)

func statsCmd() *cobra.Command {
	var workflow, createdAfter, createdBefore string
	var limit int
	cmd := &cobra.Command{
		Use:   "stats FILE",
		Short: "Per workflow: runs by status, duration percentiles, failed and retried steps, time to detect and to recover",
		Long: `Per workflow: runs by status, end-to-end duration percentiles (over the
runs that ended), steps that ended, failed for good, needed retries,
attempts beyond the first, and the time to detect a failure (a step's
failure to its run's failed or blocked status) and to recover from one (to
the next success of the same activity, or the run's completion).

Step figures come from the journals: a step's outcome, and for a step
that took more than one attempt, the note journaled with it (attempts, when
the first failed). At most --limit runs are measured, the most recently
created.

Workflows that made model-scored decisions (package decide) get a table
more, read from the journals' decide.decision markers: how many decisions,
the share the model made and the share people made, how often people
agreed with the model's suggestion, and why people decided instead of the
model (the fallbacks). Workflows that made none are left out of it.

Workflows that asked people (package human) get a table of their human
tasks, read from the journals' human.task.* markers: tasks asked,
completed, timed out (their deadline passed: SLA breaches), still open,
the escalation steps taken, the time to claim (a task's creation to its
first claim, or to its completion when completed unclaimed) and to decide
(to its completion), and BY-PEOPLE, the share of steps done by people:
the tasks people completed over those plus the activities that ended (the
human package's own, assign and notify, excepted).`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit: must not be negative, got %d", limit)
			}
			f := kpi.Filter{Workflow: workflow, Limit: limit}
			var err error
			if f.From, err = parseTimeFlag("created-after", createdAfter); err != nil {
				return err
			}
			if f.To, err = parseTimeFlag("created-before", createdBefore); err != nil {
				return err
			}
			if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
				return usagef("--created-before %s is before --created-after %s", createdBefore, createdAfter)
			}
			st, err := open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := kpi.Measure(cmd.Context(), st, f)
			if errors.Is(err, kpi.ErrInvalidFilter) {
				return &usageError{err}
			}
			if err != nil {
				return err
			}
			v := statsView{inspect.StatsOf(rep)}
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), v.Stats)
			}
			return v.print(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&workflow, "workflow", "", "only runs of this workflow")
	cmd.Flags().StringVar(&createdAfter, "created-after", "", "only runs created at or after this RFC 3339 time")
	cmd.Flags().StringVar(&createdBefore, "created-before", "", "only runs created before this RFC 3339 time")
	cmd.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("measure at most this many runs, the most recently created (0: %d)", kpi.DefaultLimit))
	return cmd
}

// statusOrder is the order statuses are printed in.
var statusOrder = []history.RunStatus{
	history.StatusRunning, history.StatusBlocked, history.StatusCompleted, history.StatusFailed,
	history.StatusCanceled, history.StatusTerminated, history.StatusTimedOut,
}

// statsView prints the KPI document as tables.
type statsView struct{ *inspect.Stats }

func (v statsView) print(w io.Writer) error {
	t := newTable(w, "STATUS", "RUNS")
	for _, s := range statusOrder {
		if n := v.ByStatus[s.String()]; n > 0 {
			t.row(s.String(), strconv.Itoa(n))
		}
	}
	if v.Damaged > 0 {
		t.row("DAMAGED", strconv.Itoa(v.Damaged))
	}
	t.row("total", strconv.Itoa(v.Runs))
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = newTable(w, "WORKFLOW", "RUNS", "STATUSES", "ENDED", "P50", "P95", "P99")
	for _, s := range v.Workflows {
		var parts []string
		for _, st := range statusOrder {
			if n := s.ByStatus[st.String()]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s=%d", st, n))
			}
		}
		t.row(s.Workflow, strconv.Itoa(s.Runs), strings.Join(parts, " "), strconv.Itoa(s.Ended), s.P50, s.P95, s.P99)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = newTable(w, "WORKFLOW", "STEPS", "FAILED", "RETRIED", "RETRIES", "DETECTED", "DETECT-P50", "DETECT-P90",
		"RECOVERED", "RECOVER-P50", "RECOVER-P90")
	var damaged []string
	for _, s := range v.Workflows {
		i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
		t.row(s.Workflow, i64(s.Steps), i64(s.FailedSteps), i64(s.RetriedSteps), i64(s.Retries),
			strconv.Itoa(s.TimeToDetect.N), s.TimeToDetect.P50, s.TimeToDetect.P90,
			strconv.Itoa(s.TimeToRecover.N), s.TimeToRecover.P50, s.TimeToRecover.P90)
		if s.DamagedJournals > 0 {
			damaged = append(damaged, fmt.Sprintf("%s=%d", s.Workflow, s.DamagedJournals))
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	if err := v.printHumanTasks(w); err != nil {
		return err
	}
	if err := v.printDecisions(w); err != nil {
		return err
	}
	if len(damaged) > 0 {
		fmt.Fprintf(w, "\ndamaged journals, whose steps are left out: %s\n", strings.Join(damaged, " "))
	}
	if v.Truncated {
		fmt.Fprintf(w, "\nonly the %d most recently created runs were measured (--limit)\n", v.Limit)
	}
	return nil
}

// printHumanTasks prints the human tasks of the workflows that asked some:
// how they ended, the escalations, the times to claim and to decide, and
// the share of steps done by people. It prints nothing when none did.
func (v statsView) printHumanTasks(w io.Writer) error {
	var t *table
	for _, s := range v.Workflows {
		h := s.HumanTasks
		if h == nil {
			continue
		}
		if t == nil {
			fmt.Fprintln(w)
			t = newTable(w, "WORKFLOW", "TASKS", "COMPLETED", "TIMED-OUT", "OPEN", "ESCALATIONS",
				"CLAIM-P50", "CLAIM-P90", "DECIDE-P50", "DECIDE-P90", "BY-PEOPLE")
		}
		i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
		share := ""
		if s.HumanShare != nil {
			share = fmt.Sprintf("%s (%d/%d)", percent(*s.HumanShare), h.Completed, h.Completed+h.AutomatedSteps)
		}
		t.row(s.Workflow, i64(h.Created), i64(h.Completed), i64(h.TimedOut), i64(h.Open), i64(h.Escalations),
			h.TimeToClaim.P50, h.TimeToClaim.P90, h.TimeToDecide.P50, h.TimeToDecide.P90, share)
	}
	if t == nil {
		return nil
	}
	return t.flush()
}

// printDecisions prints the model-scored decisions of the workflows that
// made some: the automated and manual shares, the agreement rate and the
// fallbacks. It prints nothing when none did.
func (v statsView) printDecisions(w io.Writer) error {
	var t *table
	for _, s := range v.Workflows {
		d := s.Decisions
		if d == nil {
			continue
		}
		if t == nil {
			fmt.Fprintln(w)
			t = newTable(w, "WORKFLOW", "DECISIONS", "AUTOMATED", "MANUAL", "AGREEMENT", "FALLBACKS")
		}
		agreement := "-"
		if d.AgreementRate != nil {
			agreement = fmt.Sprintf("%s (%d/%d)", percent(*d.AgreementRate), d.Agreed, d.Compared)
		}
		reasons := make([]string, 0, len(d.Fallbacks))
		for r, n := range d.Fallbacks {
			reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
		}
		slices.Sort(reasons)
		t.row(s.Workflow, strconv.FormatInt(d.Decisions, 10),
			fmt.Sprintf("%s (%d)", percent(d.AutomatedShare), d.Automated),
			fmt.Sprintf("%s (%d)", percent(d.ManualShare), d.Manual),
			agreement, strings.Join(reasons, " "))
	}
	if t == nil {
		return nil
	}
	return t.flush()
}

// percent prints a share from 0 to 1 as a percentage with one decimal.
func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

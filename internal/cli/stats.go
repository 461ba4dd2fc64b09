package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/kpi"
)

// statsView is what `stats` prints.
type statsView struct {
	// Runs counts the runs measured, damaged rows included.
	Runs      int            `json:"runs"`
	Damaged   int            `json:"damaged,omitempty"`
	ByStatus  map[string]int `json:"by_status"`
	Workflows []workflowStat `json:"workflows"`
	// Limit is the most runs measured, the most recently created;
	// Truncated says that it left some out.
	Limit     int  `json:"limit"`
	Truncated bool `json:"truncated"`
}

// workflowStat is one workflow's counts, end-to-end durations (from a
// run's start to its end, over the runs that ended) and step KPIs (see
// package kpi for what each measures).
type workflowStat struct {
	Workflow string         `json:"workflow"`
	Runs     int            `json:"runs"`
	ByStatus map[string]int `json:"by_status"`
	Ended    int            `json:"ended"`
	// The percentiles in milliseconds, for scripts; absent when no run
	// ended.
	P50ms *int64 `json:"duration_p50_ms,omitempty"`
	P95ms *int64 `json:"duration_p95_ms,omitempty"`
	P99ms *int64 `json:"duration_p99_ms,omitempty"`
	// P50, P95 and P99 are the same as Go durations, for tables.
	P50   string `json:"duration_p50,omitempty"`
	P95   string `json:"duration_p95,omitempty"`
	P99   string `json:"duration_p99,omitempty"`
	P90ms *int64 `json:"duration_p90_ms,omitempty"`
	MaxMs *int64 `json:"duration_max_ms,omitempty"`

	Steps         int64    `json:"steps"`
	FailedSteps   int64    `json:"failed_steps"`
	RetriedSteps  int64    `json:"retried_steps"`
	Retries       int64    `json:"retries"`
	CanceledSteps int64    `json:"canceled_steps"`
	TimeToDetect  spread   `json:"time_to_detect"`
	TimeToRecover spread   `json:"time_to_recover"`
	HumanShare    *float64 `json:"human_share"`
	// DamagedJournals counts runs whose steps are left out: their journal
	// could not be read.
	DamagedJournals int64 `json:"damaged_journals,omitempty"`
}

// spread is a kpi.Percentiles in milliseconds; only N when there is no
// sample.
type spread struct {
	N     int    `json:"n"`
	P50ms *int64 `json:"p50_ms,omitempty"`
	P90ms *int64 `json:"p90_ms,omitempty"`
	P99ms *int64 `json:"p99_ms,omitempty"`
	MaxMs *int64 `json:"max_ms,omitempty"`
	// P50 and P90 are Go durations, for tables.
	P50 string `json:"-"`
	P90 string `json:"-"`
}

func toSpread(p kpi.Percentiles) spread {
	if p.N == 0 {
		return spread{}
	}
	return spread{N: p.N, P50ms: ms(p.P50), P90ms: ms(p.P90), P99ms: ms(p.P99), MaxMs: ms(p.Max),
		P50: p.P50.String(), P90: p.P90.String()}
}

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
created.`,
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
			v := stats(rep)
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), v)
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

// stats turns the KPIs into the view.
func stats(rep kpi.Report) *statsView {
	v := &statsView{Runs: int(rep.Runs + rep.DamagedRows), Damaged: int(rep.DamagedRows), ByStatus: map[string]int{},
		Workflows: []workflowStat{}, Limit: rep.Limit, Truncated: rep.Truncated}
	for _, w := range rep.Workflows {
		s := workflowStat{Workflow: w.Name, Runs: int(w.Runs), ByStatus: map[string]int{}, Ended: w.Duration.N,
			Steps: w.Steps, FailedSteps: w.FailedSteps, RetriedSteps: w.RetriedSteps, Retries: w.Retries,
			CanceledSteps: w.CanceledSteps, TimeToDetect: toSpread(w.TimeToDetect), TimeToRecover: toSpread(w.TimeToRecover),
			HumanShare: w.HumanShare, DamagedJournals: w.DamagedJournals}
		for st, n := range map[history.RunStatus]int64{
			history.StatusRunning: w.Running, history.StatusBlocked: w.Blocked, history.StatusCompleted: w.Completed,
			history.StatusFailed: w.Failed, history.StatusCanceled: w.Canceled, history.StatusTerminated: w.Terminated,
			history.StatusTimedOut: w.TimedOut,
		} {
			if n > 0 {
				s.ByStatus[st.String()] = int(n)
				v.ByStatus[st.String()] += int(n)
			}
		}
		if d := w.Duration; d.N > 0 {
			s.P50, s.P95, s.P99 = d.P50.String(), d.P95.String(), d.P99.String()
			s.P50ms, s.P95ms, s.P99ms = ms(d.P50), ms(d.P95), ms(d.P99)
			s.P90ms, s.MaxMs = ms(d.P90), ms(d.Max)
		}
		v.Workflows = append(v.Workflows, s)
	}
	return v
}

func ms(d time.Duration) *int64 {
	n := d.Milliseconds()
	return &n
}

// statusOrder is the order statuses are printed in.
var statusOrder = []history.RunStatus{
	history.StatusRunning, history.StatusBlocked, history.StatusCompleted, history.StatusFailed,
	history.StatusCanceled, history.StatusTerminated, history.StatusTimedOut,
}

func (v *statsView) print(w io.Writer) error {
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
	if len(damaged) > 0 {
		fmt.Fprintf(w, "\ndamaged journals, whose steps are left out: %s\n", strings.Join(damaged, " "))
	}
	if v.Truncated {
		fmt.Fprintf(w, "\nonly the %d most recently created runs were measured (--limit)\n", v.Limit)
	}
	return nil
}

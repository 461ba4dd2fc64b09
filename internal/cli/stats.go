package cli

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
)

// statsView is what `stats` prints.
type statsView struct {
	Runs      int            `json:"runs"`
	Damaged   int            `json:"damaged,omitempty"`
	ByStatus  map[string]int `json:"by_status"`
	Workflows []workflowStat `json:"workflows"`
}

// workflowStat is one workflow's counts and end-to-end durations: from a
// run's start to its end (its row's last change), over the runs that ended.
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
	P50 string `json:"duration_p50,omitempty"`
	P95 string `json:"duration_p95,omitempty"`
	P99 string `json:"duration_p99,omitempty"`
}

func statsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stats FILE",
		Short: "Count runs by status and workflow; end-to-end duration percentiles per workflow",
		Args:  exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.ListRuns(cmd.Context(), history.ListFilter{})
			if err != nil {
				return err
			}
			v := stats(runs)
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			return v.print(cmd.OutOrStdout())
		},
	}
}

func stats(runs []history.RunInfo) *statsView {
	v := &statsView{Runs: len(runs), ByStatus: map[string]int{}, Workflows: []workflowStat{}}
	byWf := map[string]*workflowStat{}
	durs := map[string][]time.Duration{}
	for _, r := range runs {
		if r.Damaged != nil {
			v.Damaged++
			continue
		}
		s := r.Status.String()
		v.ByStatus[s]++
		w := byWf[r.Workflow]
		if w == nil {
			w = &workflowStat{Workflow: r.Workflow, ByStatus: map[string]int{}}
			byWf[r.Workflow] = w
		}
		w.Runs++
		w.ByStatus[s]++
		if r.Status.Ended() {
			w.Ended++
			durs[r.Workflow] = append(durs[r.Workflow], r.UpdatedAt.Sub(r.CreatedAt))
		}
	}
	names := make([]string, 0, len(byWf))
	for n := range byWf {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w := byWf[n]
		if d := durs[n]; len(d) > 0 {
			slices.Sort(d)
			p50, p95, p99 := percentile(d, 50), percentile(d, 95), percentile(d, 99)
			w.P50, w.P95, w.P99 = p50.String(), p95.String(), p99.String()
			w.P50ms, w.P95ms, w.P99ms = ms(p50), ms(p95), ms(p99)
		}
		v.Workflows = append(v.Workflows, *w)
	}
	return v
}

// percentile is the nearest-rank percentile p of the sorted durations d.
func percentile(d []time.Duration, p int) time.Duration {
	rank := (p*len(d) + 99) / 100 // ceil(p/100 * n)
	return d[max(rank, 1)-1]
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
	return t.flush()
}

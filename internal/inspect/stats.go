package inspect

import (
	"time"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/kpi"
)

// Stats is the KPI document that `chorus stats --json` prints and GET
// /api/stats of the dashboard answers.
type Stats struct {
	// Runs counts the runs measured, damaged rows included.
	Runs      int             `json:"runs"`
	Damaged   int             `json:"damaged,omitempty"`
	ByStatus  map[string]int  `json:"by_status"`
	Workflows []WorkflowStats `json:"workflows"`
	// Limit is the most runs measured, the most recently created;
	// Truncated says that it left some out.
	Limit     int  `json:"limit"`
	Truncated bool `json:"truncated"`
}

// WorkflowStats is one workflow's counts, end-to-end durations (from a
// run's start to its end, over the runs that ended) and step KPIs (see
// package kpi for what each measures).
type WorkflowStats struct {
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

	Steps         int64  `json:"steps"`
	FailedSteps   int64  `json:"failed_steps"`
	RetriedSteps  int64  `json:"retried_steps"`
	Retries       int64  `json:"retries"`
	CanceledSteps int64  `json:"canceled_steps"`
	TimeToDetect  Spread `json:"time_to_detect"`
	TimeToRecover Spread `json:"time_to_recover"`
	// HumanShare is the share of steps done by people, from 0 to 1: the
	// human tasks people completed over those plus the activities that
	// ended (the human package's own excepted); null when the runs asked
	// no human task.
	HumanShare *float64 `json:"human_share"`
	// HumanTasks counts the human tasks of the runs (package human);
	// absent when they asked none.
	HumanTasks *HumanTaskStats `json:"human_tasks,omitempty"`
	// Decisions counts the model-scored decisions of the runs (package
	// decide); absent when they made none.
	Decisions *DecisionStats `json:"decisions,omitempty"`
	// DamagedJournals counts runs whose steps are left out: their journal
	// could not be read.
	DamagedJournals int64 `json:"damaged_journals,omitempty"`
}

// DecisionStats is the automated and manual share of a workflow's
// model-scored decisions and how often people agreed with the model.
type DecisionStats struct {
	Decisions int64 `json:"decisions"`
	Automated int64 `json:"automated"`
	Manual    int64 `json:"manual"`
	// AutomatedShare and ManualShare are Automated and Manual over
	// Decisions, from 0 to 1.
	AutomatedShare float64 `json:"automated_share"`
	ManualShare    float64 `json:"manual_share"`
	// Fallbacks counts manual decisions by why the model did not decide.
	Fallbacks map[string]int64 `json:"fallbacks,omitempty"`
	// Compared counts people's decisions on cases the model suggested an
	// outcome for, Agreed those that matched; AgreementRate is
	// Agreed/Compared, absent when nothing was compared.
	Compared      int64    `json:"compared"`
	Agreed        int64    `json:"agreed"`
	AgreementRate *float64 `json:"agreement_rate,omitempty"`
	// Unreadable counts decision markers that could not be decoded.
	Unreadable int64 `json:"unreadable,omitempty"`
}

// HumanTaskStats is a workflow's human tasks: how many were asked and how
// they ended, the escalation steps taken, and how long people took to take
// a task (creation to its first claim, or to its completion when completed
// unclaimed) and to decide it (creation to completion).
type HumanTaskStats struct {
	Created   int64 `json:"created"`
	Completed int64 `json:"completed"`
	// TimedOut counts the tasks whose deadline passed: SLA breaches.
	TimedOut int64 `json:"timed_out"`
	Canceled int64 `json:"canceled,omitempty"`
	Failed   int64 `json:"failed,omitempty"`
	// Open counts the tasks not closed yet.
	Open         int64  `json:"open"`
	Escalations  int64  `json:"escalations"`
	TimeToClaim  Spread `json:"time_to_claim"`
	TimeToDecide Spread `json:"time_to_decide"`
	// AutomatedSteps counts the activities that ended, the human package's
	// own excepted: with Completed, the parts of HumanShare.
	AutomatedSteps int64 `json:"automated_steps"`
	// Unreadable counts human task markers that could not be decoded.
	Unreadable int64 `json:"unreadable,omitempty"`
}

func toHumanTasks(h kpi.HumanTasks) *HumanTaskStats {
	if h == (kpi.HumanTasks{}) {
		return nil
	}
	return &HumanTaskStats{Created: h.Created, Completed: h.Completed, TimedOut: h.TimedOut, Canceled: h.Canceled,
		Failed: h.Failed, Open: h.Open(), Escalations: h.Escalations,
		TimeToClaim: toSpread(h.TimeToClaim), TimeToDecide: toSpread(h.TimeToDecide), AutomatedSteps: h.AutomatedSteps,
		Unreadable: h.Unreadable}
}

func toDecisions(d kpi.Decisions) *DecisionStats {
	if d.Decisions == 0 && d.Unreadable == 0 {
		return nil
	}
	v := &DecisionStats{Decisions: d.Decisions, Automated: d.Automated, Manual: d.Manual, Fallbacks: d.Fallbacks,
		Compared: d.Compared, Agreed: d.Agreed, AgreementRate: d.AgreementRate(), Unreadable: d.Unreadable}
	if p := d.AutomatedShare(); p != nil {
		v.AutomatedShare = *p
	}
	if p := d.ManualShare(); p != nil {
		v.ManualShare = *p
	}
	return v
}

// Spread is a kpi.Percentiles in milliseconds; only N when there is no
// sample.
type Spread struct {
	N     int    `json:"n"`
	P50ms *int64 `json:"p50_ms,omitempty"`
	P90ms *int64 `json:"p90_ms,omitempty"`
	P99ms *int64 `json:"p99_ms,omitempty"`
	MaxMs *int64 `json:"max_ms,omitempty"`
	// P50 and P90 are Go durations, for tables.
	P50 string `json:"-"`
	P90 string `json:"-"`
}

func toSpread(p kpi.Percentiles) Spread {
	if p.N == 0 {
		return Spread{}
	}
	return Spread{N: p.N, P50ms: ms(p.P50), P90ms: ms(p.P90), P99ms: ms(p.P99), MaxMs: ms(p.Max),
		P50: p.P50.String(), P90: p.P90.String()}
}

// StatsOf turns a KPI report into its document.
func StatsOf(rep kpi.Report) *Stats {
	v := &Stats{Runs: int(rep.Runs + rep.DamagedRows), Damaged: int(rep.DamagedRows), ByStatus: map[string]int{},
		Workflows: []WorkflowStats{}, Limit: rep.Limit, Truncated: rep.Truncated}
	for _, w := range rep.Workflows {
		s := WorkflowStats{Workflow: w.Name, Runs: int(w.Runs), ByStatus: map[string]int{}, Ended: w.Duration.N,
			Steps: w.Steps, FailedSteps: w.FailedSteps, RetriedSteps: w.RetriedSteps, Retries: w.Retries,
			CanceledSteps: w.CanceledSteps, TimeToDetect: toSpread(w.TimeToDetect), TimeToRecover: toSpread(w.TimeToRecover),
			HumanShare: w.HumanShare, HumanTasks: toHumanTasks(w.Human), Decisions: toDecisions(w.Decisions),
			DamagedJournals: w.DamagedJournals}
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

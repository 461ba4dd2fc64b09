// Package kpi derives key performance indicators of workflows from a Chorus
// database: how many runs ended how, how long they took, how many of their
// steps failed or needed retries, how long a failure took to surface and
// how long to be recovered from, and what people did in them (human
// tasks, the share of steps done by people, model-scored decisions).
//
// Everything is read through [history.Store] only: the run index
// ([history.Store.ListRuns], with the time range served by the store when
// it is a [history.AttrStore] and applied here otherwise) and each selected
// run's journal ([history.Store.Events]). It works on the SQLite store, on
// its read-only reader while an application writes the file, and on any
// other store. Nothing is estimated: a figure the journal cannot support is
// left out (a [Percentiles] with N == 0, a nil HumanShare), never made up.
//
// # What each figure measures
//
// Run counts and Duration come from the index row: a run's status, and for
// a run that ended, the time from its creation (CreatedAt) to its row's
// last change (UpdatedAt, which for an ended run is when it ended).
//
// Step figures come from the journal of the run's current execution (the
// events of runs that held the same ID before are left out; the
// generations of a run that continued as new are all counted). A step is an
// activity the workflow scheduled (ActivityScheduled); it ended when the
// journal holds its ActivityCompleted, or its ActivityFailed (a failure for
// good: retries exhausted or not retryable). An ActivityFailed whose
// failure has type "Canceled" is a step the workflow canceled: counted in
// CanceledSteps, not as a failure. Steps still running count nowhere.
//
// Attempts: the journal records an activity's final outcome; a step that
// took more than one attempt also has an ActivityRetried note right before
// its outcome, with the number of attempts and when the first one failed.
// Without a note a step took one attempt, except in journals written
// before the note existed, where a failed step's count is the Attempt of
// its failure and a completed step's retries are not known (it counts as
// one attempt). A failure payload that the codec cannot decode leaves the
// count at what the note says, or one. Attempts of steps that have not
// ended (the retry a pending task waits for) are not counted.
//
// A step's first failure is when its first attempt failed (the note's
// FirstFailureAt), or, when the journal does not say (a step that failed
// at its first attempt, or a note without that time), the time of its
// ActivityFailed.
//
// Time to detect is measured once per run whose status is failed or
// blocked and that holds a failure not recovered from (see below): from
// the first failure of the earliest such step to the time the run got its
// status (its RunFailed event, or for a blocked run, which the journal
// does not mark, its row's last change).
//
// Time to recover is measured once per failure that was recovered from:
// from a step's first failure to
//   - its own completion, when a retry succeeded;
//   - or, for a step that failed for good, the completion of a later step
//     of the same activity (one the workflow scheduled after the failure,
//     a retry at the workflow's level), or when there is none the run's
//     completion (RunCompleted: the workflow handled the failure).
//
// Failures of the same activity in a row before its recovery are one
// incident, measured from the first. A failure not recovered from gives no
// sample, and neither does a retried step whose note lacks the time of
// the first failure.
//
// # Decisions
//
// Model-scored decisions (package decide) are counted from the journal's
// decide.decision markers ([DecisionMarker]), every generation of the
// current execution: who decided (the model, or a person), the fallback
// reason of a person's decision against the band, and whether the person
// agreed with the model's suggestion. Only the marker's fields decided_by,
// fallback, compared and agreed are read, decoded with Filter.Codec; a
// marker that does not decode is counted in Decisions.Unreadable only.
//
// # Human tasks
//
// Human tasks (package human) are counted from the journal's human task
// markers ([HumanMarkerPrefix] and the audit action), every generation of
// the current execution, each generation's tasks apart (their IDs count
// again from 1). Only the payload's field task is read, decoded with
// Filter.Codec; a marker that does not decode is counted in
// HumanTasks.Unreadable only. A task is created (created), taken by a
// person (its first claimed, or completed when completed unclaimed),
// completed, timed out (its deadline passed: an SLA breach), escalated
// (each step counts), canceled or failed. Time to claim and time to decide
// run from the task's created marker to its first claim and to its
// completion, on the run's clock.
//
// HumanShare, the share of steps done by people, is the tasks people
// completed over those plus the activities that ended, leaving out the
// human package's own activities ([HumanActivities]: assigning and
// notifying are part of the person's step, not automated work). It is nil
// for a workflow whose runs asked no human task.
//
// # Damage and cost
//
// An index row the store reports damaged is counted (Report.DamagedRows)
// and skipped: its workflow and times cannot be trusted. A journal that
// cannot be read, or whose events contradict each other (an outcome for a
// step never scheduled, two outcomes for one step, an ActivityRetried note
// that does not decode or comes after its step's outcome), is counted in its
// workflow's DamagedJournals and its steps are left out; its run still
// counts by status and duration. Neither fails the computation.
//
// At most Filter.Limit runs (10,000 by default), the most recently
// created, are measured; Truncated says when the limit cut the sample.
// Journals are read only for the runs kept, a few at a time. Without a
// workflow filter, a store that counts runs ([history.AttrStore], as the
// SQLite store does) is asked for counts by creation time to find where
// the most recent runs start, and lists only those: the cost follows the
// limit more than the number of runs. Otherwise every index row that
// matches is read, in pages. DamagedRows counts the damaged rows among
// those read.
package kpi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chorusdev/chorus/history"
)

// DefaultLimit is the number of runs measured when Filter.Limit is 0.
const DefaultLimit = 10_000

// ErrInvalidFilter is wrapped by the error of a [Compute] call whose
// [Filter] is malformed.
var ErrInvalidFilter = errors.New("kpi: invalid filter")

// Filter selects the runs whose KPIs are computed.
type Filter struct {
	// Workflow keeps only runs of this workflow name; empty: every
	// workflow.
	Workflow string
	// From and To keep runs created in [From, To); a zero bound is open.
	From, To time.Time
	// Limit measures at most this many runs, the most recently created
	// (ties broken by ID); 0 means [DefaultLimit]. It must not be
	// negative.
	Limit int
	// Codec decodes the failure payloads of ActivityFailed events: the
	// engine's codec. Nil means JSON, the engine's default.
	Codec history.Codec
}

// Decisions counts model-scored decisions, read from their journal markers
// ([DecisionMarker]): who decided, why a person decided against the band
// (the fallback reason), and how often people agreed with the model's
// suggestion.
type Decisions struct {
	// Decisions counts every decision marker that could be read.
	Decisions int64 `json:"decisions"`
	// Automated counts those the model decided ("decided_by": "model"),
	// Manual those a person decided.
	Automated int64 `json:"automated"`
	Manual    int64 `json:"manual"`
	// Fallbacks counts manual decisions by their fallback reason
	// (timeout, error, invalid-score, low-confidence, model-off).
	Fallbacks map[string]int64 `json:"fallbacks,omitempty"`
	// Compared counts people's decisions on cases the model had a
	// suggestion for; Agreed those where the outcome matched it.
	Compared int64 `json:"compared"`
	Agreed   int64 `json:"agreed"`
	// Unreadable counts decision markers whose payload the codec could
	// not decode: left out of the counts above.
	Unreadable int64 `json:"unreadable,omitempty"`
}

// AutomatedShare is Automated/Decisions; nil without decisions.
func (d Decisions) AutomatedShare() *float64 { return share(d.Automated, d.Decisions) }

// ManualShare is Manual/Decisions; nil without decisions.
func (d Decisions) ManualShare() *float64 { return share(d.Manual, d.Decisions) }

// AgreementRate is Agreed/Compared; nil without comparisons.
func (d Decisions) AgreementRate() *float64 { return share(d.Agreed, d.Compared) }

func share(a, b int64) *float64 {
	if b == 0 {
		return nil
	}
	f := float64(a) / float64(b)
	return &f
}

func (d *Decisions) add(n decisionNote) {
	d.Decisions++
	if n.DecidedBy == "model" {
		d.Automated++
	} else {
		d.Manual++
		if n.Fallback != "" {
			if d.Fallbacks == nil {
				d.Fallbacks = map[string]int64{}
			}
			d.Fallbacks[n.Fallback]++
		}
	}
	if n.Compared {
		d.Compared++
		if n.Agreed {
			d.Agreed++
		}
	}
}

func (d *Decisions) merge(o Decisions) {
	d.Decisions += o.Decisions
	d.Automated += o.Automated
	d.Manual += o.Manual
	d.Compared += o.Compared
	d.Agreed += o.Agreed
	d.Unreadable += o.Unreadable
	for k, n := range o.Fallbacks {
		if d.Fallbacks == nil {
			d.Fallbacks = map[string]int64{}
		}
		d.Fallbacks[k] += n
	}
}

// HumanMarkerPrefix begins the names of the journal markers of human tasks
// (package human records one per audit entry: "human.task.created",
// "human.task.claimed", ...). Their payload's field task (the task's ID in
// its run) is what the KPIs read.
const HumanMarkerPrefix = "human.task."

// HumanActivities are the activities package human runs for a task
// (assignment and notification): part of the person's step, so left out
// of [HumanTasks].AutomatedSteps.
var HumanActivities = []string{"human.assign", "human.notify"}

// HumanTasks counts the human tasks of the runs (package human), read from
// their audit markers, and how long people took to take and to decide
// them.
type HumanTasks struct {
	// Created counts the tasks asked; Completed those a person answered;
	// TimedOut those whose deadline passed first (SLA breaches);
	// Canceled those of canceled runs; Failed those nobody could be
	// assigned. The rest are open.
	Created   int64 `json:"created"`
	Completed int64 `json:"completed"`
	TimedOut  int64 `json:"timed_out"`
	Canceled  int64 `json:"canceled,omitempty"`
	Failed    int64 `json:"failed,omitempty"`
	// Escalations counts the escalation steps taken.
	Escalations int64 `json:"escalations"`
	// TimeToClaim: a task's creation to its first claim, or to its
	// completion when a person completed it unclaimed; also for tasks
	// still open.
	TimeToClaim Percentiles `json:"time_to_claim"`
	// TimeToDecide: a task's creation to its completion by a person.
	TimeToDecide Percentiles `json:"time_to_decide"`
	// AutomatedSteps counts the activities that ended other than
	// [HumanActivities]: the other part of the workflow's HumanShare.
	AutomatedSteps int64 `json:"automated_steps"`
	// Unreadable counts human task markers whose payload the codec could
	// not decode: left out of the counts above.
	Unreadable int64 `json:"unreadable,omitempty"`
}

// Open counts the tasks not closed: neither completed, timed out,
// canceled nor failed.
func (h HumanTasks) Open() int64 {
	return max(h.Created-h.Completed-h.TimedOut-h.Canceled-h.Failed, 0)
}

// Percentiles of a set of durations, nearest-rank (the smallest sample with
// at least p% of the samples at or below it); N == 0 means no sample, and
// the durations are then zero. In JSON the durations are nanoseconds.
type Percentiles struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// Workflow is one workflow's KPIs over the selected runs. See the package
// documentation for what each figure measures and from which events.
type Workflow struct {
	Name string `json:"name"`
	// Runs counts the selected runs of the workflow (damaged index rows
	// excepted); the others count them by status.
	Runs       int64 `json:"runs"`
	Running    int64 `json:"running"`
	Blocked    int64 `json:"blocked"`
	Completed  int64 `json:"completed"`
	Failed     int64 `json:"failed"`
	Canceled   int64 `json:"canceled"`
	Terminated int64 `json:"terminated"`
	TimedOut   int64 `json:"timed_out"`
	// Duration is end-to-end, over the runs that ended: creation to end.
	Duration Percentiles `json:"duration"`
	// Steps counts the activities that ended: completed or failed for
	// good.
	Steps int64 `json:"steps"`
	// FailedSteps counts the activities that failed for good.
	FailedSteps int64 `json:"failed_steps"`
	// RetriedSteps counts the ended activities that needed more than one
	// attempt.
	RetriedSteps int64 `json:"retried_steps"`
	// Retries sums the attempts beyond the first of the ended activities.
	Retries int64 `json:"retries"`
	// CanceledSteps counts the activities the workflow canceled.
	CanceledSteps int64 `json:"canceled_steps"`
	// TimeToDetect: the first failed attempt of a failed or blocked run's
	// earliest unrecovered step to the run's failed or blocked status.
	TimeToDetect Percentiles `json:"time_to_detect"`
	// TimeToRecover: a step's first failed attempt to its next success
	// (a retry), or to the next success of the same activity in the run
	// (or the run's completion) for a step that failed for good.
	TimeToRecover Percentiles `json:"time_to_recover"`
	// HumanShare is the share of steps done by people: the human tasks
	// people completed over those plus the activities that ended, the
	// human package's own ([HumanActivities]) excepted. Nil when the runs
	// asked no human task (or nothing ended yet).
	HumanShare *float64 `json:"human_share"`
	// Human counts the human tasks of the runs (package human's task
	// markers); zero, and absent from JSON, when they asked none.
	Human HumanTasks `json:"human_tasks,omitzero"`
	// Decisions counts the model-scored decisions of the runs (package
	// decide's decision markers); its Decisions is 0 when they made none.
	Decisions Decisions `json:"decisions"`
	// DamagedJournals counts runs whose journal could not be read or
	// contradicts itself: their steps are left out.
	DamagedJournals int64 `json:"damaged_journals"`
	// Truncated is set when Limit left out runs that match the filter
	// (of this workflow or another): the figures may miss some of this
	// workflow's runs.
	Truncated bool `json:"truncated"`
}

// Report is the outcome of [Measure]: the KPIs per workflow and what the
// selection left out.
type Report struct {
	// Workflows has one entry per workflow name among the selected runs,
	// sorted by name.
	Workflows []Workflow
	// Runs counts the selected runs (damaged index rows excepted).
	Runs int64
	// DamagedRows counts the index rows the store listed as damaged for
	// the filter: skipped, as their workflow and times cannot be trusted.
	DamagedRows int64
	// Limit is the limit applied (Filter.Limit or DefaultLimit).
	Limit int
	// Truncated is set when runs matching the filter were left out by
	// Limit.
	Truncated bool
}

// Compute returns one Workflow per workflow name among the selected runs,
// sorted by name. It reads the index and journals through history.Store
// only. A malformed filter gives an error wrapping [ErrInvalidFilter]; a
// store error other than damage (the store closed, ctx done) fails the
// call.
func Compute(ctx context.Context, st history.Store, f Filter) ([]Workflow, error) {
	r, err := Measure(ctx, st, f)
	if err != nil {
		return nil, err
	}
	return r.Workflows, nil
}

// Measure is [Compute] with the totals of the selection.
func Measure(ctx context.Context, st history.Store, f Filter) (Report, error) {
	if f.Limit < 0 {
		return Report{}, fmt.Errorf("%w: negative limit %d", ErrInvalidFilter, f.Limit)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return Report{}, fmt.Errorf("%w: created range ends (%v) before it starts (%v)", ErrInvalidFilter, f.To, f.From)
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	if f.Codec == nil {
		f.Codec = history.JSONCodec{}
	}
	sel, err := selectRuns(ctx, st, f)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Runs: int64(len(sel.runs)), DamagedRows: sel.damaged, Limit: f.Limit, Truncated: sel.truncated}
	reads, err := readJournals(ctx, st, sel.runs, f.Codec)
	if err != nil {
		return Report{}, err
	}
	acc := map[string]*accum{}
	for i, r := range sel.runs {
		rd := reads[i]
		if rd.gone {
			// Purged since it was listed: as if it had not been selected.
			rep.Runs--
			continue
		}
		a := acc[r.Workflow]
		if a == nil {
			a = &accum{w: Workflow{Name: r.Workflow}}
			acc[r.Workflow] = a
		}
		a.addRun(r)
		if rd.j == nil {
			a.w.DamagedJournals++
			continue
		}
		a.addJournal(r, rd.j)
	}
	for _, a := range acc {
		a.w.Truncated = sel.truncated
	}
	names := make([]string, 0, len(acc))
	for n := range acc {
		names = append(names, n)
	}
	slices.Sort(names)
	rep.Workflows = make([]Workflow, 0, len(names))
	for _, n := range names {
		rep.Workflows = append(rep.Workflows, acc[n].finish())
	}
	return rep, nil
}

// read is what readJournals found of one run.
type read struct {
	j    *journal // nil when the journal is damaged
	gone bool     // the run was purged since it was listed
}

// readers is how many journals are read at once: the SQLite store serves
// reads from a pool of connections.
const readers = 4

// readJournals reads the journals of runs, a few at a time, and returns
// what each says, in the order of runs.
func readJournals(ctx context.Context, st history.Store, runs []history.RunInfo, codec history.Codec) ([]read, error) {
	out := make([]read, len(runs))
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range min(readers, len(runs)) {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(runs) {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				evs, err := st.Events(ctx, runs[i].ID, 0)
				switch {
				case errors.Is(err, history.ErrRunNotFound):
					out[i].gone = true
				case errors.Is(err, history.ErrCorrupt):
				case err != nil:
					return fmt.Errorf("kpi: read the journal of run %q: %w", runs[i].ID, err)
				default:
					if j, ok := readJournal(evs, codec); ok {
						out[i].j = j
					}
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// accum gathers one workflow's figures.
type accum struct {
	w                  Workflow
	dur, detect, recov []time.Duration
	claim, decide      []time.Duration
	automated          int64 // steps that ended, HumanActivities excepted
}

func (a *accum) addRun(r history.RunInfo) {
	a.w.Runs++
	switch r.Status {
	case history.StatusRunning:
		a.w.Running++
	case history.StatusBlocked:
		a.w.Blocked++
	case history.StatusCompleted:
		a.w.Completed++
	case history.StatusFailed:
		a.w.Failed++
	case history.StatusCanceled:
		a.w.Canceled++
	case history.StatusTerminated:
		a.w.Terminated++
	case history.StatusTimedOut:
		a.w.TimedOut++
	}
	if r.Status.Ended() {
		a.dur = append(a.dur, r.UpdatedAt.Sub(r.CreatedAt))
	}
}

func (a *accum) addJournal(r history.RunInfo, j *journal) {
	a.w.Decisions.merge(j.decisions)
	a.w.Human.merge(j.human)
	a.claim = appendNonNegative(a.claim, j.claim)
	a.decide = appendNonNegative(a.decide, j.decide)
	for _, s := range j.steps {
		switch s.outcome {
		case outCompleted, outFailed:
			a.w.Steps++
			if !slices.Contains(HumanActivities, s.name) {
				a.automated++
			}
			if s.outcome == outFailed {
				a.w.FailedSteps++
			}
			if s.attempts > 1 {
				a.w.RetriedSteps++
				a.w.Retries += int64(s.attempts - 1)
			}
		case outCanceled:
			a.w.CanceledSteps++
		}
	}
	for _, d := range j.recovered {
		if d >= 0 {
			a.recov = append(a.recov, d)
		}
	}
	if j.unrecovered.IsZero() {
		return
	}
	var alert time.Time
	switch {
	case r.Status == history.StatusFailed && !j.failedAt.IsZero():
		alert = j.failedAt
	case r.Status == history.StatusFailed || r.Status == history.StatusBlocked:
		alert = r.UpdatedAt
	default:
		return
	}
	if d := alert.Sub(j.unrecovered); d >= 0 {
		a.detect = append(a.detect, d)
	}
}

func (a *accum) finish() Workflow {
	a.w.Duration = percentiles(a.dur)
	a.w.TimeToDetect = percentiles(a.detect)
	a.w.TimeToRecover = percentiles(a.recov)
	if h := &a.w.Human; h.Created > 0 {
		h.TimeToClaim, h.TimeToDecide = percentiles(a.claim), percentiles(a.decide)
		h.AutomatedSteps = a.automated
		a.w.HumanShare = share(h.Completed, h.Completed+a.automated)
	}
	return a.w
}

// appendNonNegative appends the durations of ds that are not negative (a
// clock set back between two events gives no sample).
func appendNonNegative(to, ds []time.Duration) []time.Duration {
	for _, d := range ds {
		if d >= 0 {
			to = append(to, d)
		}
	}
	return to
}

func (h *HumanTasks) merge(o HumanTasks) {
	h.Created += o.Created
	h.Completed += o.Completed
	h.TimedOut += o.TimedOut
	h.Canceled += o.Canceled
	h.Failed += o.Failed
	h.Escalations += o.Escalations
	h.Unreadable += o.Unreadable
}

// percentiles sorts d and returns its percentiles.
func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	return Percentiles{N: len(d), P50: Percentile(d, 50), P90: Percentile(d, 90), P95: Percentile(d, 95),
		P99: Percentile(d, 99), Max: d[len(d)-1]}
}

// Percentile is the nearest-rank percentile p (1 to 100) of the sorted,
// non-empty durations d: the smallest value with at least p% of the values
// at or below it.
func Percentile(d []time.Duration, p int) time.Duration {
	rank := (p*len(d) + 99) / 100 // ceil(p/100 * n)
	return d[min(max(rank, 1), len(d))-1]
}

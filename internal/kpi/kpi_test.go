package kpi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/kpi"
)

// t0 is when the journals built by hand start.
var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// jb builds one run's journal by hand, as the engine would write it.
type jb struct {
	id, wf  string
	created time.Time
	evs     []history.Event
}

func newRun(id, wf string, created time.Time) *jb {
	b := &jb{id: id, wf: wf, created: created}
	b.add(history.EventRunStarted, wf, 0, []byte(`"in"`), created)
	return b
}

// add appends an event and returns its Seq.
func (b *jb) add(typ history.EventType, name string, ref int64, payload []byte, tm time.Time) int64 {
	seq := int64(len(b.evs) + 1)
	b.evs = append(b.evs, history.Event{Seq: seq, Type: typ, Name: name, Ref: ref, Payload: payload, Time: tm})
	return seq
}

func (b *jb) sched(name string, tm time.Time) int64 {
	return b.add(history.EventActivityScheduled, name, 0, []byte(`1`), tm)
}

func (b *jb) done(ref int64, tm time.Time) {
	b.add(history.EventActivityCompleted, b.evs[ref-1].Name, ref, []byte(`2`), tm)
}

func (b *jb) fail(ref int64, attempt int, typ string, tm time.Time) {
	p, err := json.Marshal(history.Failure{Message: "boom", Type: typ, Attempt: attempt})
	if err != nil {
		panic(err)
	}
	b.add(history.EventActivityFailed, b.evs[ref-1].Name, ref, p, tm)
}

// commit writes the run: its creation, then the rest of its journal with
// status st at tm (the row's UpdatedAt).
func (b *jb) commit(t *testing.T, st history.Store, status history.RunStatus, tm time.Time) {
	t.Helper()
	mustCommit(t, st, &history.Batch{RunID: b.id, Time: b.created, Events: b.evs[:1],
		Create: &history.RunInfo{ID: b.id, Workflow: b.wf, Status: history.StatusRunning}})
	if len(b.evs) == 1 && status == history.StatusRunning {
		return
	}
	mustCommit(t, st, &history.Batch{RunID: b.id, Time: tm, Events: b.evs[1:], Status: &history.StatusUpdate{Status: status}})
}

func mustCommit(t *testing.T, st history.Store, batches ...*history.Batch) {
	t.Helper()
	errs, err := st.Commit(context.Background(), batches)
	require.NoError(t, err)
	for i, e := range errs {
		require.NoError(t, e, "batch %d", i)
	}
}

func openStore(t testing.TB) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chorus.db")
	st, err := sqlite.Open(context.Background(), path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st, path
}

// fillByHand writes the journals whose KPIs TestComputeByHand knows.
func fillByHand(t *testing.T, st history.Store) {
	// Completed at once: one step, 3 s.
	b := newRun("o-ok", "order", at(0))
	b.done(b.sched("charge", at(0)), at(2))
	b.add(history.EventRunCompleted, "", 0, nil, at(3))
	b.commit(t, st, history.StatusCompleted, at(3))

	// charge fails for good after 3 attempts; the workflow schedules it
	// again, which succeeds 5 s after the failure.
	b = newRun("o-fallback", "order", at(5))
	b.fail(b.sched("charge", at(5)), 3, "", at(10))
	b.done(b.sched("charge", at(10)), at(15))
	b.add(history.EventRunCompleted, "", 0, nil, at(16))
	b.commit(t, st, history.StatusCompleted, at(16))

	// charge fails at once; the run fails 2 s later.
	b = newRun("o-fail", "order", at(20))
	b.fail(b.sched("charge", at(20)), 1, "", at(21))
	b.add(history.EventRunFailed, "", 0, []byte(`{"message":"boom"}`), at(23))
	b.commit(t, st, history.StatusFailed, at(23))

	// notify fails; the workflow handles it and completes 4 s later.
	b = newRun("o-handled", "order", at(30))
	b.fail(b.sched("notify", at(30)), 1, "NotifyDown", at(31))
	b.add(history.EventRunCompleted, "", 0, nil, at(35))
	b.commit(t, st, history.StatusCompleted, at(35))

	// charge fails after 2 attempts; the code then panics: blocked 6 s
	// after the failure.
	b = newRun("o-blocked", "order", at(40))
	b.fail(b.sched("charge", at(40)), 2, "", at(41))
	b.commit(t, st, history.StatusBlocked, at(47))

	// An activity the workflow canceled; the run still runs.
	b = newRun("o-canceled-step", "order", at(50))
	b.fail(b.sched("charge", at(50)), 1, "Canceled", at(51))
	b.commit(t, st, history.StatusRunning, at(51))

	// An ID used twice: the first run failed, its steps are not the new
	// run's.
	b = newRun("o-reused", "order", at(60))
	b.fail(b.sched("charge", at(60)), 2, "", at(61))
	b.add(history.EventRunFailed, "", 0, []byte(`{"message":"boom"}`), at(62))
	b.commit(t, st, history.StatusFailed, at(62))
	first := int64(len(b.evs) + 1)
	b.add(history.EventRunStarted, "order", 0, []byte(`"in"`), at(70))
	b.done(b.sched("charge", at(70)), at(72))
	b.add(history.EventRunCompleted, "", 0, nil, at(73))
	mustCommit(t, st, &history.Batch{RunID: "o-reused", Time: at(70), Events: b.evs[first-1 : first],
		Reuse: &history.RunInfo{Workflow: "order", FirstSeq: first}, Status: &history.StatusUpdate{Status: history.StatusRunning}})
	mustCommit(t, st, &history.Batch{RunID: "o-reused", Time: at(73), Events: b.evs[first:],
		Status: &history.StatusUpdate{Status: history.StatusCompleted}})

	// Another workflow, without steps.
	b = newRun("a-1", "audit", at(100))
	b.add(history.EventRunCompleted, "", 0, nil, at(101))
	b.commit(t, st, history.StatusCompleted, at(101))
}

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

// wantOrder is the KPIs of the "order" runs of fillByHand.
func wantOrder() kpi.Workflow {
	return kpi.Workflow{
		Name: "order", Runs: 7, Running: 1, Blocked: 1, Completed: 4, Failed: 1,
		// o-ok 3 s, o-fallback 11 s, o-fail 3 s, o-handled 5 s, o-reused 3 s.
		Duration: kpi.Percentiles{N: 5, P50: sec(3), P90: sec(11), P95: sec(11), P99: sec(11), Max: sec(11)},
		// o-ok 1, o-fallback 2, o-fail 1, o-handled 1, o-blocked 1, o-reused
		// 1 (its first run's step is not counted).
		Steps: 7, FailedSteps: 4,
		// o-fallback's 3 attempts and o-blocked's 2.
		RetriedSteps: 2, Retries: 3,
		CanceledSteps: 1,
		// o-fail 2 s, o-blocked 6 s.
		TimeToDetect: kpi.Percentiles{N: 2, P50: sec(2), P90: sec(6), P95: sec(6), P99: sec(6), Max: sec(6)},
		// o-handled 4 s, o-fallback 5 s.
		TimeToRecover: kpi.Percentiles{N: 2, P50: sec(4), P90: sec(5), P95: sec(5), P99: sec(5), Max: sec(5)},
	}
}

func wantAudit() kpi.Workflow {
	return kpi.Workflow{Name: "audit", Runs: 1, Completed: 1,
		Duration: kpi.Percentiles{N: 1, P50: sec(1), P90: sec(1), P95: sec(1), P99: sec(1), Max: sec(1)}}
}

// TestComputeByHand computes the KPIs of journals written by hand, with
// every kind of step outcome, and checks every figure.
func TestComputeByHand(t *testing.T) {
	st, _ := openStore(t)
	fillByHand(t, st)
	ws, err := kpi.Compute(t.Context(), st, kpi.Filter{})
	require.NoError(t, err)
	require.Equal(t, []kpi.Workflow{wantAudit(), wantOrder()}, ws)

	rep, err := kpi.Measure(t.Context(), st, kpi.Filter{})
	require.NoError(t, err)
	require.Equal(t, kpi.Report{Workflows: ws, Runs: 8, Limit: kpi.DefaultLimit}, rep)
}

// TestComputeFilter selects by workflow, by creation time and by limit.
func TestComputeFilter(t *testing.T) {
	st, _ := openStore(t)
	fillByHand(t, st)
	ctx := t.Context()

	ws, err := kpi.Compute(ctx, st, kpi.Filter{Workflow: "audit"})
	require.NoError(t, err)
	require.Equal(t, []kpi.Workflow{wantAudit()}, ws)

	// [20 s, 50 s): o-fail, o-handled and o-blocked.
	ws, err = kpi.Compute(ctx, st, kpi.Filter{Workflow: "order", From: at(20), To: at(50)})
	require.NoError(t, err)
	require.Equal(t, []kpi.Workflow{{
		Name: "order", Runs: 3, Blocked: 1, Completed: 1, Failed: 1,
		Duration: kpi.Percentiles{N: 2, P50: sec(3), P90: sec(5), P95: sec(5), P99: sec(5), Max: sec(5)},
		Steps:    3, FailedSteps: 3, RetriedSteps: 1, Retries: 1,
		TimeToDetect:  kpi.Percentiles{N: 2, P50: sec(2), P90: sec(6), P95: sec(6), P99: sec(6), Max: sec(6)},
		TimeToRecover: kpi.Percentiles{N: 1, P50: sec(4), P90: sec(4), P95: sec(4), P99: sec(4), Max: sec(4)},
	}}, ws)

	// The 3 most recent: a-1 (100 s), o-reused (70 s), o-canceled-step
	// (50 s).
	rep, err := kpi.Measure(ctx, st, kpi.Filter{Limit: 3})
	require.NoError(t, err)
	require.True(t, rep.Truncated)
	require.EqualValues(t, 3, rep.Runs)
	audit := wantAudit()
	audit.Truncated = true // runs of the filter were left out, of order only
	require.Equal(t, audit, rep.Workflows[0])
	require.Equal(t, kpi.Workflow{
		Name: "order", Runs: 2, Running: 1, Completed: 1,
		Duration: kpi.Percentiles{N: 1, P50: sec(3), P90: sec(3), P95: sec(3), P99: sec(3), Max: sec(3)},
		Steps:    1, CanceledSteps: 1, Truncated: true,
	}, rep.Workflows[1])

	// Nothing matches.
	ws, err = kpi.Compute(ctx, st, kpi.Filter{From: at(1000)})
	require.NoError(t, err)
	require.Empty(t, ws)
	require.NotNil(t, ws)
}

// TestComputeEmpty: a database without runs has no KPIs, and no error.
func TestComputeEmpty(t *testing.T) {
	st, _ := openStore(t)
	rep, err := kpi.Measure(t.Context(), st, kpi.Filter{})
	require.NoError(t, err)
	require.Equal(t, kpi.Report{Workflows: []kpi.Workflow{}, Limit: kpi.DefaultLimit}, rep)
}

// TestComputeBadFilter: a malformed filter is a typed error.
func TestComputeBadFilter(t *testing.T) {
	st, _ := openStore(t)
	_, err := kpi.Compute(t.Context(), st, kpi.Filter{Limit: -1})
	require.ErrorIs(t, err, kpi.ErrInvalidFilter)
	require.ErrorContains(t, err, "negative limit -1")
	_, err = kpi.Compute(t.Context(), st, kpi.Filter{From: at(10), To: at(5)})
	require.ErrorIs(t, err, kpi.ErrInvalidFilter)
}

// TestComputeReadOnly reads the KPIs through the read-only reader while the
// store that writes the file has it open.
func TestComputeReadOnly(t *testing.T) {
	st, path := openStore(t)
	fillByHand(t, st)
	ro, err := sqlite.OpenReadOnly(t.Context(), path, nil)
	require.NoError(t, err)
	defer ro.Close()
	ws, err := kpi.Compute(t.Context(), ro, kpi.Filter{})
	require.NoError(t, err)
	require.Equal(t, []kpi.Workflow{wantAudit(), wantOrder()}, ws)
}

// flipByte changes one byte of the BLOB that query selects, behind the
// store's back, as a failing disk would.
func flipByte(t *testing.T, path, query, update string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	var b []byte
	require.NoError(t, db.QueryRow(query, args...).Scan(&b))
	require.NotEmpty(t, b)
	b[len(b)/2] ^= 0x01
	_, err = db.Exec(update, append([]any{b}, args...)...)
	require.NoError(t, err)
}

// TestComputeDamaged: a damaged index row is counted and skipped, a damaged
// journal is counted and its steps left out; the other runs are measured.
func TestComputeDamaged(t *testing.T) {
	st, path := openStore(t)
	fillByHand(t, st)
	// o-fail's failure payload, and a-1's row (its workflow column).
	flipByte(t, path, "SELECT payload FROM events WHERE run_id = ? AND seq = 3",
		"UPDATE events SET payload = ? WHERE run_id = ? AND seq = 3", "o-fail")
	flipByte(t, path, "SELECT CAST(workflow AS BLOB) FROM runs WHERE id = ?",
		"UPDATE runs SET workflow = CAST(? AS TEXT) WHERE id = ?", "a-1")

	rep, err := kpi.Measure(t.Context(), st, kpi.Filter{})
	require.NoError(t, err)
	require.EqualValues(t, 1, rep.DamagedRows)
	require.EqualValues(t, 7, rep.Runs)
	want := wantOrder()
	want.DamagedJournals = 1
	// o-fail still counts as a failed run of 3 s; its step and its time to
	// detect are gone.
	want.Steps, want.FailedSteps = 6, 3
	want.TimeToDetect = kpi.Percentiles{N: 1, P50: sec(6), P90: sec(6), P95: sec(6), P99: sec(6), Max: sec(6)}
	require.Equal(t, []kpi.Workflow{want}, rep.Workflows)
}

// fakeStore serves runs and journals from memory, and is not an
// AttrStore: the time range is applied by Compute.
type fakeStore struct {
	history.Store
	runs   []history.RunInfo
	events map[string][]history.Event
	err    error
}

func (s *fakeStore) ListRuns(_ context.Context, f history.ListFilter) ([]history.RunInfo, error) {
	if f.Extended() {
		return nil, errors.New("fake: extended filter")
	}
	var out []history.RunInfo
	for _, r := range s.runs {
		if r.ID > f.AfterID && (f.Workflow == "" || r.Workflow == f.Workflow) {
			out = append(out, r)
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

func (s *fakeStore) Events(_ context.Context, id string, _ int64) ([]history.Event, error) {
	if s.err != nil {
		return nil, s.err
	}
	evs, ok := s.events[id]
	if !ok {
		return nil, history.ErrRunNotFound
	}
	return evs, nil
}

// TestComputeOtherStore: a store that serves only the basic ListFilter,
// with journals that contradict themselves and runs purged while Compute
// reads them.
func TestComputeOtherStore(t *testing.T) {
	run := func(id string, created int, status history.RunStatus) history.RunInfo {
		return history.RunInfo{ID: id, Workflow: "wf", Status: status, CreatedAt: at(created), UpdatedAt: at(created + 1)}
	}
	st := &fakeStore{
		runs: []history.RunInfo{
			run("a", 0, history.StatusCompleted), run("b", 10, history.StatusCompleted),
			run("c", 20, history.StatusCompleted), run("d", 30, history.StatusCompleted),
			run("gone", 15, history.StatusCompleted),
			{ID: "x", Damaged: history.ErrCorrupt},
		},
		events: map[string][]history.Event{
			"a": {{Seq: 1, Type: history.EventRunStarted}},
			// An outcome for a step never scheduled.
			"b": {{Seq: 1, Type: history.EventRunStarted}, {Seq: 2, Type: history.EventActivityCompleted, Ref: 7}},
			// Two outcomes for one step.
			"c": {{Seq: 1, Type: history.EventRunStarted}, {Seq: 2, Type: history.EventActivityScheduled, Name: "x"},
				{Seq: 3, Type: history.EventActivityCompleted, Ref: 2}, {Seq: 4, Type: history.EventActivityFailed, Ref: 2, Payload: []byte("not json")}},
			// A failure the codec cannot read: one attempt.
			"d": {{Seq: 1, Type: history.EventRunStarted}, {Seq: 2, Type: history.EventActivityScheduled, Name: "x"},
				{Seq: 3, Type: history.EventActivityFailed, Ref: 2, Payload: []byte("not json")}},
		},
	}
	rep, err := kpi.Measure(t.Context(), st, kpi.Filter{From: at(10), To: at(40)})
	require.NoError(t, err)
	one := kpi.Percentiles{N: 3, P50: sec(1), P90: sec(1), P95: sec(1), P99: sec(1), Max: sec(1)}
	require.Equal(t, kpi.Report{
		Workflows: []kpi.Workflow{{Name: "wf", Runs: 3, Completed: 3, Duration: one,
			Steps: 1, FailedSteps: 1, DamagedJournals: 2}},
		Runs: 3, DamagedRows: 1, Limit: kpi.DefaultLimit,
	}, rep)

	st.err = history.ErrStoreClosed
	_, err = kpi.Compute(t.Context(), st, kpi.Filter{})
	require.ErrorIs(t, err, history.ErrStoreClosed)
}

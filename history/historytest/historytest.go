// Package historytest is a conformance suite for implementations of
// [history.Store]. A store's own tests call [Run] with a function that opens
// a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		historytest.Run(t, func(t *testing.T) history.Store {
//			s, err := mystore.Open(...)
//			require.NoError(t, err)
//			return s
//		})
//	}
//
// The suite checks the contract the engine relies on, beyond what the
// [history.Store] documentation spells out:
//
//   - Every field of runs, events and tasks reads back as written. Times
//     read back as the same instant (compared with time.Time.Equal) to the
//     nanosecond, the zero time reads back as the zero time, and an empty
//     payload may read back as nil or empty.
//   - A Create for an existing run fails with [history.ErrRunExists]; events
//     that do not follow the journal's last Seq fail with
//     [history.ErrConflict]; a batch for an unknown run, without Create,
//     fails with [history.ErrRunNotFound]. A failed batch writes nothing
//     and does not keep the other batches of the same Commit from landing,
//     even batches after it for the same run or batches that fail halfway
//     (an AddTasks entry for a task that exists, an UpdateTasks entry for
//     one that does not: both [history.ErrConflict]).
//   - Every batch without Create sets the run's UpdatedAt to Batch.Time;
//     a Status replaces Status, Result and Failure together.
//   - A new run's FirstSeq is 1, and Parent and ParentStep are those of
//     Create. A Status with a FirstSeq moves the run's FirstSeq there (a run
//     that continues as new); FirstSeq must be the Seq of a RunStarted event
//     of the same batch, or the batch fails and writes nothing.
//   - A task's Kind reads back as written, a zero Kind as
//     [history.TaskActivity]; tasks of other kinds may have an empty Name.
//     Tasks fills in each task's Workflow (from its run) and ScheduledAt
//     (the Time of the event at its Step).
//   - DropTasks deletes every task of its run, and of no other run, before
//     the batch's AddTasks are inserted: those survive, and may reuse a
//     dropped step.
//   - DoneTasks for a task that does not exist is not an error.
//   - Reads may run concurrently with Commit, and see whole batches.
//   - Close may be called twice; every other method then fails with
//     [history.ErrStoreClosed].
//
// A store that detects rows damaged behind its back (a checksum per row, as
// the SQLite store keeps) also runs [RunDamage], with a [Damager] that edits
// its storage directly: damage is reported as [history.ErrCorrupt] for the
// run it hits, and never hides the other runs.
package historytest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/chorusdev/chorus/history"
)

// Run runs the conformance suite against the stores open returns. Each
// subtest calls open once, runs in parallel with the others (so open must be
// safe for concurrent use), and closes its store when it ends. open should
// fail t rather than return nil.
func Run(t *testing.T, open func(t *testing.T) history.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s history.Store)
	}{
		{"CreateAndReadBack", testCreateAndReadBack},
		{"TimesAndPayloads", testTimesAndPayloads},
		{"EventNameBytes", testEventNameBytes},
		{"EmptyCommit", testEmptyCommit},
		{"DuplicateCreate", testDuplicateCreate},
		{"DuplicateCreateInOneCommit", testDuplicateCreateInOneCommit},
		{"Conflict", testConflict},
		{"SameRunTwiceInOneCommit", testSameRunTwiceInOneCommit},
		{"NotFound", testNotFound},
		{"InvalidBatches", testInvalidBatches},
		{"StatusUpdates", testStatusUpdates},
		{"Tasks", testTasks},
		{"TaskState", testTaskState},
		{"PoisonBatch", testPoisonBatch},
		{"ListRuns", testListRuns},
		{"EventsAfterSeq", testEventsAfterSeq},
		{"ManyBatches", testManyBatches},
		{"ConcurrentReaders", testConcurrentReaders},
		{"TaskKinds", testTaskKinds},
		{"DropTasks", testDropTasks},
		{"ContinueAsNew", testContinueAsNew},
		{"BadFirstSeq", testBadFirstSeq},
		{"ChildRuns", testChildRuns},
		{"Terminated", testTerminated},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			require.NotNil(t, s, "open returned a nil store")
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			tc.fn(t, s)
		})
	}
}

func testCreateAndReadBack(t *testing.T, s history.Store) {
	task := history.Task{
		RunID: "run-1", Step: 2, Name: "charge",
		Input: []byte(`{"amount":5}`), Options: []byte(`{"retries":3}`),
		Attempt: 1, NotBefore: at(5 * time.Second),
	}
	events := []history.Event{
		{Seq: 1, Type: history.EventRunStarted, Name: "order", Payload: []byte(`{"n":1}`), Time: t0},
		{Seq: 2, Type: history.EventActivityScheduled, Name: "charge", Payload: []byte(`{"amount":5}`), Time: at(time.Nanosecond)},
	}
	commit(t, s, &history.Batch{
		RunID:    "run-1",
		Time:     t0,
		Create:   &history.RunInfo{ID: "run-1", Workflow: "order", Status: history.StatusRunning},
		Events:   events,
		AddTasks: []history.Task{task},
	})
	want := history.RunInfo{ID: "run-1", Workflow: "order", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 2}
	requireState(t, s, want, events)
	requireTasks(t, []history.Task{task}, mustTasks(t, s))

	// The next step answers the activity.
	t1 := at(time.Minute + 7*time.Nanosecond)
	done := completed(3, 2, t1)
	commit(t, s, &history.Batch{RunID: "run-1", Time: t1, Events: []history.Event{done}, DoneTasks: []int64{2}})
	want.UpdatedAt, want.LastSeq = t1, 3
	requireState(t, s, want, append(events, done))
	require.Empty(t, mustTasks(t, s))
}

func testTimesAndPayloads(t *testing.T, s history.Store) {
	epoch := time.Unix(0, 0)
	late := time.Date(2261, time.December, 31, 23, 59, 59, 999999999, time.UTC)
	early := time.Date(1700, time.January, 1, 0, 0, 0, 1, time.UTC)
	events := []history.Event{
		{Seq: 1, Type: history.EventRunStarted, Name: "wf ✓", Payload: []byte{0, 1, 2, 0, 255}, Time: epoch},
		{Seq: 2, Type: history.EventActivityScheduled, Name: "", Payload: nil, Time: late},
		{Seq: 3, Type: history.EventCancelRequested, Payload: []byte{}, Time: early},
		{Seq: 4, Type: history.EventRunCanceled, Payload: []byte(`{"message":"canceled"}`), Time: time.Time{}},
	}
	tasks := []history.Task{
		{RunID: "times", Step: 2, Name: "a", Attempt: 1},                                     // zero NotBefore, no payloads
		{RunID: "times", Step: 3, Name: "b", Input: []byte{0}, Attempt: 7, NotBefore: epoch}, // epoch is not zero
	}
	commit(t, s, &history.Batch{
		RunID:    "times",
		Time:     epoch,
		Create:   &history.RunInfo{ID: "times", Workflow: "wf ✓", Status: history.StatusRunning},
		Events:   events,
		AddTasks: tasks,
	})
	requireState(t, s, history.RunInfo{
		ID: "times", Workflow: "wf ✓", Status: history.StatusRunning,
		CreatedAt: epoch, UpdatedAt: epoch, LastSeq: 4,
	}, events)
	got := mustTasks(t, s)
	requireTasks(t, tasks, got)
	require.False(t, got[1].NotBefore.IsZero(), "a NotBefore at the Unix epoch must not read back as the zero time")

	r, err := s.Run(t.Context(), "times")
	require.NoError(t, err)
	require.False(t, r.CreatedAt.IsZero(), "a CreatedAt at the Unix epoch must not read back as the zero time")
}

// testEventNameBytes checks that an event's name reads back byte for byte
// whatever it holds: the engine journals a signal from another run and an
// update under the name, a NUL and a key.
func testEventNameBytes(t *testing.T, s history.Store) {
	names := []string{"sig\x00other-run/3", "upd\x00id-1", "\x00", "ünïcode ✓"}
	b := createBatch("names", "wf", t0)
	for i, n := range names {
		b.Events = append(b.Events, history.Event{Seq: int64(i + 2), Type: history.EventSignalReceived, Name: n, Payload: []byte(`1`), Time: t0})
	}
	commit(t, s, b)
	events, err := s.Events(t.Context(), "names", 1)
	require.NoError(t, err)
	require.Len(t, events, len(names))
	for i, e := range events {
		require.Equal(t, names[i], e.Name, "event %d", e.Seq)
	}
}

func testEmptyCommit(t *testing.T, s history.Store) {
	errs, err := s.Commit(t.Context(), nil)
	require.NoError(t, err)
	require.Empty(t, errs)
}

func testDuplicateCreate(t *testing.T, s history.Store) {
	commit(t, s, createBatch("dup", "first", t0))

	again := createBatch("dup", "second", at(time.Second))
	again.AddTasks = []history.Task{{Step: 1, Name: "x", Attempt: 1}}
	errs := commitErrs(t, s, again)
	require.ErrorIs(t, errs[0], history.ErrRunExists)

	requireState(t, s, history.RunInfo{
		ID: "dup", Workflow: "first", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 1,
	}, createBatch("dup", "first", t0).Events)
	require.Empty(t, mustTasks(t, s))
}

func testDuplicateCreateInOneCommit(t *testing.T, s history.Store) {
	second := createBatch("b", "second", at(time.Second))
	second.Events = append(second.Events, scheduled(2, "act", at(time.Second)))
	second.AddTasks = []history.Task{{Step: 2, Name: "act", Attempt: 1}}
	errs := commitErrs(t, s,
		createBatch("b", "first", t0),
		second,
		createBatch("c", "third", t0),
	)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], history.ErrRunExists)
	require.NoError(t, errs[2])

	requireState(t, s, history.RunInfo{
		ID: "b", Workflow: "first", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 1,
	}, createBatch("b", "first", t0).Events)
	requireState(t, s, history.RunInfo{
		ID: "c", Workflow: "third", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 1,
	}, createBatch("c", "third", t0).Events)
	require.Empty(t, mustTasks(t, s))
}

func testConflict(t *testing.T, s history.Store) {
	r := createBatch("r", "wf", t0)
	r.Events = append(r.Events, scheduled(2, "act", t0))
	commit(t, s, r, createBatch("other", "wf", t0))
	rEvents := r.Events

	t1 := at(time.Second)
	clash := appendBatch("r", t1, completed(2, 1, t1), scheduled(3, "act", t1)) // Seq 2 exists
	clash.Status = &history.StatusUpdate{Status: history.StatusBlocked, Failure: []byte("x")}
	clash.AddTasks = []history.Task{{Step: 3, Name: "act", Attempt: 1}}
	gap := appendBatch("r", t1, completed(4, 2, t1)) // Seq 3 missing
	gap.DoneTasks = []int64{2}
	good := appendBatch("other", t1, scheduled(2, "act", t1))

	errs := commitErrs(t, s, clash, good, gap)
	require.ErrorIs(t, errs[0], history.ErrConflict)
	require.NoError(t, errs[1])
	require.ErrorIs(t, errs[2], history.ErrConflict)

	// Nothing of the failed batches was written.
	requireState(t, s, history.RunInfo{
		ID: "r", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 2,
	}, rEvents)
	require.Empty(t, mustTasks(t, s))
	requireState(t, s, history.RunInfo{
		ID: "other", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t1, LastSeq: 2,
	}, append(createBatch("other", "wf", t0).Events, scheduled(2, "act", t1)))
}

func testSameRunTwiceInOneCommit(t *testing.T, s history.Store) {
	commit(t, s, createBatch("r", "wf", t0))
	t1, t2 := at(time.Second), at(2*time.Second)
	e2, e3, e4 := scheduled(2, "a", t1), completed(3, 2, t1), scheduled(4, "b", t2)
	errs := commitErrs(t, s,
		appendBatch("r", t1, e2, e3),
		appendBatch("r", t2, scheduled(3, "stale", t2)), // Seq 3 was just written
		appendBatch("r", t2, e4),
	)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], history.ErrConflict)
	require.NoError(t, errs[2])
	requireState(t, s, history.RunInfo{
		ID: "r", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t2, LastSeq: 4,
	}, append(createBatch("r", "wf", t0).Events, e2, e3, e4))
}

func testNotFound(t *testing.T, s history.Store) {
	ctx := t.Context()
	_, err := s.Run(ctx, "nope")
	require.ErrorIs(t, err, history.ErrRunNotFound)
	_, err = s.Events(ctx, "nope", 0)
	require.ErrorIs(t, err, history.ErrRunNotFound)

	errs := commitErrs(t, s,
		appendBatch("nope", t0, history.Event{Seq: 1, Type: history.EventRunStarted, Time: t0}),
		appendBatch("nope", t0, scheduled(5, "a", t0)),
		&history.Batch{RunID: "nope", Time: t0, Status: &history.StatusUpdate{Status: history.StatusCompleted}},
		&history.Batch{RunID: "nope", Time: t0, AddTasks: []history.Task{{Step: 1, Name: "a", Attempt: 1}}},
		createBatch("yes", "wf", t0),
	)
	for i := range 4 {
		require.ErrorIs(t, errs[i], history.ErrRunNotFound, "batch %d", i)
	}
	require.NoError(t, errs[4])

	_, err = s.Run(ctx, "nope")
	require.ErrorIs(t, err, history.ErrRunNotFound)
	require.Empty(t, mustTasks(t, s))
	runs, err := s.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 1)

	// A known run has no events past its end; that is not an error.
	evs, err := s.Events(ctx, "yes", 1)
	require.NoError(t, err)
	require.Empty(t, evs)
}

func testInvalidBatches(t *testing.T, s history.Store) {
	commit(t, s, createBatch("r", "wf", t0))
	t1 := at(time.Second)
	gapInside := appendBatch("r", t1, scheduled(2, "a", t1), scheduled(4, "b", t1))
	badType := appendBatch("r", t1, history.Event{Seq: 2, Type: history.EventType(200), Time: t1})
	badStatus := &history.Batch{RunID: "r", Time: t1, Status: &history.StatusUpdate{Status: history.RunStatus(99)}}
	newGap := createBatch("y", "wf", t1)
	newGap.Events = append(newGap.Events, scheduled(3, "a", t1))
	zeroSeq := appendBatch("r", t1, history.Event{Seq: 0, Type: history.EventActivityScheduled, Time: t1})
	good := appendBatch("r", t1, scheduled(2, "a", t1))

	errs := commitErrs(t, s, gapInside, badType, badStatus, newGap, zeroSeq, nil, good)
	for i := range 6 {
		require.Error(t, errs[i], "batch %d", i)
	}
	require.NoError(t, errs[6])

	_, err := s.Run(t.Context(), "y")
	require.ErrorIs(t, err, history.ErrRunNotFound)
	requireState(t, s, history.RunInfo{
		ID: "r", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t1, LastSeq: 2,
	}, append(createBatch("r", "wf", t0).Events, scheduled(2, "a", t1)))
}

func testStatusUpdates(t *testing.T, s history.Store) {
	commit(t, s, createBatch("r", "wf", t0))
	events := createBatch("r", "wf", t0).Events

	// A status alone changes the row, not the journal.
	t1 := at(time.Second)
	commit(t, s, &history.Batch{RunID: "r", Time: t1, Status: &history.StatusUpdate{
		Status: history.StatusBlocked, Failure: []byte(`{"message":"diverged"}`),
	}})
	requireState(t, s, history.RunInfo{
		ID: "r", Workflow: "wf", Status: history.StatusBlocked, CreatedAt: t0, UpdatedAt: t1, LastSeq: 1,
		Failure: []byte(`{"message":"diverged"}`),
	}, events)

	// With events; the new status replaces Result and Failure.
	t2 := at(2 * time.Second)
	end := history.Event{Seq: 2, Type: history.EventRunCompleted, Payload: []byte(`42`), Time: t2}
	b := appendBatch("r", t2, end)
	b.Status = &history.StatusUpdate{Status: history.StatusCompleted, Result: []byte(`42`)}
	commit(t, s, b)
	requireState(t, s, history.RunInfo{
		ID: "r", Workflow: "wf", Status: history.StatusCompleted, CreatedAt: t0, UpdatedAt: t2, LastSeq: 2,
		Result: []byte(`42`),
	}, append(events, end))

	// A run that ends in its first step: Create and Status in one batch.
	quick := createBatch("quick", "wf", t0)
	fail := history.Event{Seq: 2, Type: history.EventRunFailed, Payload: []byte(`{"message":"no"}`), Time: t0}
	quick.Events = append(quick.Events, fail)
	quick.Status = &history.StatusUpdate{Status: history.StatusFailed, Failure: []byte(`{"message":"no"}`)}
	commit(t, s, quick)
	requireState(t, s, history.RunInfo{
		ID: "quick", Workflow: "wf", Status: history.StatusFailed, CreatedAt: t0, UpdatedAt: t0, LastSeq: 2,
		Failure: []byte(`{"message":"no"}`),
	}, append(createBatch("quick", "wf", t0).Events, fail))
}

func testTasks(t *testing.T, s history.Store) {
	b5 := history.Task{RunID: "b", Step: 5, Name: "five", Input: []byte("5"), Options: []byte(`{}`), Attempt: 1}
	b2 := history.Task{RunID: "b", Step: 2, Name: "two", Input: []byte("2"), Attempt: 1, NotBefore: at(time.Hour)}
	a7 := history.Task{RunID: "a", Step: 7, Name: "seven", Attempt: 2}
	rb := createBatch("b", "wf", t0)
	rb.AddTasks = []history.Task{b5, b2}
	ra := createBatch("a", "wf", t0)
	ra.AddTasks = []history.Task{{Step: 7, Name: "seven", Attempt: 2}} // RunID may be left empty
	commit(t, s, rb, ra)
	requireTasks(t, []history.Task{a7, b2, b5}, mustTasks(t, s))

	// Update one, complete another; completing a task that is gone is fine.
	b5.Attempt, b5.NotBefore = 3, at(10*time.Second)
	commit(t, s, &history.Batch{
		RunID: "b", Time: at(time.Second),
		UpdateTasks: []history.Task{{RunID: "b", Step: 5, Attempt: 3, NotBefore: at(10 * time.Second)}},
		DoneTasks:   []int64{2, 99},
	})
	requireTasks(t, []history.Task{a7, b5}, mustTasks(t, s))

	// Back to attempt at once: the zero NotBefore.
	b5.Attempt, b5.NotBefore = 4, time.Time{}
	commit(t, s, &history.Batch{RunID: "b", Time: at(2 * time.Second), UpdateTasks: []history.Task{{Step: 5, Attempt: 4}}})
	requireTasks(t, []history.Task{a7, b5}, mustTasks(t, s))

	r, err := s.Run(t.Context(), "b")
	require.NoError(t, err)
	requireTime(t, at(2*time.Second), r.UpdatedAt, "UpdatedAt after a tasks-only batch")
}

func testPoisonBatch(t *testing.T, s history.Store) {
	ra, rb, rc := createBatch("a", "wf", t0), createBatch("b", "wf", t0), createBatch("c", "wf", t0)
	rb.Events = append(rb.Events, scheduled(2, "act", t0))
	rb.AddTasks = []history.Task{{Step: 2, Name: "act", Attempt: 1}}
	commit(t, s, ra, rb, rc)
	before := mustTasks(t, s)

	// Each bad batch passes the run-row check and fails later, after part
	// of it may have been written.
	t1 := at(time.Second)
	dupTask := appendBatch("b", t1, scheduled(3, "act", t1))
	dupTask.AddTasks = []history.Task{{Step: 3, Name: "act", Attempt: 1}, {Step: 2, Name: "act", Attempt: 1}}
	missingTask := appendBatch("b", t1, scheduled(3, "act", t1))
	missingTask.UpdateTasks = []history.Task{{Step: 77, Attempt: 2}}
	ea, ec := scheduled(2, "x", t1), scheduled(2, "y", t1)

	errs := commitErrs(t, s, appendBatch("a", t1, ea), dupTask, missingTask, appendBatch("c", t1, ec))
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], history.ErrConflict)
	require.ErrorIs(t, errs[2], history.ErrConflict)
	require.NoError(t, errs[3])

	requireState(t, s, history.RunInfo{
		ID: "a", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t1, LastSeq: 2,
	}, append(createBatch("a", "wf", t0).Events, ea))
	requireState(t, s, history.RunInfo{
		ID: "b", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 2,
	}, rb.Events)
	requireState(t, s, history.RunInfo{
		ID: "c", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t1, LastSeq: 2,
	}, append(createBatch("c", "wf", t0).Events, ec))
	requireTasks(t, before, mustTasks(t, s))
}

func testListRuns(t *testing.T, s history.Store) {
	ctx := t.Context()
	none, err := s.ListRuns(ctx, history.ListFilter{})
	require.NoError(t, err)
	require.Empty(t, none)

	// Ten runs, committed out of order: even ones are "alpha", every third
	// one is completed.
	var batches []*history.Batch
	for _, i := range []int{7, 2, 9, 0, 4, 1, 8, 3, 6, 5} {
		wf := "beta"
		if i%2 == 0 {
			wf = "alpha"
		}
		b := createBatch(fmt.Sprintf("run-%02d", i), wf, at(time.Duration(i)*time.Second))
		if i%3 == 0 {
			b.Status = &history.StatusUpdate{Status: history.StatusCompleted, Result: []byte("ok")}
		}
		batches = append(batches, b)
	}
	commit(t, s, batches...)

	ids := func(f history.ListFilter) []string {
		t.Helper()
		runs, err := s.ListRuns(ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, r := range runs {
			if f.Status != 0 {
				require.Equal(t, f.Status, r.Status)
			}
			if f.Workflow != "" {
				require.Equal(t, f.Workflow, r.Workflow)
			}
			out = append(out, r.ID)
		}
		return out
	}
	all := []string{"run-00", "run-01", "run-02", "run-03", "run-04", "run-05", "run-06", "run-07", "run-08", "run-09"}
	require.Equal(t, all, ids(history.ListFilter{}))
	require.Equal(t, []string{"run-00", "run-03", "run-06", "run-09"}, ids(history.ListFilter{Status: history.StatusCompleted}))
	require.Equal(t, []string{"run-01", "run-02", "run-04", "run-05", "run-07", "run-08"}, ids(history.ListFilter{Status: history.StatusRunning}))
	require.Equal(t, []string{"run-01", "run-03", "run-05", "run-07", "run-09"}, ids(history.ListFilter{Workflow: "beta"}))
	require.Equal(t, []string{"run-00", "run-06"}, ids(history.ListFilter{Workflow: "alpha", Status: history.StatusCompleted}))
	require.Empty(t, ids(history.ListFilter{Workflow: "gamma"}))
	require.Empty(t, ids(history.ListFilter{Status: history.StatusBlocked}))
	require.Equal(t, []string{"run-06", "run-07", "run-08", "run-09"}, ids(history.ListFilter{AfterID: "run-05"}))
	require.Equal(t, []string{"run-00", "run-01", "run-02"}, ids(history.ListFilter{Limit: 3}))

	// Page through everything, and through one workflow.
	for _, f := range []history.ListFilter{{Limit: 3}, {Limit: 2, Workflow: "alpha"}} {
		var got []string
		var pages int
		for {
			page := ids(f)
			require.LessOrEqual(t, len(page), f.Limit)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			f.AfterID = page[len(page)-1]
			pages++
			require.Less(t, pages, 20, "paging does not end")
		}
		want := all
		if f.Workflow == "alpha" {
			want = []string{"run-00", "run-02", "run-04", "run-06", "run-08"}
		}
		require.Equal(t, want, got)
	}

	// Rows come back whole.
	runs, err := s.ListRuns(ctx, history.ListFilter{AfterID: "run-02", Limit: 1})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	tm := at(3 * time.Second)
	requireRun(t, history.RunInfo{
		ID: "run-03", Workflow: "beta", Status: history.StatusCompleted, CreatedAt: tm, UpdatedAt: tm, LastSeq: 1, Result: []byte("ok"),
	}, runs[0])
}

func testEventsAfterSeq(t *testing.T, s history.Store) {
	b := createBatch("r", "wf", t0)
	for seq := int64(2); seq <= 5; seq++ {
		b.Events = append(b.Events, scheduled(seq, fmt.Sprint("a", seq), at(time.Duration(seq))))
	}
	commit(t, s, b)
	for after := int64(0); after <= 7; after++ {
		evs, err := s.Events(t.Context(), "r", after)
		require.NoError(t, err)
		var want []history.Event
		if after < 5 {
			want = b.Events[after:]
		}
		requireEvents(t, want, evs)
	}
}

func testManyBatches(t *testing.T, s history.Store) {
	const n = 500
	creates := make([]*history.Batch, n)
	for i := range creates {
		id := fmt.Sprintf("run-%04d", i)
		b := createBatch(id, "wf", t0)
		b.Events = append(b.Events, scheduled(2, "act", t0))
		b.AddTasks = []history.Task{{Step: 2, Name: "act", Input: []byte(id), Attempt: 1}}
		creates[i] = b
	}
	commit(t, s, creates...)

	t1 := at(time.Second)
	appends := make([]*history.Batch, n)
	for i := range appends {
		b := appendBatch(fmt.Sprintf("run-%04d", i), t1, completed(3, 2, t1))
		b.DoneTasks = []int64{2}
		if i%2 == 0 {
			b.Events = append(b.Events, scheduled(4, "next", t1))
			b.AddTasks = []history.Task{{Step: 4, Name: "next", Attempt: 1}}
		}
		appends[i] = b
	}
	commit(t, s, appends...)

	runs, err := s.ListRuns(t.Context(), history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, n)
	for i, r := range runs {
		require.Equal(t, fmt.Sprintf("run-%04d", i), r.ID)
		require.Equal(t, int64(4-i%2), r.LastSeq, "run %s", r.ID)
		requireTime(t, t1, r.UpdatedAt, "UpdatedAt of "+r.ID)
	}
	tasks := mustTasks(t, s)
	require.Len(t, tasks, n/2)
	for i, k := range tasks {
		require.Equal(t, fmt.Sprintf("run-%04d", 2*i), k.RunID)
		require.Equal(t, int64(4), k.Step)
	}
	evs, err := s.Events(t.Context(), "run-0498", 0)
	require.NoError(t, err)
	requireEvents(t, append(creates[498].Events, appends[498].Events...), evs)
}

func testConcurrentReaders(t *testing.T, s history.Store) {
	const (
		runs    = 4
		steps   = 40 // commits, each of one batch per run
		readers = 4
	)
	for i := range runs {
		commit(t, s, createBatch(fmt.Sprint("run-", i), "wf", t0))
	}

	g, ctx := errgroup.WithContext(t.Context())
	done := make(chan struct{})
	g.Go(func() error {
		defer close(done)
		for step := int64(2); step < 2+steps; step++ {
			tm := at(time.Duration(step) * time.Millisecond)
			batches := make([]*history.Batch, runs)
			for i := range batches {
				b := appendBatch(fmt.Sprint("run-", i), tm, scheduled(step, "act", tm))
				b.AddTasks = []history.Task{{Step: step, Name: "act", Attempt: 1}}
				if step > 2 {
					b.DoneTasks = []int64{step - 1}
				}
				batches[i] = b
			}
			errs, err := s.Commit(ctx, batches)
			if err != nil {
				return fmt.Errorf("commit step %d: %w", step, err)
			}
			if err := errors.Join(errs...); err != nil {
				return fmt.Errorf("commit step %d: %w", step, err)
			}
		}
		return nil
	})
	for range readers {
		g.Go(func() error {
			for first := true; ; first = false {
				select {
				case <-done:
					if !first {
						return nil
					}
				default:
				}
				if err := checkConsistent(ctx, s, runs); err != nil {
					return err
				}
			}
		})
	}
	require.NoError(t, g.Wait())
	require.NoError(t, checkConsistent(t.Context(), s, runs))
	info, err := s.Run(t.Context(), "run-0")
	require.NoError(t, err)
	require.Equal(t, int64(1+steps), info.LastSeq)
}

// checkConsistent reads every run and the tasks and checks that each read
// saw whole batches.
func checkConsistent(ctx context.Context, s history.Store, runs int) error {
	list, err := s.ListRuns(ctx, history.ListFilter{})
	if err != nil {
		return err
	}
	if len(list) != runs {
		return fmt.Errorf("ListRuns returned %d runs, want %d", len(list), runs)
	}
	for _, r := range list {
		evs, err := s.Events(ctx, r.ID, 0)
		if err != nil {
			return err
		}
		// Events ran after ListRuns: it sees at least as much.
		if int64(len(evs)) < r.LastSeq {
			return fmt.Errorf("run %s: %d events, but LastSeq was %d before", r.ID, len(evs), r.LastSeq)
		}
		for i, e := range evs {
			if e.Seq != int64(i+1) {
				return fmt.Errorf("run %s: event %d has Seq %d", r.ID, i, e.Seq)
			}
		}
		if _, err := s.Events(ctx, r.ID, r.LastSeq); err != nil {
			return err
		}
	}
	tasks, err := s.Tasks(ctx)
	if err != nil {
		return err
	}
	// Each batch replaces a run's task with the next one, so a reader sees
	// exactly one task per run once the first step has landed.
	perRun := map[string]int{}
	for _, k := range tasks {
		perRun[k.RunID]++
	}
	for id, n := range perRun {
		if n != 1 {
			return fmt.Errorf("run %s has %d tasks, want 1", id, n)
		}
	}
	return nil
}

func testClose(t *testing.T, s history.Store) {
	commit(t, s, createBatch("r", "wf", t0))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close")

	ctx := t.Context()
	_, err := s.Run(ctx, "r")
	require.ErrorIs(t, err, history.ErrStoreClosed)
	_, err = s.ListRuns(ctx, history.ListFilter{})
	require.ErrorIs(t, err, history.ErrStoreClosed)
	_, err = s.Events(ctx, "r", 0)
	require.ErrorIs(t, err, history.ErrStoreClosed)
	_, err = s.Tasks(ctx)
	require.ErrorIs(t, err, history.ErrStoreClosed)
	errs, err := s.Commit(ctx, []*history.Batch{appendBatch("r", t0, scheduled(2, "a", t0))})
	require.ErrorIs(t, err, history.ErrStoreClosed)
	require.Len(t, errs, 1)
	require.Error(t, errs[0])
}

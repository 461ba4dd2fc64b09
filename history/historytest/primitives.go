package historytest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// The suite's checks of the workflow primitives' rows: task kinds,
// dropped tasks, continue-as-new, child runs and terminated runs.

// event returns an event of type typ at seq with a payload that names it.
func event(seq int64, typ history.EventType, name string, ref int64, tm time.Time) history.Event {
	return history.Event{Seq: seq, Type: typ, Name: name, Ref: ref, Payload: []byte(fmt.Sprintf(`{"seq":%d}`, seq)), Time: tm}
}

func testTaskKinds(t *testing.T, s history.Store) {
	// Run "c" is a child of "p"; its journal holds one command per kind of
	// task, each at its own time, so that ScheduledAt shows the join.
	ts := func(seq int64) time.Time { return at(time.Duration(seq) * time.Second) }
	c := createBatch("c", "sub", t0)
	c.Create.Parent, c.Create.ParentStep = "p", 4
	c.Events = append(c.Events,
		event(2, history.EventActivityScheduled, "charge", 0, ts(2)),
		event(3, history.EventTimerScheduled, "", 0, ts(3)),
		event(4, history.EventChildStarted, "grandchild", 0, ts(4)),
		event(5, history.EventSignalSent, "approve", 0, ts(5)),
		event(6, history.EventChildStarted, "other", 0, ts(6)),
		event(7, history.EventActivityScheduled, "refund", 0, ts(7)),
		event(8, history.EventRunCompleted, "", 0, ts(8)),
	)
	c.Status = &history.StatusUpdate{Status: history.StatusCompleted, Result: []byte(`"ok"`)}
	tasks := []history.Task{
		{Step: 2, Kind: history.TaskActivity, Name: "charge", Input: []byte(`2`), Options: []byte(`{"retries":1}`), Attempt: 1},
		{Step: 3, Kind: history.TaskTimer, Attempt: 1, NotBefore: at(time.Hour)},
		{Step: 4, Kind: history.TaskStartChild, Input: []byte(`{"id":"g"}`), Attempt: 1},
		{Step: 5, Kind: history.TaskSendSignal, Name: "approve", Input: []byte(`{"to":"p"}`), Attempt: 2, NotBefore: at(time.Minute)},
		{Step: 6, Kind: history.TaskCancelChild, Input: []byte(`{"id":"o"}`), Attempt: 1},
		{Step: 7, Name: "refund", Attempt: 1}, // Kind zero: an activity
		{Step: 8, Kind: history.TaskNotifyParent, Input: []byte(`{"result":"ok"}`), Attempt: 1},
	}
	c.AddTasks = tasks
	commit(t, s, createBatch("p", "wf", t0), c)

	want := make([]history.Task, len(tasks))
	for i, k := range tasks {
		k.RunID, k.Workflow, k.ScheduledAt = "c", "sub", ts(k.Step)
		want[i] = k
	}
	got := mustTasks(t, s)
	requireTasks(t, want, got)
	require.Equal(t, history.TaskActivity, got[5].Kind, "a task written with Kind zero reads back as an activity")

	// An update changes Attempt and NotBefore, never the kind or the name.
	t1 := at(time.Hour)
	commit(t, s, &history.Batch{RunID: "c", Time: t1, UpdateTasks: []history.Task{
		{Step: 3, Kind: history.TaskTimer, Attempt: 2, NotBefore: at(2 * time.Hour)},
		{Step: 5, Attempt: 3},
	}})
	want[1].Attempt, want[1].NotBefore = 2, at(2*time.Hour)
	want[3].Attempt, want[3].NotBefore = 3, time.Time{}
	requireTasks(t, want, mustTasks(t, s))

	// A task of a kind the store does not know fails its batch, which
	// writes nothing.
	errs := commitErrs(t, s, &history.Batch{
		RunID: "p", Time: t1, Events: []history.Event{scheduled(2, "act", t1)},
		AddTasks: []history.Task{{Step: 2, Name: "act", Attempt: 1}, {Step: 1, Kind: history.TaskKind(77), Attempt: 1}},
	})
	require.Error(t, errs[0])
	requireState(t, s, history.RunInfo{
		ID: "p", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 1,
	}, createBatch("p", "wf", t0).Events)
	requireTasks(t, want, mustTasks(t, s))
}

func testDropTasks(t *testing.T, s history.Store) {
	a := createBatch("a", "wf", t0)
	a.Events = append(a.Events, scheduled(2, "one", t0), scheduled(3, "two", t0))
	a.AddTasks = []history.Task{{Step: 2, Name: "one", Attempt: 1}, {Step: 3, Name: "two", Attempt: 4}}
	b := createBatch("b", "wf", t0)
	b.Events = append(b.Events, scheduled(2, "one", t0))
	b.AddTasks = []history.Task{{Step: 2, Name: "one", Attempt: 1}}
	c := createBatch("c", "wf", t0)
	commit(t, s, a, b, c)
	bTask := history.Task{RunID: "b", Step: 2, Name: "one", Attempt: 1}

	// Drop a's tasks and add new ones in the same batch: the drop comes
	// first, so the added tasks survive, even one at a dropped step.
	t1 := at(time.Second)
	drop := appendBatch("a", t1, event(4, history.EventTimerScheduled, "", 0, t1))
	drop.DropTasks = true
	drop.AddTasks = []history.Task{
		{Step: 3, Name: "two", Input: []byte("again"), Attempt: 1},
		{Step: 4, Kind: history.TaskTimer, Attempt: 1, NotBefore: at(time.Hour)},
	}
	commit(t, s, drop)
	requireTasks(t, []history.Task{
		{RunID: "a", Step: 3, Name: "two", Input: []byte("again"), Attempt: 1},
		{RunID: "a", Step: 4, Kind: history.TaskTimer, Attempt: 1, NotBefore: at(time.Hour)},
		bTask,
	}, mustTasks(t, s))

	// A drop alone, without events, empties the run's tasks and touches its
	// row; one for a run without tasks is not an error.
	t2 := at(2 * time.Second)
	commit(t, s,
		&history.Batch{RunID: "a", Time: t2, DropTasks: true},
		&history.Batch{RunID: "c", Time: t2, DropTasks: true},
	)
	requireTasks(t, []history.Task{bTask}, mustTasks(t, s))
	requireState(t, s, history.RunInfo{
		ID: "a", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t2, LastSeq: 4,
	}, append(a.Events, drop.Events...))

	// A drop for a run that does not exist fails like any other batch.
	errs := commitErrs(t, s, &history.Batch{RunID: "nope", Time: t2, DropTasks: true})
	require.ErrorIs(t, errs[0], history.ErrRunNotFound)
	requireTasks(t, []history.Task{bTask}, mustTasks(t, s))
}

// continueAsNew returns the batch with which run id, whose journal ends at
// seq n-1, continues as new: RunContinuedAsNew at n, the RunStarted of the
// next generation at n+1 and an activity at n+2, whose task replaces every
// task of the run.
func continueAsNew(id string, n int64, tm time.Time) *history.Batch {
	b := appendBatch(id, tm,
		history.Event{Seq: n, Type: history.EventRunContinuedAsNew, Payload: []byte(`"next"`), Time: tm},
		history.Event{Seq: n + 1, Type: history.EventRunStarted, Name: "wf", Payload: []byte(`"next"`), Time: tm},
		scheduled(n+2, "act", tm),
	)
	b.Status = &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: n + 1}
	b.DropTasks = true
	b.AddTasks = []history.Task{{Step: n + 2, Name: "act", Input: []byte("fresh"), Attempt: 1}}
	return b
}

func testContinueAsNew(t *testing.T, s history.Store) {
	// The first generation: an activity that completed and a timer that is
	// still pending.
	r := createBatch("r", "wf", t0)
	r.Events = append(r.Events, scheduled(2, "act", t0), completed(3, 2, t0), event(4, history.EventTimerScheduled, "", 0, t0))
	r.AddTasks = []history.Task{{Step: 4, Kind: history.TaskTimer, Attempt: 1, NotBefore: at(time.Hour)}}
	commit(t, s, r, createBatch("other", "wf", t0))
	requireState(t, s, history.RunInfo{
		ID: "r", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 4, FirstSeq: 1,
	}, r.Events)

	t1 := at(time.Second)
	can := continueAsNew("r", 5, t1)
	commit(t, s, can)
	journal := append(append([]history.Event(nil), r.Events...), can.Events...)
	want := history.RunInfo{ID: "r", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t1, LastSeq: 7, FirstSeq: 6}
	requireState(t, s, want, journal)
	requireTasks(t, []history.Task{{RunID: "r", Step: 7, Name: "act", Input: []byte("fresh"), Attempt: 1, ScheduledAt: t1}}, mustTasks(t, s))

	// Replay of the new generation reads from its RunStarted on.
	info, err := s.Run(t.Context(), "r")
	require.NoError(t, err)
	evs, err := s.Events(t.Context(), "r", info.FirstSeq-1)
	require.NoError(t, err)
	requireEvents(t, can.Events[1:], evs)
	require.Equal(t, history.EventRunStarted, evs[0].Type)

	// Later batches, with a Status or without, keep the generation.
	t2 := at(2 * time.Second)
	step := appendBatch("r", t2, completed(8, 7, t2))
	step.DoneTasks = []int64{7}
	end := appendBatch("r", t2, event(9, history.EventRunCompleted, "", 0, t2))
	end.Status = &history.StatusUpdate{Status: history.StatusCompleted, Result: []byte(`"done"`)}
	commit(t, s, step, end)
	want.Status, want.UpdatedAt, want.LastSeq, want.Result = history.StatusCompleted, t2, 9, []byte(`"done"`)
	requireState(t, s, want, append(journal, step.Events[0], end.Events[0]))
	require.Empty(t, mustTasks(t, s))

	// The other run kept its generation.
	requireState(t, s, history.RunInfo{
		ID: "other", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 1,
	}, createBatch("other", "wf", t0).Events)

	// A run may continue as new in the batch that creates it.
	quick := createBatch("quick", "wf", t0)
	quick.Events = append(quick.Events, continueAsNew("quick", 2, t0).Events...)
	quick.Status = &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: 3}
	commit(t, s, quick)
	requireState(t, s, history.RunInfo{
		ID: "quick", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 4, FirstSeq: 3,
	}, quick.Events)
}

func testBadFirstSeq(t *testing.T, s history.Store) {
	r := createBatch("r", "wf", t0)
	r.Events = append(r.Events, scheduled(2, "act", t0))
	r.AddTasks = []history.Task{{Step: 2, Name: "act", Attempt: 1}}
	commit(t, s, r, createBatch("other", "wf", t0))
	rState := history.RunInfo{ID: "r", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 2}
	before := mustTasks(t, s)

	// Each batch would continue "r" as new (events 3 to 5, RunStarted at
	// 4) but names the wrong event; each drops and adds tasks, so that a
	// partial write would show.
	t1 := at(time.Second)
	withFirst := func(first int64) *history.Batch {
		b := continueAsNew("r", 3, t1)
		b.Status.FirstSeq = first
		return b
	}
	noEvents := &history.Batch{RunID: "r", Time: t1, DropTasks: true, Status: &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: 1}}
	newRun := createBatch("new", "wf", t1)
	newRun.Events = append(newRun.Events, scheduled(2, "act", t1))
	newRun.Status = &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: 2}
	good := appendBatch("other", t1, scheduled(2, "act", t1))

	errs := commitErrs(t, s,
		withFirst(5),  // an ActivityScheduled
		withFirst(3),  // the RunContinuedAsNew
		withFirst(6),  // past the batch
		withFirst(1),  // a RunStarted, but not of this batch
		withFirst(-4), // no event at all
		noEvents,
		newRun,
		good,
	)
	for i := range 7 {
		require.Error(t, errs[i], "batch %d", i)
	}
	require.NoError(t, errs[7])

	requireState(t, s, rState, r.Events)
	requireTasks(t, before, mustTasks(t, s))
	_, err := s.Run(t.Context(), "new")
	require.ErrorIs(t, err, history.ErrRunNotFound)
	requireState(t, s, history.RunInfo{
		ID: "other", Workflow: "wf", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t1, LastSeq: 2,
	}, append(createBatch("other", "wf", t0).Events, scheduled(2, "act", t1)))

	// The right FirstSeq lands.
	commit(t, s, withFirst(4))
	rState.UpdatedAt, rState.LastSeq, rState.FirstSeq = t1, 5, 4
	requireState(t, s, rState, append(r.Events, withFirst(4).Events...))
}

func testChildRuns(t *testing.T, s history.Store) {
	p := createBatch("p", "parent", t0)
	p.Events = append(p.Events, event(2, history.EventChildStarted, "child", 0, t0))
	c := createBatch("c", "child", t0)
	c.Create.Parent, c.Create.ParentStep = "p", 2
	g := createBatch("g", "grandchild", t0)
	g.Create.Parent, g.Create.ParentStep = "c", 7
	commit(t, s, p, c, g)

	pInfo := history.RunInfo{ID: "p", Workflow: "parent", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 2}
	cInfo := history.RunInfo{ID: "c", Workflow: "child", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 1, Parent: "p", ParentStep: 2}
	gInfo := history.RunInfo{ID: "g", Workflow: "grandchild", Status: history.StatusRunning, CreatedAt: t0, UpdatedAt: t0, LastSeq: 1, Parent: "c", ParentStep: 7}
	requireState(t, s, pInfo, p.Events)
	requireState(t, s, cInfo, c.Events)
	requireState(t, s, gInfo, g.Events)

	runs, err := s.ListRuns(t.Context(), history.ListFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 3)
	requireRun(t, cInfo, runs[0])
	requireRun(t, gInfo, runs[1])
	requireRun(t, pInfo, runs[2])

	// The link outlives the child's later batches.
	t1 := at(time.Second)
	end := appendBatch("c", t1, event(2, history.EventRunFailed, "", 0, t1))
	end.Status = &history.StatusUpdate{Status: history.StatusFailed, Failure: []byte(`{"message":"no"}`)}
	commit(t, s, end)
	cInfo.Status, cInfo.UpdatedAt, cInfo.LastSeq, cInfo.Failure = history.StatusFailed, t1, 2, []byte(`{"message":"no"}`)
	runs, err = s.ListRuns(t.Context(), history.ListFilter{Status: history.StatusFailed})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	requireRun(t, cInfo, runs[0])
}

func testTerminated(t *testing.T, s history.Store) {
	r := createBatch("r", "wf", t0)
	r.Events = append(r.Events, scheduled(2, "act", t0), event(3, history.EventTimerScheduled, "", 0, t0))
	r.AddTasks = []history.Task{{Step: 2, Name: "act", Attempt: 1}, {Step: 3, Kind: history.TaskTimer, Attempt: 1}}
	o := createBatch("o", "wf", t0)
	o.Events = append(o.Events, scheduled(2, "act", t0))
	o.AddTasks = []history.Task{{Step: 2, Name: "act", Attempt: 1}}
	commit(t, s, r, o)

	t1 := at(time.Second)
	reason := []byte(`{"message":"terminated by operator"}`)
	term := appendBatch("r", t1, history.Event{Seq: 4, Type: history.EventRunTerminated, Payload: reason, Time: t1})
	term.Status = &history.StatusUpdate{Status: history.StatusTerminated, Failure: reason}
	term.DropTasks = true
	commit(t, s, term)

	want := history.RunInfo{
		ID: "r", Workflow: "wf", Status: history.StatusTerminated, CreatedAt: t0, UpdatedAt: t1, LastSeq: 4, Failure: reason,
	}
	requireState(t, s, want, append(r.Events, term.Events...))
	require.True(t, want.Status.Ended())
	requireTasks(t, []history.Task{{RunID: "o", Step: 2, Name: "act", Attempt: 1}}, mustTasks(t, s))

	runs, err := s.ListRuns(t.Context(), history.ListFilter{Status: history.StatusTerminated})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	requireRun(t, want, runs[0])
	runs, err = s.ListRuns(t.Context(), history.ListFilter{Status: history.StatusRunning})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, "o", runs[0].ID)
}

package historytest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// testTaskState checks that the state of an activity attempt that must
// survive a crash (pending mark, heartbeat details, cancellation, the last
// failure and the time of the first) is written by AddTasks, replaced as a
// whole by UpdateTasks, and read back as written.
func testTaskState(t *testing.T, s history.Store) {
	b := createBatch("r", "wf", t0)
	b.Events = append(b.Events, scheduled(2, "act", t0), scheduled(3, "other", t0))
	k2 := history.Task{RunID: "r", Step: 2, Name: "act", Attempt: 1}
	k3 := history.Task{RunID: "r", Step: 3, Name: "other", Attempt: 1, Heartbeat: []byte(`{"done":1}`), Canceled: true}
	b.AddTasks = []history.Task{k2, k3}
	commit(t, s, b)
	requireTasks(t, []history.Task{k2, k3}, mustTasks(t, s))

	// A failed attempt: the next one waits, with why and since when.
	k2.Attempt, k2.NotBefore = 2, at(time.Second)
	k2.LastFailure, k2.FirstFailureAt = []byte(`{"message":"boom","attempt":1}`), at(0)
	k2.Heartbeat = []byte(`7`)
	commit(t, s, &history.Batch{RunID: "r", Time: at(0), UpdateTasks: []history.Task{k2}})
	requireTasks(t, []history.Task{k2, k3}, mustTasks(t, s))

	// A second failure keeps the first time and replaces the failure; the
	// attempt then waits to be completed from outside.
	k2.Attempt, k2.NotBefore = 3, time.Time{}
	k2.LastFailure = []byte(`{"message":"boom again","attempt":2}`)
	k2.Pending = at(2 * time.Second)
	commit(t, s, &history.Batch{RunID: "r", Time: at(2 * time.Second), UpdateTasks: []history.Task{k2}})
	requireTasks(t, []history.Task{k2, k3}, mustTasks(t, s))

	// An update replaces every field: what it leaves out is cleared.
	k3.Heartbeat, k3.Canceled = nil, false
	commit(t, s, &history.Batch{RunID: "r", Time: at(3 * time.Second), UpdateTasks: []history.Task{{Step: 3, Attempt: 1}}})
	requireTasks(t, []history.Task{k2, k3}, mustTasks(t, s))

	// A store that reads one run's tasks reads the same.
	rs, ok := s.(history.RunTaskStore)
	if !ok {
		return
	}
	o := createBatch("other", "wf", t0)
	o.Events = append(o.Events, scheduled(2, "x", t0))
	o.AddTasks = []history.Task{{Step: 2, Name: "x", Attempt: 1}}
	commit(t, s, o)
	got, err := rs.RunTasks(t.Context(), "r")
	require.NoError(t, err)
	requireTasks(t, []history.Task{k2, k3}, got)
	got, err = rs.RunTasks(t.Context(), "unknown")
	require.NoError(t, err)
	require.Empty(t, got)
}

package inspect

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/kpi"
)

// A workflow's human tasks are in the document (in milliseconds for
// scripts, as Go durations for tables) with the share of steps done by
// people; a workflow without human tasks has neither, as before.
func TestStatsHumanTasks(t *testing.T) {
	pc := func(ds ...time.Duration) kpi.Percentiles {
		return kpi.Percentiles{N: len(ds), P50: ds[0], P90: ds[len(ds)-1], P95: ds[len(ds)-1], P99: ds[len(ds)-1], Max: ds[len(ds)-1]}
	}
	share := 0.375
	v := StatsOf(kpi.Report{Workflows: []kpi.Workflow{
		{Name: "claim", Runs: 5, Running: 1, Completed: 4, Steps: 19, HumanShare: &share, Human: kpi.HumanTasks{
			Created: 5, Completed: 3, TimedOut: 1, Escalations: 2,
			TimeToClaim:    pc(30*time.Minute, 25*time.Hour),
			TimeToDecide:   pc(3*time.Hour, 26*time.Hour),
			AutomatedSteps: 5,
		}},
		{Name: "order", Runs: 1, Completed: 1, Steps: 1},
	}, Runs: 6, Limit: 10})
	c, o := v.Workflows[0], v.Workflows[1]
	require.Equal(t, &HumanTaskStats{Created: 5, Completed: 3, TimedOut: 1, Open: 1, Escalations: 2,
		TimeToClaim:    Spread{N: 2, P50ms: ptr(int64(1_800_000)), P90ms: ptr(int64(90_000_000)), P99ms: ptr(int64(90_000_000)), MaxMs: ptr(int64(90_000_000)), P50: "30m0s", P90: "25h0m0s"},
		TimeToDecide:   Spread{N: 2, P50ms: ptr(int64(10_800_000)), P90ms: ptr(int64(93_600_000)), P99ms: ptr(int64(93_600_000)), MaxMs: ptr(int64(93_600_000)), P50: "3h0m0s", P90: "26h0m0s"},
		AutomatedSteps: 5,
	}, c.HumanTasks)
	require.Equal(t, &share, c.HumanShare)
	require.Nil(t, o.HumanTasks)

	b, err := json.Marshal(v.Workflows)
	require.NoError(t, err)
	var doc []map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Equal(t, map[string]any{"created": 5.0, "completed": 3.0, "timed_out": 1.0, "open": 1.0, "escalations": 2.0,
		"time_to_claim":   map[string]any{"n": 2.0, "p50_ms": 1.8e6, "p90_ms": 9e7, "p99_ms": 9e7, "max_ms": 9e7},
		"time_to_decide":  map[string]any{"n": 2.0, "p50_ms": 1.08e7, "p90_ms": 9.36e7, "p99_ms": 9.36e7, "max_ms": 9.36e7},
		"automated_steps": 5.0}, doc[0]["human_tasks"])
	require.Equal(t, 0.375, doc[0]["human_share"])
	require.NotContains(t, doc[1], "human_tasks")
	require.Contains(t, doc[1], "human_share", "kept, null, as before")
	require.Nil(t, doc[1]["human_share"])
}

func ptr[T any](v T) *T { return &v }

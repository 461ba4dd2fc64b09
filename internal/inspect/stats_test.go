package inspect

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/kpi"
)

// StatsOf keeps the JSON fields scripts read (runs counting damaged rows,
// by_status summed over workflows, duration percentiles in milliseconds)
// and leaves out the percentiles of a figure without samples.
func TestStatsView(t *testing.T) {
	pc := func(d time.Duration) kpi.Percentiles {
		return kpi.Percentiles{N: 1, P50: d, P90: d, P95: d, P99: d, Max: d}
	}
	v := StatsOf(kpi.Report{
		Workflows: []kpi.Workflow{
			{Name: "a", Runs: 2, Completed: 1, Blocked: 1, Duration: pc(1500 * time.Millisecond),
				Steps: 3, FailedSteps: 1, RetriedSteps: 1, Retries: 2, TimeToDetect: pc(time.Second)},
			{Name: "b", Runs: 1, Running: 1, DamagedJournals: 1},
		},
		Runs: 3, DamagedRows: 2, Limit: 3, Truncated: true,
	})
	require.Equal(t, 5, v.Runs)
	require.Equal(t, 2, v.Damaged)
	require.Equal(t, map[string]int{"completed": 1, "blocked": 1, "running": 1}, v.ByStatus)
	require.True(t, v.Truncated)
	a, b := v.Workflows[0], v.Workflows[1]
	require.Equal(t, 1, a.Ended)
	require.EqualValues(t, 1500, *a.P50ms)
	require.EqualValues(t, 1500, *a.P99ms)
	require.Equal(t, "1.5s", a.P95)
	require.Equal(t, 1, a.TimeToDetect.N)
	require.EqualValues(t, 1000, *a.TimeToDetect.P50ms)
	require.Equal(t, Spread{}, a.TimeToRecover)
	require.Nil(t, a.HumanShare)
	require.Equal(t, 0, b.Ended)
	require.Nil(t, b.P50ms)
	require.Equal(t, "", b.P50)
	require.EqualValues(t, 1, b.DamagedJournals)
}

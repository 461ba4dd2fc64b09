package kpi_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/kpi"
)

// Percentile is the nearest-rank percentile: the smallest value with at
// least p% of the values at or below it.
func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Second)
	}
	require.Equal(t, 50*time.Second, kpi.Percentile(d, 50))
	require.Equal(t, 90*time.Second, kpi.Percentile(d, 90))
	require.Equal(t, 99*time.Second, kpi.Percentile(d, 99))
	require.Equal(t, 100*time.Second, kpi.Percentile(d, 100))
	one := []time.Duration{7 * time.Millisecond}
	require.Equal(t, one[0], kpi.Percentile(one, 50))
	require.Equal(t, one[0], kpi.Percentile(one, 99))
	three := []time.Duration{2 * time.Second, 5 * time.Second, time.Minute}
	require.Equal(t, 5*time.Second, kpi.Percentile(three, 50))
	require.Equal(t, time.Minute, kpi.Percentile(three, 90))
	// Out of range p is clamped, never a panic.
	require.Equal(t, 2*time.Second, kpi.Percentile(three, 0))
	require.Equal(t, time.Minute, kpi.Percentile(three, 101))
}

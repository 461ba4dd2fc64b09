package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// percentile is the nearest-rank percentile: the smallest value with at
// least p% of the values at or below it.
func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Second)
	}
	require.Equal(t, 50*time.Second, percentile(d, 50))
	require.Equal(t, 95*time.Second, percentile(d, 95))
	require.Equal(t, 99*time.Second, percentile(d, 99))
	one := []time.Duration{7 * time.Millisecond}
	require.Equal(t, one[0], percentile(one, 50))
	require.Equal(t, one[0], percentile(one, 99))
	three := []time.Duration{2 * time.Second, 5 * time.Second, time.Minute}
	require.Equal(t, 5*time.Second, percentile(three, 50))
	require.Equal(t, time.Minute, percentile(three, 95))
}

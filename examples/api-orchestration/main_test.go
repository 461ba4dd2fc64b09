package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/examples/api-orchestration/orders"
	"github.com/chorusdev/chorus/integrate"
)

func TestOrderFlow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	sum, err := orders.Run(ctx, filepath.Join(t.TempDir(), "orders.db"), &out)
	require.NoError(t, err, out.String())
	t.Log("\n" + out.String())

	require.Len(t, sum.Outcomes, 4)
	carriers := []string{}
	for _, o := range sum.Outcomes {
		carriers = append(carriers, o.Carrier)
		require.NotEmpty(t, o.Receipt)
	}
	require.Equal(t, []string{"primary-express", "primary-express", "backup-freight", "backup-freight"}, carriers)
	require.Contains(t, sum.Outcomes[2].Notes[0], "failed after its retries (HTTP 503)")
	require.Contains(t, sum.Outcomes[3].Notes[0], "circuit breaker is open")
	require.Equal(t, integrate.BreakerOpen, sum.ShippingState)
	require.Equal(t, 4, sum.Charged, "each order charged once, retries included")
	require.Equal(t, orders.Report{Orders: 4, Cents: 4500 + 21000 + 8900 + 6200}, sum.Reconciled)
	require.Positive(t, sum.PaymentStats.LimiterWaits, "the payment limiter spaced the calls")
	require.GreaterOrEqual(t, len(sum.PaymentArrivals), 5, "a 503 was retried")
	// The limiter (PaymentRate per second, a burst of 1) releases at most
	// 1+PaymentRate*w requests in a window w; arrivals can bunch up by
	// the delays on the way, hence the shorter window. Unlimited, all
	// the requests would arrive within milliseconds.
	require.LessOrEqual(t, orders.Busiest(sum.PaymentArrivals, 900*time.Millisecond), 1+orders.PaymentRate, "the payment API's rate limit was never passed")
	require.Contains(t, out.String(), "payment-api queue (1 at a time, 4/s)")
	require.False(t, sum.NextReconcile.IsZero())
	require.Contains(t, out.String(), "why: primary shipping API's circuit breaker is open")
}

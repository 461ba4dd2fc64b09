package orders

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/schedule"
)

// Summary is what [Run] observed.
type Summary struct {
	Outcomes      []Outcome
	Reconciled    Report
	Charged       int // distinct charges the payment API recorded
	ShippingState integrate.BreakerState
	PaymentStats  integrate.Stats
	// PaymentArrivals are the times the payment API received requests.
	PaymentArrivals []time.Time
	NextReconcile   time.Time
}

// ReconcileSchedule is the ID of the nightly reconciliation schedule.
const ReconcileSchedule = "nightly-reconcile"

// Run places four orders against the in-process APIs, printing what
// happens and why, then has the nightly reconciliation run once (triggered
// now rather than waiting for 02:00) and prints its report. The journal is
// the SQLite file at dbPath.
func Run(ctx context.Context, dbPath string, w io.Writer) (Summary, error) {
	var sum Summary
	svc := StartServices()
	defer svc.Close()
	flow, err := New(svc, func() Report {
		n, cents := svc.Charged()
		return Report{Orders: n, Cents: cents}
	})
	if err != nil {
		return sum, err
	}
	eng, err := chorus.Open(ctx, dbPath, &chorus.Options{Queues: []chorus.Queue{PaymentQueue}})
	if err != nil {
		return sum, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Close(cctx)
	}()
	if err := flow.Register(eng); err != nil {
		return sum, err
	}
	if err := schedule.Enable(eng); err != nil {
		return sum, err
	}
	if err := schedule.Register(eng, flow.Reconcile); err != nil {
		return sum, err
	}
	nightly := schedule.Spec{Cron: "0 2 * * *", TimeZone: "Europe/Paris", Jitter: 10 * time.Minute}
	err = schedule.Create(ctx, eng, ReconcileSchedule, nightly, flow.Reconcile, "main-ledger")
	if errors.Is(err, schedule.ErrExists) {
		err = schedule.Update(ctx, eng, ReconcileSchedule, nightly)
	}
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(w, "schedule %q: reconcile at 02:00 Europe/Paris every night (jitter up to 10m)\n", ReconcileSchedule)

	orders := []Order{{"1001", "lamp", 4500}, {"1002", "desk", 21000}, {"1003", "chair", 8900}, {"1004", "shelf", 6200}}
	for _, o := range orders {
		run, err := chorus.Start(ctx, eng, flow.PlaceOrder, o, &chorus.StartOptions{ID: "order-" + o.ID, IfExists: chorus.AttachIfExists})
		if err != nil {
			return sum, err
		}
		out, err := run.Result(ctx)
		if err != nil {
			return sum, fmt.Errorf("order %s: %w", o.ID, err)
		}
		sum.Outcomes = append(sum.Outcomes, out)
		fmt.Fprintf(w, "order %s: paid (%s), shipped by %s as %s\n", o.ID, out.Receipt, out.Carrier, out.Tracking)
		for _, n := range out.Notes {
			fmt.Fprintf(w, "    why: %s\n", n)
		}
	}
	sum.ShippingState = flow.ShippingBreaker.State()
	sum.PaymentArrivals = svc.PaymentArrivals()
	if n := len(sum.PaymentArrivals); n > 1 {
		span := slices.MaxFunc(sum.PaymentArrivals, time.Time.Compare).Sub(slices.MinFunc(sum.PaymentArrivals, time.Time.Compare))
		fmt.Fprintf(w, "payment-api queue (%d at a time, %d/s): the payment API got %d request(s) over %v (its limit allows no faster than %v)\n",
			PaymentQueue.Concurrency, PaymentRate, n, span.Round(time.Millisecond), time.Duration(n-1)*time.Second/PaymentRate)
	}
	for _, s := range integrate.Snapshot() {
		switch s.Name {
		case "shipping-api":
			fmt.Fprintf(w, "shipping-api breaker: %s (opened %d time(s), refused %d call(s))\n", s.BreakerState, s.Opened, s.Rejected)
		case "payment-api":
			sum.PaymentStats = s
			fmt.Fprintf(w, "payment-api limiter (%d/s): %d call(s) waited for their turn, %v in all\n", PaymentRate, s.LimiterWaits, s.WaitTime.Round(time.Millisecond))
		case "inventory.check-stock", "payment.charge":
			fmt.Fprintf(w, "%s: %d request(s), %d failed and were retried (%d retries)\n", s.Name, s.Calls, s.Failures, s.Retries)
		}
	}

	// The nightly run, now.
	if err := schedule.Trigger(ctx, eng, ReconcileSchedule); err != nil {
		return sum, err
	}
	var d schedule.Description
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for d.LastRunID == "" {
		if d, err = schedule.Describe(ctx, eng, ReconcileSchedule); err != nil {
			return sum, err
		}
		select {
		case <-ctx.Done():
			return sum, ctx.Err()
		case <-tick.C:
		}
	}
	rec, err := chorus.Lookup(ctx, eng, flow.Reconcile, d.LastRunID)
	if err != nil {
		return sum, err
	}
	if sum.Reconciled, err = rec.Result(ctx); err != nil {
		return sum, err
	}
	sum.Charged, _ = svc.Charged()
	if len(d.Next) > 0 {
		sum.NextReconcile = d.Next[0]
	}
	fmt.Fprintf(w, "reconcile (run %s): %d orders, %d charges, %.2f in all; next nightly run %s\n",
		d.LastRunID, len(sum.Outcomes), sum.Reconciled.Orders, float64(sum.Reconciled.Cents)/100, sum.NextReconcile.Format(time.RFC3339))
	return sum, nil
}

// Busiest returns the most times that fall in any window of length w.
func Busiest(times []time.Time, w time.Duration) int {
	ts := slices.SortedFunc(slices.Values(times), func(a, b time.Time) int { return a.Compare(b) })
	most := 0
	for i := range ts {
		j := i
		for j < len(ts) && ts[j].Sub(ts[i]) < w {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

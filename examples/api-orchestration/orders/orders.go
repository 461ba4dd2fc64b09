// Package orders is the order flow of the api-orchestration example: a
// workflow that checks stock and charges the card in parallel, then ships
// through a partner whose circuit breaker routes to a backup provider, and
// a nightly reconciliation started by a schedule.
package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/workflow"
)

// Order is the workflow's input.
type Order struct {
	ID    string `json:"id"`
	SKU   string `json:"sku"`
	Cents int    `json:"cents"`
}

// StockRequest and the other types are the APIs' messages.
type (
	StockRequest struct {
		SKU string `json:"sku"`
	}
	Stock struct {
		SKU       string `json:"sku"`
		Available int    `json:"available"`
	}
	ChargeRequest struct {
		Order string `json:"order"`
		Cents int    `json:"cents"`
	}
	Receipt struct {
		ID    string `json:"id"`
		Cents int    `json:"cents"`
	}
	ShipRequest struct {
		Order string `json:"order"`
		SKU   string `json:"sku"`
	}
	Shipment struct {
		Carrier  string `json:"carrier"`
		Tracking string `json:"tracking"`
	}
)

// Outcome is what the workflow returns: what happened, and why.
type Outcome struct {
	Order    string   `json:"order"`
	Receipt  string   `json:"receipt"`
	Carrier  string   `json:"carrier"`
	Tracking string   `json:"tracking"`
	Notes    []string `json:"notes"`
}

// Report is what the nightly reconciliation returns.
type Report struct {
	Orders int `json:"orders"`
	Cents  int `json:"cents"`
}

// Flow holds the calls, bound to the services' addresses, and the
// workflows that use them.
type Flow struct {
	checkStock *activity.Definition[StockRequest, Stock]
	charge     *activity.Definition[ChargeRequest, Receipt]
	ship       *activity.Definition[ShipRequest, Shipment]
	shipBackup *activity.Definition[ShipRequest, Shipment]
	ledger     *activity.Definition[struct{}, Report]

	// PaymentLimiter caps the payment API at its published rate.
	PaymentLimiter *integrate.Limiter
	// ShippingBreaker guards the primary shipping API.
	ShippingBreaker *integrate.Breaker

	// PlaceOrder is the order workflow; Reconcile the nightly one.
	PlaceOrder *workflow.Definition[Order, Outcome]
	Reconcile  *workflow.Definition[string, Report]
}

// PaymentRate is the payment API's rate limit, in calls per second.
const PaymentRate = 4

// PaymentQueue is the queue the charges go through: declare it in
// chorus.Options.Queues.
var PaymentQueue = chorus.Queue{Name: "payment-api", Concurrency: 1, RateLimit: &chorus.RateLimit{Limit: PaymentRate, Period: time.Second}}

// New declares the flow against svc. ledger reports what was charged (the
// reconciliation compares it with the orders).
func New(svc *Services, ledger func() Report) (*Flow, error) {
	f := &Flow{}
	var err error
	if f.PaymentLimiter, err = integrate.NewLimiter("payment-api", integrate.LimiterOptions{Rate: PaymentRate, Burst: 1}); err != nil {
		return nil, err
	}
	if f.ShippingBreaker, err = integrate.NewBreaker("shipping-api", &integrate.BreakerOptions{FailureThreshold: 2, OpenTimeout: time.Minute}); err != nil {
		return nil, err
	}
	fast := &integrate.RetryOptions{MaxAttempts: 3, InitialInterval: 20 * time.Millisecond}
	stock, err := integrate.NewHTTP("inventory.check-stock", svc.Inventory.URL+"/stock", &integrate.HTTPOptions[StockRequest, Stock]{
		Timeout: 200 * time.Millisecond, Retry: fast,
	})
	if err != nil {
		return nil, err
	}
	// The charges wait their turn in the payment-api queue (PaymentQueue:
	// one at a time, PaymentRate per second, counted by the engine for
	// every run), and inside a charge the limiter spaces the HTTP
	// requests, retries included.
	charge, err := integrate.NewHTTP("payment.charge", svc.Payment.URL+"/charges", &integrate.HTTPOptions[ChargeRequest, Receipt]{
		Limiter: f.PaymentLimiter, Retry: fast,
		Activity: &activity.Options{Queue: PaymentQueue.Name, RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 1}},
	})
	if err != nil {
		return nil, err
	}
	ship, err := integrate.NewHTTP("shipping.ship", svc.Shipping.URL+"/shipments", &integrate.HTTPOptions[ShipRequest, Shipment]{
		Breaker: f.ShippingBreaker, Retry: &integrate.RetryOptions{MaxAttempts: 2, InitialInterval: 20 * time.Millisecond},
	})
	if err != nil {
		return nil, err
	}
	backup, err := integrate.NewHTTP("backup-shipping.ship", svc.BackupShipping.URL+"/shipments", &integrate.HTTPOptions[ShipRequest, Shipment]{Retry: fast})
	if err != nil {
		return nil, err
	}
	f.checkStock, f.charge, f.ship, f.shipBackup = stock.Activity(), charge.Activity(), ship.Activity(), backup.Activity()
	f.ledger = activity.New("ledger.totals", func(context.Context, struct{}) (Report, error) { return ledger(), nil })
	f.PlaceOrder = workflow.New("place-order", f.placeOrder)
	f.Reconcile = workflow.New("reconcile", f.reconcile)
	return f, nil
}

// Register registers the workflows and activities with eng.
func (f *Flow) Register(eng *chorus.Engine) error {
	return eng.Register(f.PlaceOrder, f.Reconcile, f.checkStock, f.charge, f.ship, f.shipBackup, f.ledger)
}

func (f *Flow) placeOrder(ctx workflow.Context, o Order) (Outcome, error) {
	out := Outcome{Order: o.ID}
	note := func(format string, args ...any) { out.Notes = append(out.Notes, fmt.Sprintf(format, args...)) }

	// Stock and payment do not depend on each other: both go out at once.
	stockF := workflow.ExecuteActivity(ctx, f.checkStock, StockRequest{SKU: o.SKU})
	payF := workflow.ExecuteActivity(ctx, f.charge, ChargeRequest{Order: o.ID, Cents: o.Cents})
	stock, err := stockF.Get(ctx)
	if err != nil {
		return out, fmt.Errorf("check stock: %w", err)
	}
	if stock.Available < 1 {
		return out, fmt.Errorf("%s is out of stock", o.SKU)
	}
	receipt, err := payF.Get(ctx)
	if err != nil {
		if se, ok := integrate.StatusOf(err); ok && se.StatusCode < 500 {
			note("payment refused with HTTP %d: not shipping", se.StatusCode)
		}
		return out, fmt.Errorf("charge: %w", err)
	}
	out.Receipt = receipt.ID

	req := ShipRequest{Order: o.ID, SKU: o.SKU}
	shipment, err := workflow.ExecuteActivity(ctx, f.ship, req).Get(ctx)
	switch {
	case err == nil:
		note("shipped by the primary carrier")
	case integrate.IsCircuitOpen(err):
		note("primary shipping API's circuit breaker is open: not calling it, using the backup provider")
	default:
		if se, ok := integrate.StatusOf(err); ok && se.StatusCode < 500 {
			return out, fmt.Errorf("ship: %w", err)
		}
		note("primary shipping API failed after its retries (%v): using the backup provider", shortErr(err))
	}
	if err != nil {
		if shipment, err = workflow.ExecuteActivity(ctx, f.shipBackup, req).Get(ctx); err != nil {
			return out, fmt.Errorf("backup shipping: %w", err)
		}
	}
	out.Carrier, out.Tracking = shipment.Carrier, shipment.Tracking
	return out, nil
}

func shortErr(err error) string {
	if se, ok := integrate.StatusOf(err); ok {
		return fmt.Sprintf("HTTP %d", se.StatusCode)
	}
	return err.Error()
}

func (f *Flow) reconcile(ctx workflow.Context, ledgerName string) (Report, error) {
	return workflow.ExecuteActivity(ctx, f.ledger, struct{}{}).Get(ctx)
}

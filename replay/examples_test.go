package replay_test

// The workflows of the programs under examples/, imported from the package
// beside each main, so that the golden histories in testdata/ are recorded
// by, and replayed against, the very code the examples run. The names below
// are what the tests of this package call them.

import (
	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/approval/claim"
	"github.com/chorusdev/chorus/examples/fanout/batch"
	"github.com/chorusdev/chorus/examples/quickstart/order"
	"github.com/chorusdev/chorus/examples/subscription/billing"
	"github.com/chorusdev/chorus/examples/tracing/checkout"
	"github.com/chorusdev/chorus/examples/trip-booking/trip"
)

// examples/quickstart.
type (
	Order        = order.Order
	Receipt      = order.Receipt
	Shipment     = order.Shipment
	Confirmation = order.Confirmation
)

var (
	PlaceOrder = order.PlaceOrder
	Reserve    = order.Reserve
	Charge     = order.Charge
	Ship       = order.Ship
)

// examples/approval.
type (
	Claim    = claim.Claim
	Decision = claim.Decision
	Payout   = claim.Payout
	Outcome  = claim.Outcome
)

var (
	HandleClaim = claim.HandleClaim
	Assess      = claim.Assess
	Escalate    = claim.Escalate
	Pay         = claim.Pay
	Reject      = claim.Reject
	Approve     = claim.Approve
)

// examples/fanout.
type Batch = batch.Batch

var (
	RunBatch = batch.RunBatch
	Process  = batch.Process
	Publish  = batch.Publish
)

// goldenHost stands for the machine's name in the fanout workflow's
// SideEffect, so that the recorded histories are the same on every
// machine.
const goldenHost = "golden-host"

func init() {
	batch.Hostname = func() (string, error) { return goldenHost, nil }
}

// examples/subscription.
type Subscription = billing.Subscription

var (
	Subscribe    = billing.Subscribe
	SendInvoice  = billing.SendInvoice
	ChargeMonth  = billing.Charge
	EmailInvoice = billing.EmailInvoice
	CloseAccount = billing.CloseAccount
)

// examples/trip-booking.
type Trip = trip.Trip

var (
	BookTrip     = trip.BookTrip
	BookFlight   = trip.BookFlight
	BookHotel    = trip.BookHotel
	RentCar      = trip.RentCar
	CancelHotel  = trip.CancelHotel
	CancelFlight = trip.CancelFlight
)

// examples/tracing.
var (
	Checkout        = checkout.Checkout
	CheckoutReserve = checkout.Reserve
	CheckoutCharge  = checkout.Charge
	CheckoutShip    = checkout.Ship
)

// exampleDefs returns every example workflow and activity.
func exampleDefs() []chorus.Definition {
	return []chorus.Definition{
		PlaceOrder, Reserve, Charge, Ship,
		HandleClaim, Assess, Escalate, Pay, Reject,
		RunBatch, Process, Publish,
		Subscribe, SendInvoice, ChargeMonth, EmailInvoice, CloseAccount,
		BookTrip, BookFlight, BookHotel, RentCar, CancelHotel, CancelFlight,
		Checkout, CheckoutReserve, CheckoutCharge, CheckoutShip,
	}
}

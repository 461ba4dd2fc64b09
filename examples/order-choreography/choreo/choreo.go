// Package choreo is the order choreography of the example: an order
// service and inventory, billing and shipping services, each with its own
// engine and database, reacting to each other's events through NATS
// JetStream. No service calls another: OrderPlaced makes billing charge the
// card, PaymentCaptured makes inventory reserve stock, StockReserved makes
// shipping print a label, and OrderShipped completes the order's run. When
// the item is out of stock, inventory publishes StockUnavailable, billing
// compensates the charge with a refund, and PaymentRefunded ends the order's
// run as cancelled.
package choreo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/events"
	natsevents "github.com/chorusdev/chorus/events/nats"
	"github.com/chorusdev/chorus/workflow"
)

// Order is what a customer ordered.
type Order struct {
	ID    string `json:"id"`
	Item  string `json:"item"`
	Cents int    `json:"cents"`
}

// StockReserved says inventory put the item aside.
type StockReserved struct {
	Order       Order  `json:"order"`
	Reservation string `json:"reservation"`
}

// PaymentCaptured says billing charged the card.
type PaymentCaptured struct {
	Order   Order  `json:"order"`
	Receipt string `json:"receipt"`
}

// StockUnavailable says inventory had none of the item left.
type StockUnavailable struct {
	Order   Order  `json:"order"`
	Receipt string `json:"receipt"`
}

// PaymentRefunded says billing gave the money back.
type PaymentRefunded struct {
	Order  string `json:"order"`
	Refund string `json:"refund"`
}

// OrderShipped says shipping handed the parcel over.
type OrderShipped struct {
	Order    string `json:"order"`
	Tracking string `json:"tracking"`
}

// The events, one topic each.
var (
	OrderPlaced = events.Define[Order]("orders.placed", "com.example.order.placed",
		&events.DefineOptions{Source: "/orders", Summary: "A customer placed an order."})
	Reserved = events.Define[StockReserved]("inventory.reserved", "com.example.stock.reserved",
		&events.DefineOptions{Source: "/inventory", Summary: "Stock was put aside for an order."})
	Captured = events.Define[PaymentCaptured]("billing.captured", "com.example.payment.captured",
		&events.DefineOptions{Source: "/billing", Summary: "The order's payment was captured."})
	Unavailable = events.Define[StockUnavailable]("inventory.unavailable", "com.example.stock.unavailable",
		&events.DefineOptions{Source: "/inventory", Summary: "The order's item is out of stock."})
	Refunded = events.Define[PaymentRefunded]("billing.refunded", "com.example.payment.refunded",
		&events.DefineOptions{Source: "/billing", Summary: "The order's payment was refunded."})
	Shipped = events.Define[OrderShipped]("shipping.shipped", "com.example.order.shipped",
		&events.DefineOptions{Source: "/shipping", Summary: "The order left the warehouse."})
)

// Defs lists every event of the choreography.
var Defs = []events.Def{OrderPlaced, Captured, Reserved, Unavailable, Refunded, Shipped}

// story is where the services tell what they do.
type story struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *story) say(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format+"\n", args...)
}

// ShippedSignal delivers OrderShipped to the order's run.
var ShippedSignal = workflow.NewSignal[events.Received[OrderShipped]]("order-shipped")

// RefundedSignal delivers PaymentRefunded to the order's run.
var RefundedSignal = workflow.NewSignal[events.Received[PaymentRefunded]]("order-refunded")

// OutOfStock is the item inventory has none of.
const OutOfStock = "gold-plated kettle"

// Services is the choreography, running.
type Services struct {
	story *story
	svcs  []*service
	wg    sync.WaitGroup
	stop  context.CancelFunc
	order *chorus.Engine
	place *workflow.Definition[Order, string]
}

type service struct {
	name string
	eng  *chorus.Engine
	st   *events.Store
}

// ServiceNames are the services of the choreography. Each keeps its
// database in its own file, NAME.db.
var ServiceNames = []string{"orders", "billing", "inventory", "shipping"}

// Options configures [StartWith].
type Options struct {
	// Services names the services this process runs (see
	// [ServiceNames]); nil runs all four. Several processes sharing the
	// broker and the directory each run some of them, never one service in
	// two processes at once.
	Services []string
	// AckWait is how long the broker waits for a service to acknowledge a
	// message before it delivers the message again, to the service's next
	// process if this one died. Defaults to the NATS adapter's default.
	AckWait time.Duration
}

// EnsureStream creates (or updates) the JetStream stream that holds every
// topic of the choreography.
func EnsureStream(ctx context.Context, js jetstream.JetStream) error {
	_, err := natsevents.EnsureStream(ctx, js, nil, "orders.>", "inventory.>", "billing.>", "shipping.>")
	return err
}

// Start starts the four services, with their databases in dir, on the
// JetStream js, telling the story to w. Stop them with Close.
func Start(ctx context.Context, dir string, js jetstream.JetStream, w io.Writer) (*Services, error) {
	return StartWith(ctx, dir, js, w, nil)
}

// StartWith starts the services opts names, as Start starts all four.
func StartWith(ctx context.Context, dir string, js jetstream.JetStream, w io.Writer, opts *Options) (*Services, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	run := map[string]bool{}
	for _, name := range o.Services {
		if !slices.Contains(ServiceNames, name) {
			return nil, fmt.Errorf("choreo: unknown service %q (the services are %v)", name, ServiceNames)
		}
		run[name] = true
	}
	if len(o.Services) == 0 {
		for _, name := range ServiceNames {
			run[name] = true
		}
	}
	if err := EnsureStream(ctx, js); err != nil {
		return nil, err
	}
	s := &Services{story: &story{w: w}}
	rctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	sub, err := natsevents.NewSubscriber(js, &natsevents.SubscriberOptions{AckWait: o.AckWait})
	if err != nil {
		cancel()
		return nil, err
	}
	pub := natsevents.NewPublisher(js)
	say := s.story.say

	// The activities: each service's work on the outside world.
	// reserve returns "" when the item is out of stock.
	reserve := activity.New("reserve-stock", func(_ context.Context, o Order) (string, error) {
		if o.Item == OutOfStock {
			say("inventory: no %s left for %s", o.Item, o.ID)
			return "", nil
		}
		say("inventory: reserved 1 x %s for %s", o.Item, o.ID)
		return "rsv-" + o.ID, nil
	})
	refund := activity.New("refund-card", func(_ context.Context, o Order) (string, error) {
		say("billing:   refunded %d.%02d for %s", o.Cents/100, o.Cents%100, o.ID)
		return "rfnd-" + o.ID, nil
	})
	charge := activity.New("charge-card", func(_ context.Context, o Order) (string, error) {
		say("billing:   charged %d.%02d for %s", o.Cents/100, o.Cents%100, o.ID)
		return "rcpt-" + o.ID, nil
	})
	label := activity.New("print-label", func(_ context.Context, o Order) (string, error) {
		say("shipping:  label printed for %s", o.ID)
		return "trk-" + o.ID, nil
	})

	// The workflows, one per service.
	s.place = workflow.New("place-order", func(ctx workflow.Context, o Order) (string, error) {
		if err := events.Publish(ctx, OrderPlaced, o.ID, o); err != nil {
			return "", err
		}
		var outcome string
		shipped := workflow.GetSignalChannel(ctx, ShippedSignal)
		refunded := workflow.GetSignalChannel(ctx, RefundedSignal)
		workflow.NewSelector(ctx).
			AddReceive(shipped, func() {
				ev, _ := shipped.Receive(ctx)
				outcome = "shipped, tracking " + ev.Data.Tracking
			}).
			AddReceive(refunded, func() {
				ev, _ := refunded.Receive(ctx)
				outcome = "cancelled, payment refunded (" + ev.Data.Refund + ")"
			}).
			Select(ctx)
		return outcome, nil
	})
	billing := workflow.New("bill-order", func(ctx workflow.Context, o Order) (string, error) {
		rcpt, err := workflow.ExecuteActivity(ctx, charge, o).Get(ctx)
		if err != nil {
			return "", err
		}
		return rcpt, events.Publish(ctx, Captured, o.ID, PaymentCaptured{Order: o, Receipt: rcpt})
	})
	compensate := workflow.New("refund-order", func(ctx workflow.Context, u StockUnavailable) (string, error) {
		rfnd, err := workflow.ExecuteActivity(ctx, refund, u.Order).Get(ctx)
		if err != nil {
			return "", err
		}
		return rfnd, events.Publish(ctx, Refunded, u.Order.ID, PaymentRefunded{Order: u.Order.ID, Refund: rfnd})
	})
	inventory := workflow.New("reserve-for-order", func(ctx workflow.Context, p PaymentCaptured) (string, error) {
		rsv, err := workflow.ExecuteActivity(ctx, reserve, p.Order).Get(ctx)
		if err != nil {
			return "", err
		}
		if rsv == "" {
			return "", events.Publish(ctx, Unavailable, p.Order.ID, StockUnavailable(p))
		}
		return rsv, events.Publish(ctx, Reserved, p.Order.ID, StockReserved{Order: p.Order, Reservation: rsv})
	})
	shipping := workflow.New("ship-order", func(ctx workflow.Context, r StockReserved) (string, error) {
		trk, err := workflow.ExecuteActivity(ctx, label, r.Order).Get(ctx)
		if err != nil {
			return "", err
		}
		return trk, events.Publish(ctx, Shipped, r.Order.ID, OrderShipped{Order: r.Order.ID, Tracking: trk})
	})

	type subscription struct {
		topic string
		proc  func(eng *chorus.Engine) events.Process
	}
	specs := []struct {
		name string
		defs []chorus.Definition
		subs []subscription
	}{
		{"orders", []chorus.Definition{s.place}, []subscription{
			{Shipped.Topic(), func(eng *chorus.Engine) events.Process {
				return events.SignalOn(eng, Shipped, ShippedSignal, func(r events.Received[OrderShipped]) string { return "order-" + r.Data.Order })
			}},
			{Refunded.Topic(), func(eng *chorus.Engine) events.Process {
				return events.SignalOn(eng, Refunded, RefundedSignal, func(r events.Received[PaymentRefunded]) string { return "order-" + r.Data.Order })
			}},
		}},
		{"billing", []chorus.Definition{billing, compensate, charge, refund}, []subscription{
			{OrderPlaced.Topic(), func(eng *chorus.Engine) events.Process {
				return events.StartOn(eng, OrderPlaced, billing, func(r events.Received[Order]) (Order, *chorus.StartOptions) { return r.Data, nil })
			}},
			{Unavailable.Topic(), func(eng *chorus.Engine) events.Process {
				return events.StartOn(eng, Unavailable, compensate, func(r events.Received[StockUnavailable]) (StockUnavailable, *chorus.StartOptions) {
					return r.Data, nil
				})
			}},
		}},
		{"inventory", []chorus.Definition{inventory, reserve}, []subscription{{Captured.Topic(), func(eng *chorus.Engine) events.Process {
			return events.StartOn(eng, Captured, inventory, func(r events.Received[PaymentCaptured]) (PaymentCaptured, *chorus.StartOptions) {
				return r.Data, nil
			})
		}}}},
		{"shipping", []chorus.Definition{shipping, label}, []subscription{{Reserved.Topic(), func(eng *chorus.Engine) events.Process {
			return events.StartOn(eng, Reserved, shipping, func(r events.Received[StockReserved]) (StockReserved, *chorus.StartOptions) { return r.Data, nil })
		}}}},
	}
	for _, spec := range specs {
		if !run[spec.name] {
			continue
		}
		path := filepath.Join(dir, spec.name+".db")
		wake := events.NewWakeup(nil)
		eng, err := chorus.Open(ctx, path, &chorus.Options{Observer: wake})
		if err != nil {
			return nil, errors.Join(err, s.Close(ctx))
		}
		svc := &service{name: spec.name, eng: eng}
		s.svcs = append(s.svcs, svc)
		if err := eng.Register(spec.defs...); err != nil {
			return nil, errors.Join(err, s.Close(ctx))
		}
		if svc.st, err = events.Open(ctx, path, nil); err != nil {
			return nil, errors.Join(err, s.Close(ctx))
		}
		relay, err := events.NewRelay(svc.st, pub, &events.RelayOptions{Wakeup: wake})
		if err != nil {
			return nil, errors.Join(err, s.Close(ctx))
		}
		inbox, err := events.NewInbox(svc.st, nil)
		if err != nil {
			return nil, errors.Join(err, s.Close(ctx))
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = relay.Run(rctx) }()
		for _, sb := range spec.subs {
			h := inbox.Handler(sb.proc(eng))
			s.wg.Add(1)
			go func() { defer s.wg.Done(); _ = sub.Subscribe(rctx, sb.topic, spec.name, h) }()
		}
		if spec.name == "orders" {
			s.order = eng
		}
	}
	return s, nil
}

// PlaceOrder places o and waits until it has shipped or was cancelled,
// returning how it ended. Placing an order placed before (by a process of
// the orders service that died) waits for that order instead. It needs the
// orders service in this process.
func (s *Services) PlaceOrder(ctx context.Context, o Order) (string, error) {
	if s.order == nil {
		return "", errors.New("choreo: PlaceOrder needs the orders service, which this process does not run")
	}
	s.story.say("orders:    %s placed (%s, %d.%02d)", o.ID, o.Item, o.Cents/100, o.Cents%100)
	r, err := chorus.Start(ctx, s.order, s.place, o, &chorus.StartOptions{ID: "order-" + o.ID, IfExists: chorus.AttachIfExists})
	if err != nil {
		return "", err
	}
	outcome, err := r.Result(ctx)
	if err != nil {
		return "", err
	}
	s.story.say("orders:    %s %s", o.ID, outcome)
	return outcome, nil
}

// Close stops the relays and subscriptions and closes the engines.
func (s *Services) Close(ctx context.Context) error {
	s.stop()
	s.wg.Wait()
	var errs []error
	for _, svc := range s.svcs {
		if svc.st != nil {
			errs = append(errs, svc.st.Close())
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		errs = append(errs, svc.eng.Close(cctx))
		cancel()
	}
	return errors.Join(errs...)
}

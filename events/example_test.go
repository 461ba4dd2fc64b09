package events_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/events/eventstest"
	"github.com/chorusdev/chorus/workflow"
)

type Shipped struct {
	Order   string `json:"order"`
	Carrier string `json:"carrier"`
}

var shipped = events.Define[Shipped]("shipping.shipped", "com.example.shipped",
	&events.DefineOptions{Source: "/shipping", Summary: "An order left the warehouse."})

var ship = workflow.New("ship", func(ctx workflow.Context, order string) (string, error) {
	// Journaled with this step: published if and only if the step commits.
	return "label-" + order, events.Publish(ctx, shipped, order, Shipped{Order: order, Carrier: "post"})
})

var notify = workflow.New("notify-customer", func(ctx workflow.Context, s Shipped) (string, error) {
	return fmt.Sprintf("order %s is on its way with %s", s.Order, s.Carrier), nil
})

// One service publishes through its outbox and relay; another starts a run
// per event through its inbox, once, however often the event arrives.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "chorus-events")
	defer os.RemoveAll(dir)
	broker := eventstest.New() // events/nats, events/kafka or events/rabbitmq in production

	// The shipping service.
	shipDB := filepath.Join(dir, "shipping.db")
	shipEng, err := chorus.Open(ctx, shipDB, &chorus.Options{Definitions: []chorus.Definition{ship}})
	if err != nil {
		log.Fatal(err)
	}
	defer shipEng.Close(ctx)
	outbox, err := events.Open(ctx, shipDB, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer outbox.Close()
	run, _ := chorus.Start(ctx, shipEng, ship, "42", &chorus.StartOptions{ID: "ship-42"})
	label, _ := run.Result(ctx)
	relay, _ := events.NewRelay(outbox, broker, nil)
	n, _ := relay.Flush(ctx) // in production: go relay.Run(ctx)
	fmt.Println(label, "- events sent:", n)

	// The notification service.
	notifyDB := filepath.Join(dir, "notify.db")
	notifyEng, err := chorus.Open(ctx, notifyDB, &chorus.Options{Definitions: []chorus.Definition{notify}})
	if err != nil {
		log.Fatal(err)
	}
	defer notifyEng.Close(ctx)
	st, _ := events.Open(ctx, notifyDB, nil)
	defer st.Close()
	inbox, _ := events.NewInbox(st, nil)
	process := events.StartOn(notifyEng, shipped, notify, func(r events.Received[Shipped]) (Shipped, *chorus.StartOptions) {
		return r.Data, &chorus.StartOptions{ID: "notify-" + r.Data.Order}
	})
	msg := broker.Messages("shipping.shipped")[0]
	for range 3 { // a broker may deliver a message more than once
		_ = inbox.Handle(ctx, msg, process)
	}
	r, _ := chorus.Lookup(ctx, notifyEng, notify, "notify-42")
	fmt.Println(r.Result(ctx))
	// Output:
	// label-42 - events sent: 1
	// order 42 is on its way with post <nil>
}

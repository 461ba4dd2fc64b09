// Command order-choreography runs an order through four services that
// react to each other's events over an in-process NATS JetStream server:
// orders, inventory, billing and shipping, each a workflow engine with its
// own database, transactional outbox and idempotent inbox.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chorusdev/chorus/events/nats/embedded"
	"github.com/chorusdev/chorus/examples/order-choreography/choreo"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "order-choreography")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	srv, err := embedded.Start(&embedded.Options{StoreDir: dir + "/nats"})
	if err != nil {
		return err
	}
	defer srv.Close()
	nc, err := natsgo.Connect(srv.URL())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	svcs, err := choreo.Start(ctx, dir, js, w)
	if err != nil {
		return err
	}
	_, err = svcs.PlaceOrder(ctx, choreo.Order{ID: "A-1001", Item: "espresso machine", Cents: 24900})
	if err == nil {
		_, err = svcs.PlaceOrder(ctx, choreo.Order{ID: "B-2002", Item: choreo.OutOfStock, Cents: 8900})
	}
	if cerr := svcs.Close(ctx); err == nil {
		err = cerr
	}
	if err == nil {
		fmt.Fprintln(w, "done: four services, four databases, no direct call between them")
	}
	return err
}

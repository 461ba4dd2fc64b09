// Command order-choreography runs an order through four services that
// react to each other's events over an in-process NATS JetStream server:
// orders, inventory, billing and shipping, each a workflow engine with its
// own database, transactional outbox and idempotent inbox.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chorusdev/chorus/events/nats/embedded"
	"github.com/chorusdev/chorus/examples/order-choreography/choreo"
)

// With -procs, each service runs in a process of its own (this program
// again, told which service by the environment), and with -kills the
// supervisor SIGKILLs service processes mid-flow and starts them again:
//
//	go run ./examples/order-choreography -procs -orders 20 -kills 5
func main() {
	if service := os.Getenv(envService); service != "" {
		if err := serve(service); err != nil {
			log.Fatalf("%s service: %v", service, err)
		}
		return
	}
	procs := flag.Bool("procs", false, "run each service as a process of its own, sharing the broker")
	orders := flag.Int("orders", 10, "with -procs: how many orders to place (every fifth is out of stock)")
	kills := flag.Int("kills", 0, "with -procs: how many times to SIGKILL a random service process mid-flow (and start it again)")
	seed := flag.Int64("seed", time.Now().UnixNano(), "with -kills: the seed of the kills' moments and victims")
	flag.Parse()
	var err error
	if *procs {
		exe, xerr := os.Executable()
		if xerr != nil {
			log.Fatal(xerr)
		}
		err = runProcs(os.Stdout, procsConfig{Orders: *orders, Kills: *kills, Seed: *seed, Exe: exe})
	} else {
		err = run(os.Stdout)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := startBroker()
	if err != nil {
		return err
	}
	defer b.close()
	dir, js := b.dir, b.js

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

// broker is a temporary directory with an in-process NATS server keeping
// its JetStream files there, and a connection to it.
type broker struct {
	dir string
	srv *embedded.Server
	nc  *natsgo.Conn
	js  jetstream.JetStream
}

func startBroker() (*broker, error) {
	dir, err := os.MkdirTemp("", "order-choreography")
	if err != nil {
		return nil, err
	}
	b := &broker{dir: dir}
	if b.srv, err = embedded.Start(&embedded.Options{StoreDir: filepath.Join(dir, "nats")}); err == nil {
		if b.nc, err = natsgo.Connect(b.srv.URL()); err == nil {
			b.js, err = jetstream.New(b.nc)
		}
	}
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// close stops the server and removes the directory.
func (b *broker) close() {
	if b.nc != nil {
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Close()
	}
	_ = os.RemoveAll(b.dir)
}

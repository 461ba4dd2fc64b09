// Command api-orchestration places orders through three partner APIs and
// shows the integrate package's resilience at work:
//
//   - inventory is slow on its first call: the call's timeout cuts it and
//     the retry gets the answer;
//   - payment fails now and then with 503: retried with backoff, each
//     charge applied once thanks to the idempotency key; the charges go
//     through a queue (one at a time, at most the API's rate per second)
//     and a client-side limiter spaces the requests, retries included;
//   - shipping starts answering 503 after two orders: its circuit breaker
//     opens and the workflow routes the shipment to a backup provider.
//
// A nightly schedule reconciles the charges; the program triggers it once
// so it ends in seconds. Everything is journaled to a SQLite file.
//
//	go run ./examples/api-orchestration
//
// The workflows, activities and fake APIs are in package orders.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chorusdev/chorus/examples/api-orchestration/orders"
)

func main() {
	db := flag.String("db", "", "journal file (default: a new file in a temporary directory)")
	flag.Parse()
	if *db == "" {
		dir, err := os.MkdirTemp("", "api-orchestration")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		*db = filepath.Join(dir, "orders.db")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := orders.Run(ctx, *db, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "api-orchestration:", err)
		cancel()
		os.Exit(1)
	}
}

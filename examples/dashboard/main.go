// Command dashboard runs a few business processes and mounts Chorus's
// dashboard in the same binary, the way an application does: an order that
// completes, a trip whose car rental fails and is compensated, and a claim
// that waits for a person's approval, which you can give from the browser
// (the claim's page has a signal form) or from the command line.
//
//	go run ./examples/dashboard                 # prints the URL and a token
//	CHORUS_TOKEN=s3cret go run ./examples/dashboard -addr 127.0.0.1:8080
//
// Sign in with the token. Then, in another terminal:
//
//	chorus signal --addr http://127.0.0.1:8080/chorus --token s3cret claim-310 approve '{"Approve":true,"By":"ann"}'
//
// The dashboard is package ui: ui.Handler(eng, &ui.Options{...}) is an
// http.Handler, mounted here under /chorus/ beside the application's own
// routes.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/approval/claim"
	"github.com/chorusdev/chorus/examples/quickstart/order"
	"github.com/chorusdev/chorus/examples/trip-booking/trip"
	"github.com/chorusdev/chorus/ui"
)

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "chorus-dashboard.db"), "journal database `file`")
	addr := flag.String("addr", "127.0.0.1:8080", "listen `address`")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	token := os.Getenv("CHORUS_TOKEN")
	if token == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		token = hex.EncodeToString(b)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(1)
	}
	fmt.Printf("dashboard: http://%s/chorus/ (token %s); Ctrl-C stops\n", ln.Addr(), token)
	if err := serve(ctx, ln, *db, token); err != nil {
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(1)
	}
}

// serve opens the journal, starts the demo runs and serves the dashboard
// on ln until ctx is done.
func serve(ctx context.Context, ln net.Listener, db, token string) error {
	eng, err := chorus.Open(ctx, db, &chorus.Options{Definitions: []chorus.Definition{
		order.PlaceOrder, order.Reserve, order.Charge, order.Ship,
		trip.BookTrip, trip.BookFlight, trip.BookHotel, trip.RentCar, trip.CancelHotel, trip.CancelFlight,
		claim.HandleClaim, claim.Assess, claim.Escalate, claim.Pay, claim.Reject,
	}})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Close(cctx)
	}()
	if err := startDemo(ctx, eng); err != nil {
		return err
	}

	dash, err := ui.Handler(eng, &ui.Options{
		Prefix: "/chorus",
		Auth:   ui.LabeledBearerToken("ops", token),
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/chorus/", dash)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/chorus/", http.StatusFound)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startDemo starts each demo run unless the journal has it already (a
// second start of the program shows the same runs).
func startDemo(ctx context.Context, eng *chorus.Engine) error {
	reuse := func(err error) error {
		if errors.Is(err, chorus.ErrRunExists) {
			return nil
		}
		return err
	}
	o, err := chorus.Start(ctx, eng, order.PlaceOrder, order.Order{ID: "order-42", Item: "espresso beans 1kg", Qty: 2, Cents: 4250, Card: "4242"},
		&chorus.StartOptions{ID: "order-42"})
	if err = reuse(err); err != nil {
		return err
	}
	if o != nil {
		if _, err := o.Result(ctx); err != nil {
			return err
		}
	}
	t, err := chorus.Start(ctx, eng, trip.BookTrip, trip.Trip{ID: "trip-7", Traveler: "Ada Lovelace", From: "London", To: "Lisbon", Nights: 3},
		&chorus.StartOptions{ID: "trip-7"})
	if err = reuse(err); err != nil {
		return err
	}
	if t != nil {
		_, _ = t.Result(ctx) // fails by design: no car, the saga compensates
	}
	_, err = chorus.Start(ctx, eng, claim.HandleClaim, claim.Claim{ID: "claim-310", Claimant: "Grace Hopper", What: "water damage", Cents: 180000},
		&chorus.StartOptions{ID: "claim-310"})
	return reuse(err)
}

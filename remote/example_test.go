package remote_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/remote"
	"github.com/chorusdev/chorus/workflow"
)

// A hub and a worker in one process, for the example; in real life the
// worker runs on another machine and knows only the hub's URL and its
// token.
func ExampleNewHub() {
	// Shared by both sides: the activity, bound to a queue.
	var Geocode = activity.New("geocode", func(ctx context.Context, address string) (string, error) {
		return "48.8584,2.2945 for " + address, nil // runs on the worker
	}).WithOptions(activity.Options{Queue: "geo"})
	var Deliver = workflow.New("deliver", func(ctx workflow.Context, address string) (string, error) {
		return workflow.ExecuteActivity(ctx, Geocode, address).Get(ctx)
	})
	const token = "3f9c0e6b1d2a4f58a7c9e1b0d4f6a8c2" // from crypto/rand in real life

	// The hub.
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "chorus-remote-example")
	defer os.RemoveAll(dir)
	eng, err := chorus.Open(ctx, filepath.Join(dir, "hub.db"), &chorus.Options{
		Queues: []chorus.Queue{{Name: "geo", Concurrency: 32}},
	})
	if err != nil {
		panic(err)
	}
	hub, err := remote.NewHub(eng, &remote.HubOptions{
		Activities: []remote.Activity{Geocode},
		Workers:    []remote.WorkerToken{{Name: "geo-1", Token: token, Queues: []string{"geo"}}},
	})
	if err != nil {
		panic(err)
	}
	if err := eng.Register(Deliver); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(hub)
	defer srv.Close()

	// The worker.
	w, err := remote.NewWorker(srv.URL, token, []string{"geo"}, nil, Geocode)
	if err != nil {
		panic(err)
	}
	wctx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(wctx) }()

	run, err := chorus.Start(ctx, eng, Deliver, "Champ de Mars", &chorus.StartOptions{ID: "parcel-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(run.Result(ctx))

	stop()
	fmt.Println("worker:", <-stopped)
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	fmt.Println("engine:", eng.Close(cctx))
	hub.Close()
	// Output:
	// 48.8584,2.2945 for Champ de Mars <nil>
	// worker: <nil>
	// engine: <nil>
}

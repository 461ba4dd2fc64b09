// Package shop is bad workflow code: each mistake chorusvet knows.
package shop

import (
	crand "crypto/rand"
	"fmt"
	"maps"
	"math/rand"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"time"

	"example.com/helper"
	"github.com/chorusdev/chorus/workflow"
	"github.com/google/uuid"
)

type Order struct {
	ID    string
	Items map[string]int
}

var (
	orders int
	cache  = map[string]string{}
	last   struct{ id string }
)

var PlaceOrder = workflow.New("place-order", func(ctx workflow.Context, o Order) (string, error) {
	start := time.Now()        // want `^place-order calls time.Now: wall-clock time in workflow code; use workflow.Now$`
	time.Sleep(time.Second)    // want `^place-order calls time.Sleep: .*; use workflow.Sleep$`
	<-time.After(time.Second)  // want `place-order receives from a Go channel` `place-order calls time.After: wall-clock timer`
	go audit(o)                // want `^place-order starts a goroutine \(go statement\): .*use workflow.Go$`
	done := make(chan bool, 1) // want `place-order makes a Go channel: .*use workflow.NewChannel`
	done <- true               // want `place-order sends on a Go channel`
	select {                   // want `place-order uses select: .*use workflow.NewSelector`
	case <-done: // the select is reported, not its cases
	default:
	}
	total := 0
	for _, n := range o.Items { // an integer sum: the order does not matter
		total += n
	}
	var names string
	for name := range o.Items { // want `place-order ranges over a map: map iteration order is random`
		names += name
	}
	var ids []string
	for id := range o.Items { // want `place-order ranges over a map`
		ids = append(ids, id) // collected, never sorted
	}
	avg := 0.0
	for _, n := range o.Items { // want `place-order ranges over a map`
		avg += float64(n) // float sums depend on the order
	}
	for id := range o.Items { // want `place-order ranges over a map`
		_ = helper.Upper(id) // a call: its effects could depend on the order
	}
	_ = rand.Intn(10) // want `place-order calls rand.Intn: random numbers .*use workflow.NewRandom`
	_ = uuid.New()    // want `place-order calls uuid.New: a generated UUID differs on replay; use workflow.NewUUID`
	b := make([]byte, 8)
	_, _ = crand.Read(b)        // want `place-order calls rand.Read: random bytes`
	_, _ = os.ReadFile("order") // want `place-order calls os.ReadFile: file, network or OS access in workflow code; do it in an activity`
	_, _ = http.Get("http://x") // want `place-order calls http.Get: file, network or OS access`
	orders++                    // want `place-order writes package-level variable orders: .*keep workflow state in local variables`
	cache[o.ID] = "placed"      // want `place-order writes package-level variable cache`
	last.id = o.ID              // want `place-order writes package-level variable last`
	_ = stampLocal()
	_ = helper.Stamp()             // want `^place-order calls helper.Stamp which calls time.Now \(helper.go:16\): wall-clock time in workflow code; use workflow.Now$`
	_ = helper.Deep()              // want `^place-order calls helper.Deep which calls helper.inner which calls os.Getenv \(helper.go:25\): file`
	helper.Count()                 // want `place-order calls helper.Count which writes package-level variable hits \(helper.go:32\)`
	_ = helper.Clock{}.Read()      // want `place-order calls helper.Clock.Read which calls time.Now`
	_ = helper.Pick([]string{"a"}) // want `place-order calls helper.Pick which calls rand.IntN`
	_ = helper.Upper(o.ID)         // pure
	_ = helper.Region()            // trusted by its doc comment
	return fmt.Sprint(start, total, names, ids, avg), nil
})

func stampLocal() string { // want stampLocal:"calls time.Now"
	return time.Now().String() // want `^place-order calls shop.stampLocal which calls time.Now: wall-clock`
}

// audit is started by a go statement; it is deterministic itself.
func audit(o Order) { fmt.Println(o.ID) }

var Fanout = workflow.New("fanout", fanout)

func fanout(ctx workflow.Context, n int) (int, error) { // want fanout:"calls time.NewTimer"
	workflow.Go(ctx, func(ctx workflow.Context) {
		t := time.NewTimer(time.Second) // want `^fanout calls time.NewTimer: wall-clock timer`
		_ = t
	})
	workflow.Go(ctx, worker)
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(nil, func() { orders = 2 })                               // want `fanout writes package-level variable orders`
	workflow.Await(ctx, func() bool { return time.Since(time.Time{}) > 0 }) // want `fanout calls time.Since`
	ch := make(chan int)                                                    // want `fanout makes a Go channel`
	close(ch)                                                               // want `fanout closes a Go channel`
	for range ch {                                                          // want `fanout ranges over a Go channel`
	}
	for k := range maps.Keys(map[string]int{}) { // want `fanout ranges over maps.Keys`
		_ = k
	}
	_ = stampLocal() // reported once, under place-order
	return n, nil
}

func worker(ctx workflow.Context) { // want worker:"calls rand.N"
	_ = mrand.N(10) // want `^fanout calls shop.worker which calls rand.N: random numbers`
}

// A workflow whose function lives in another package is reported where it
// is registered.
var Remote = workflow.New("remote", helper.Workflow) // want `^remote runs helper.Workflow which calls time.Now \(helper.go:57\)`

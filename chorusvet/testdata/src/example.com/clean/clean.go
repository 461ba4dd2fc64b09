// Package clean is workflow code chorusvet must accept: the escape hatches,
// activities, pure helpers, sorted map keys, and non-deterministic code no
// workflow reaches.
package clean

import (
	"context"
	"fmt"
	"maps"
	"math/rand"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"example.com/helper"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
	"github.com/google/uuid"
)

// Activities may do anything.
var Charge = activity.New("charge", func(ctx context.Context, n int) (int, error) {
	time.Sleep(time.Millisecond)
	_, err := os.ReadFile("card")
	return rand.Intn(n), err
})

var Refund = activity.New("refund", refund)

func refund(ctx context.Context, n int) (int, error) { // want refund:"calls os.Getpid"
	return os.Getpid(), nil
}

type Store interface{ Load(string) int }

var store Store

var Good = workflow.New("good", func(ctx workflow.Context, in map[string]int) (string, error) {
	now := workflow.Now(ctx)
	_ = workflow.Sleep(ctx, time.Second)
	id := workflow.SideEffect(ctx, func() int64 { return time.Now().UnixNano() })
	_ = workflow.SideEffect(ctx, time.Now)
	_ = workflow.MutableSideEffect(ctx, "flag", readFlag, func(a, b string) bool { return a == b })
	workflow.SetQueryHandler(ctx, &workflow.Query[string, string]{}, func(string) (string, error) {
		return time.Now().String(), nil
	})

	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var names []string
	for name := range in {
		names = append(names, name)
	}
	if len(names) > 1 {
		slices.Sort(names)
	}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		_ = k
	}
	// Loops whose result does not depend on the order.
	total, positive := 0, 0
	copied := map[string]int{}
	for k, v := range in {
		total += v
		if v > 0 && len(k) < 10 {
			positive++
		} else {
			copied[k] = int(int64(v) * 2)
		}
	}

	_ = strings.ToUpper(now.Add(time.Duration(3) * time.Second).Format(time.RFC3339))
	_ = helper.Upper("x")
	_ = store.Load("x") // an interface: which code runs is unknown
	r := rand.New(rand.NewSource(id))
	_ = r.Intn(3)
	local := 0
	local++
	var buf [4]int
	buf[0] = local
	_ = net.JoinHostPort("a", "1")
	_ = os.IsNotExist(nil)
	_, _ = uuid.Parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	fmt.Println("printing does not change the path a replay takes")
	return fmt.Sprint(keys, total, positive, copied), nil
})

func readFlag() string { // want readFlag:"calls os.Getenv"
	return os.Getenv("FLAG")
}

var counter int

// NotWorkflowCode is non-deterministic, but no workflow reaches it.
func NotWorkflowCode() { // want NotWorkflowCode:"starts a goroutine"
	go func() {}()
	_ = time.Now()
	counter++
	for range map[int]int{} {
	}
}

// Package helper holds helpers that workflows of another package call: what
// is found here reaches them as facts.
package helper

import (
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/chorusdev/chorus/workflow"
)

// Stamp reads the wall clock.
func Stamp() string { // want Stamp:"^calls time.Now$"
	return time.Now().Format(time.RFC3339)
}

// Deep reaches the environment two calls down.
func Deep() string { // want Deep:"^calls helper.inner which calls os.Getenv$"
	return strings.TrimSpace(inner())
}

func inner() string { // want inner:"calls os.Getenv"
	return os.Getenv("REGION")
}

var hits int

// Count writes a package-level variable.
func Count() { // want Count:"writes package-level variable hits"
	hits++
}

// Clock has a method that reads the wall clock.
type Clock struct{}

func (Clock) Read() time.Time { // want Read:"calls time.Now"
	return time.Now()
}

// Pick is generic and draws from the global random source.
func Pick[T any](xs []T) T { // want Pick:"calls rand.IntN"
	return xs[rand.IntN(len(xs))]
}

// Upper is pure.
func Upper(s string) string { return strings.ToUpper(s) }

// Region reads the environment, which this code accepts.
//
//chorusvet:ignore the region is fixed for the life of the deployment
func Region() string { return os.Getenv("REGION") }

// Workflow is a workflow function registered by another package.
func Workflow(ctx workflow.Context, n int) (int, error) { // want Workflow:"calls time.Now"
	return n + time.Now().Second(), nil
}

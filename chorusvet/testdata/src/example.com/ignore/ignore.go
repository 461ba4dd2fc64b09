// Package ignore accepts findings with reasoned ignore comments, and
// reports ignore comments without a reason.
package ignore

import (
	"fmt"
	"os"
	"time"

	"example.com/helper"
	"github.com/chorusdev/chorus/workflow"
)

var Ignoring = workflow.New("ignoring", func(ctx workflow.Context, _ int) (string, error) {
	a := time.Now() //chorusvet:ignore only logged, never steers the workflow
	//chorusvet:ignore only logged, never steers the workflow
	b := time.Now()
	c := helper.Stamp() //chorusvet:ignore only logged
	d := trusted()
	e := viaLocal() //chorusvet:ignore the value is only logged

	// want +1 `^chorusvet:ignore needs a reason`
	//chorusvet:ignore
	f := time.Now() // want `^ignoring calls time.Now`
	g := bare()
	// A trailing ignore speaks of its own line only.
	h := time.Now() //chorusvet:ignore only logged
	i := time.Now() // want `^ignoring calls time.Now`
	return fmt.Sprint(a, b, c, d, e, f, g, h, i), nil
})

// trusted reads the environment once per deployment.
//
//chorusvet:ignore the environment is fixed for the deployment's life
func trusted() string {
	return os.Getenv("HOME")
}

func viaLocal() string { // want viaLocal:"calls time.Now"
	return time.Now().String()
}

// want +2 `^chorusvet:ignore needs a reason`
//
//chorusvet:ignore
func bare() string { // want bare:"calls time.Now"
	return time.Now().String() // want `^ignoring calls ignore.bare which calls time.Now`
}

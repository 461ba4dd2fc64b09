package saga_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/chorusdev/chorus/internal/testutil"
)

// childModes lets a test re-execute the test binary as a child process that
// runs one of these functions instead of the tests, so that the test can
// SIGKILL it (see testutil.StartChild). The function must call os.Exit.
var childModes = map[string]func(){}

func TestMain(m *testing.M) {
	if mode := os.Getenv(testutil.ChildEnv); mode != "" {
		f, ok := childModes[mode]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown %s mode %q\n", testutil.ChildEnv, mode)
			os.Exit(2)
		}
		f()
		fmt.Fprintf(os.Stderr, "child mode %q returned without exiting\n", mode)
		os.Exit(2)
	}
	goleak.VerifyTestMain(m)
}

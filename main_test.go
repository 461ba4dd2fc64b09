package chorus_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childModes lets a test re-execute the test binary as a child process that
// runs one of these functions instead of the tests (for crash tests that
// SIGKILL the child). The child is selected with the CHORUS_TEST_CHILD
// environment variable; the function must call os.Exit.
var childModes = map[string]func(){}

func TestMain(m *testing.M) {
	if mode := os.Getenv("CHORUS_TEST_CHILD"); mode != "" {
		f, ok := childModes[mode]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown CHORUS_TEST_CHILD mode %q\n", mode)
			os.Exit(2)
		}
		f()
		fmt.Fprintf(os.Stderr, "child mode %q returned without exiting\n", mode)
		os.Exit(2)
	}
	goleak.VerifyTestMain(m)
}

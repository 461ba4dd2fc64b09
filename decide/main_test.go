package decide_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/chorusdev/chorus/internal/testutil/childproc"
)

// childModes lets a test re-execute the test binary as a child process that
// runs one of these functions instead of the tests, so that the test can
// SIGKILL it (see testutil.StartChild). The function must call os.Exit.
var childModes = map[string]func(){}

func TestMain(m *testing.M) {
	childproc.RunMode(childModes)
	goleak.VerifyTestMain(m)
}

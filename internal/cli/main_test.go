package cli_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every command closes the store it opened, and the fixture's engine is
// closed: nothing is left running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

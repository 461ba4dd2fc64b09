package events_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/chorusdev/chorus/internal/testutil/childproc"
)

var childModes = map[string]func(){}

func TestMain(m *testing.M) {
	childproc.RunMode(childModes)
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

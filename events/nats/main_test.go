package nats_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/chorusdev/chorus/internal/testutil/childproc"
)

var childModes = map[string]func(){
	"relay-to-nats": relayChild,
}

func TestMain(m *testing.M) {
	childproc.RunMode(childModes)
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		// The NATS server's file store keeps background flushers that stop
		// a moment after Shutdown returns.
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
	)
}

package chorustest_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

func sprint(args ...any) string                 { return fmt.Sprint(args...) }
func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// The claim workflow of these tests: wait up to 30 days for a decision,
// then escalate.

type Decision struct {
	Approved bool
	By       string
}

var Approve = workflow.NewSignal[Decision]("approve")

var Escalate = activity.New("escalate", func(ctx context.Context, claim string) (string, error) {
	return "escalated " + claim, nil
})

const approvalWindow = 30 * 24 * time.Hour

var Claim = workflow.New("claim", func(ctx workflow.Context, claim string) (string, error) {
	d, ok := workflow.GetSignalChannel(ctx, Approve).ReceiveWithTimeout(ctx, approvalWindow)
	if !ok {
		return workflow.ExecuteActivity(ctx, Escalate, claim).Get(ctx)
	}
	return fmt.Sprintf("%s: approved=%v by %s", claim, d.Approved, d.By), nil
})

// The order workflow of these tests: charge, then ship.

type Order struct {
	ID      string
	Cents   int64
	Express bool
}

type Receipt struct {
	ID    string
	Cents int64
}

var Charge = activity.New("charge", func(ctx context.Context, o Order) (Receipt, error) {
	return Receipt{ID: "real-" + o.ID, Cents: o.Cents}, nil
})

var Ship = activity.New("ship", func(ctx context.Context, o Order) (string, error) {
	return "parcel-" + o.ID, nil
})

var PlaceOrder = workflow.New("place-order", func(ctx workflow.Context, o Order) (string, error) {
	r, err := workflow.ExecuteActivity(ctx, Charge, o).Get(ctx)
	if err != nil {
		return "", err
	}
	p, err := workflow.ExecuteActivity(ctx, Ship, o).Get(ctx)
	if err != nil {
		return "", err
	}
	return r.ID + "/" + p, nil
})

const errorLevel = slog.LevelError

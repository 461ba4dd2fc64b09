// Package checkout holds the workflow and activities of examples/tracing,
// importable so that tests and tools can run or replay the very code the
// example runs.
//
// Checkout reserves stock, charges a card (the first attempt fails and is
// retried), waits a moment on a durable timer, then ships. Charge starts a
// span of its own, "card-gateway", with its attempt's context, to show that
// an activity's outgoing calls are children of its attempt span.
package checkout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

var (
	// Reserve reserves qty items and returns the reservation.
	Reserve = activity.New("reserve", func(ctx context.Context, qty int) (string, error) {
		return fmt.Sprintf("RSV-%d", qty), nil
	})
	// Charge charges cents; its first attempt fails as a gateway timeout.
	Charge = activity.New("charge", func(ctx context.Context, cents int) (string, error) {
		// The attempt's context carries its span: calls made with it are
		// its children.
		_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("card-gateway").Start(ctx, "card-gateway")
		defer span.End()
		if activity.GetInfo(ctx).Attempt == 1 {
			return "", errors.New("card gateway timed out")
		}
		return fmt.Sprintf("CH-%d", cents), nil
	})
	// Ship ships a reservation and returns its tracking number.
	Ship = activity.New("ship", func(ctx context.Context, rsv string) (string, error) {
		return "TRK-" + strings.TrimPrefix(rsv, "RSV-"), nil
	})
	// Checkout is the workflow: reserve, charge, a short durable timer,
	// ship; it returns the tracking number.
	Checkout = workflow.New("checkout", func(ctx workflow.Context, cents int) (string, error) {
		rsv, err := workflow.ExecuteActivity(ctx, Reserve, 2).Get(ctx)
		if err != nil {
			return "", err
		}
		if _, err := workflow.ExecuteActivity(ctx, Charge, cents).Get(ctx); err != nil {
			return "", err
		}
		if err := workflow.Sleep(ctx, 50*time.Millisecond); err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, Ship, rsv).Get(ctx)
	})
)

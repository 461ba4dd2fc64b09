package order_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/examples/quickstart/order"
	chorustest "github.com/chorusdev/chorus/testing"
)

// Unit tests of the PlaceOrder workflow on chorustest: a real engine and
// journal, in process, with the activities real or mocked.

func orderEnv(t *testing.T) *chorustest.Env {
	return chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{order.PlaceOrder, order.Reserve, order.Charge, order.Ship}})
}

var testOrder = order.Order{ID: "order-42", Item: "espresso beans 1kg", Qty: 2, Cents: 4250, Card: "4242"}

func TestPlaceOrderWorkflow(t *testing.T) {
	t.Parallel()
	env := orderEnv(t)
	// A spy: the real charge-card runs, and the test sees its calls.
	charge := chorustest.OnActivity(env, order.Charge)
	run := chorustest.Start(env, order.PlaceOrder, testOrder, &chorus.StartOptions{ID: "order-42"})
	conf, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, order.Confirmation{OrderID: "order-42", Reservation: "RSV-order-42", Charge: "CH-order-42", Tracking: "TRK-order-42"}, conf)
	require.Equal(t, []string{"reserve-inventory", "charge-card", "ship-order"}, env.ActivitiesRun("order-42"))
	require.Equal(t, []order.Order{testOrder}, charge.Inputs())
	require.Len(t, env.History("order-42"), 8, "RunStarted, 3 x (scheduled, completed), RunCompleted")
}

func TestPlaceOrderIdempotencyKey(t *testing.T) {
	t.Parallel()
	env := orderEnv(t)
	var keys []string
	chorustest.OnActivity(env, order.Charge).Do(func(ctx context.Context, o order.Order) (order.Receipt, error) {
		info := activity.GetInfo(ctx)
		keys = append(keys, info.IdempotencyKey)
		if info.Attempt == 1 {
			return order.Receipt{}, errors.New("gateway timeout") // retried, after a backoff the env skips
		}
		return order.Receipt{ChargeID: "CH-retried"}, nil
	})
	conf, err := chorustest.Result(env, chorustest.Start(env, order.PlaceOrder, testOrder, &chorus.StartOptions{ID: "order-42"}))
	require.NoError(t, err)
	require.Equal(t, "CH-retried", conf.Charge)
	require.Equal(t, []string{"order-42/4", "order-42/4"}, keys, "the same key on every attempt")
}

func TestPlaceOrderCardDeclined(t *testing.T) {
	t.Parallel()
	env := orderEnv(t)
	chorustest.OnActivity(env, order.Charge).ReturnError(activity.NonRetryable(activity.NewError("card-declined", "insufficient funds")))
	ship := chorustest.OnActivity(env, order.Ship)
	_, err := chorustest.Result(env, chorustest.Start(env, order.PlaceOrder, testOrder, &chorus.StartOptions{ID: "order-42"}))
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "card-declined", ae.Type)
	require.Zero(t, ship.Calls(), "nothing is shipped")
	require.Equal(t, []string{"reserve-inventory", "charge-card"}, env.ActivitiesRun("order-42"))
}

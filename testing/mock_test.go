package chorustest_test

import (
	"context"
	"errors"
	"fmt"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

func orderEnv(t *stdtesting.T) *chorustest.Env {
	return chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{PlaceOrder, Charge, Ship}})
}

func placeOrder(t *stdtesting.T, env *chorustest.Env, o Order) (string, error) {
	t.Helper()
	return chorustest.Result(env, chorustest.Start(env, PlaceOrder, o, &chorus.StartOptions{ID: o.ID}))
}

func TestMockReturn(t *stdtesting.T) {
	t.Parallel()
	env := orderEnv(t)
	charge := chorustest.OnActivity(env, Charge).Return(Receipt{ID: "mocked"}, nil)
	ship := chorustest.OnActivity(env, Ship) // no answer: a spy on the real activity
	got, err := placeOrder(t, env, Order{ID: "o-1", Cents: 500})
	require.NoError(t, err)
	require.Equal(t, "mocked/parcel-o-1", got, "charge mocked, ship real")
	require.Equal(t, 1, charge.Calls())
	require.Equal(t, []Order{{ID: "o-1", Cents: 500}}, charge.Inputs())
	require.Equal(t, 1, ship.Calls())
	require.Equal(t, []string{"charge", "ship"}, env.ActivitiesRun("o-1"))
}

func TestUnmockedActivitiesRunForReal(t *stdtesting.T) {
	t.Parallel()
	env := orderEnv(t)
	got, err := placeOrder(t, env, Order{ID: "o-2"})
	require.NoError(t, err)
	require.Equal(t, "real-o-2/parcel-o-2", got)
}

func TestMockReturnError(t *stdtesting.T) {
	t.Parallel()
	env := orderEnv(t)
	declined := chorustest.OnActivity(env, Charge).ReturnError(activity.NonRetryable(activity.NewError("card-declined", "limit reached")))
	ship := chorustest.OnActivity(env, Ship)
	_, err := placeOrder(t, env, Order{ID: "o-3"})
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "card-declined", ae.Type)
	require.Equal(t, 1, declined.Calls(), "not retried")
	require.Zero(t, ship.Calls())
	require.Equal(t, []string{"charge"}, env.ActivitiesRun("o-3"))
}

// Times lets a mock answer the first attempts only: two retryable failures,
// whose backoffs the env skips, then the real activity.
func TestMockTimesWithRetries(t *stdtesting.T) {
	t.Parallel()
	env := orderEnv(t)
	busy := chorustest.OnActivity(env, Charge).Times(2).ReturnError(errors.New("gateway busy"))
	real := chorustest.OnActivity(env, Charge)
	got, err := placeOrder(t, env, Order{ID: "o-4"})
	require.NoError(t, err)
	require.Equal(t, "real-o-4/parcel-o-4", got)
	require.Equal(t, 2, busy.Calls())
	require.Equal(t, 1, real.Calls())
	require.Positive(t, env.Elapsed(), "the retry backoffs passed on the fake clock")
	require.Equal(t, []string{"charge", "ship"}, env.ActivitiesRun("o-4"), "retried attempts are not outcomes")
}

func TestMockWhenAndDo(t *stdtesting.T) {
	t.Parallel()
	env := orderEnv(t)
	var attempts []int
	express := chorustest.OnActivity(env, Ship).When(func(o Order) bool { return o.Express }).
		Do(func(ctx context.Context, o Order) (string, error) {
			attempts = append(attempts, activity.GetInfo(ctx).Attempt)
			return "drone-" + o.ID, nil
		})
	chorustest.OnActivity(env, Charge).Do(func(ctx context.Context, o Order) (Receipt, error) {
		return Receipt{ID: fmt.Sprintf("r%d", o.Cents), Cents: o.Cents}, nil
	})
	got, err := placeOrder(t, env, Order{ID: "o-5", Cents: 7, Express: true})
	require.NoError(t, err)
	require.Equal(t, "r7/drone-o-5", got)
	got, err = placeOrder(t, env, Order{ID: "o-6", Cents: 8})
	require.NoError(t, err)
	require.Equal(t, "r8/parcel-o-6", got, "not express: the real activity")
	require.Equal(t, 1, express.Calls())
	require.Equal(t, []Order{{ID: "o-5", Cents: 7, Express: true}}, express.Inputs())
	require.Equal(t, []int{1}, attempts)
}

// Mocks registered for a definition the env was not given register it.
func TestMockRegistersItsActivity(t *stdtesting.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{PlaceOrder}})
	chorustest.OnActivity(env, Charge).Return(Receipt{ID: "c"}, nil)
	chorustest.OnActivity(env, Ship).Return("s", nil)
	got, err := placeOrder(t, env, Order{ID: "o-7"})
	require.NoError(t, err)
	require.Equal(t, "c/s", got)
}

// Children: a monthly invoice per month of a subscription.

type Invoice struct {
	Month string
	Cents int64
}

var SendInvoice = activity.New("send-invoice", func(ctx context.Context, inv Invoice) (string, error) {
	return "sent " + inv.Month, nil
})

var MonthlyInvoice = workflow.New("monthly-invoice", func(ctx workflow.Context, month string) (Invoice, error) {
	inv := Invoice{Month: month, Cents: 999}
	if _, err := workflow.ExecuteActivity(ctx, SendInvoice, inv).Get(ctx); err != nil {
		return Invoice{}, err
	}
	return inv, nil
})

var Billing = workflow.New("billing", func(ctx workflow.Context, months []string) (int64, error) {
	var total int64
	for _, m := range months {
		inv, err := workflow.ExecuteChildWorkflow(ctx, MonthlyInvoice, m, nil).Get(ctx)
		if err != nil {
			return total, err
		}
		total += inv.Cents
	}
	return total, nil
})

func billingEnv(t *stdtesting.T) *chorustest.Env {
	return chorustest.New(t, &chorustest.Options{Definitions: []chorus.Definition{Billing, MonthlyInvoice, SendInvoice}})
}

func TestChildWorkflowMocks(t *stdtesting.T) {
	t.Parallel()
	env := billingEnv(t)
	feb := chorustest.OnWorkflow(env, MonthlyInvoice).When(func(m string) bool { return m == "feb" }).
		Do(func(ctx workflow.Context, m string) (Invoice, error) {
			if err := workflow.Sleep(ctx, 24*time.Hour); err != nil { // a mock is workflow code
				return Invoice{}, err
			}
			return Invoice{Month: m, Cents: 1}, nil
		})
	cheap := chorustest.OnWorkflow(env, MonthlyInvoice).Once().Return(Invoice{Cents: 10}, nil)
	send := chorustest.OnActivity(env, SendInvoice)
	run := chorustest.Start(env, Billing, []string{"jan", "feb", "mar", "apr"}, &chorus.StartOptions{ID: "bill"})
	total, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, int64(10+1+999+999), total, "jan: Once; feb: When; mar, apr: real")
	require.Equal(t, 1, cheap.Calls())
	require.Equal(t, []string{"jan"}, cheap.Inputs())
	require.Equal(t, []string{"feb"}, feb.Inputs())
	require.Equal(t, 2, send.Calls(), "only the real children sent invoices")
	require.Equal(t, 24*time.Hour, env.Elapsed())
	// Mocked children are real runs with journals of their own, and they
	// replay the same way at the end of the test although Once is used up.
	require.Empty(t, env.ActivitiesRun("bill/2"))
	require.Equal(t, []string{"send-invoice"}, env.ActivitiesRun("bill/6"))
}

func TestChildWorkflowMockError(t *stdtesting.T) {
	t.Parallel()
	env := billingEnv(t)
	chorustest.OnWorkflow(env, MonthlyInvoice).ReturnError(activity.NewError("no-customer", "gone"))
	run := chorustest.Start(env, Billing, []string{"jan"}, &chorus.StartOptions{ID: "bill"})
	_, err := chorustest.Result(env, run)
	var ae *activity.Error
	require.ErrorAs(t, err, &ae, "the parent returned the child's error")
	require.Equal(t, "no-customer", ae.Type)
	child := env.Describe("bill/2")
	require.Equal(t, chorus.StatusFailed, child.Status)
	require.ErrorContains(t, child.Err, "gone")
}

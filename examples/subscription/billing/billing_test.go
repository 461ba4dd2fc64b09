package billing_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/subscription/billing"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

// Unit tests of the Subscribe workflow on chorustest: months of billing
// pass on a fake clock while the test waits, and the invoice child workflow
// is mocked.

func TestSubscriptionBillsMonthlyUntilCanceled(t *testing.T) {
	t.Parallel()
	env := chorustest.New(t, &chorustest.Options{
		Definitions: []chorus.Definition{billing.Subscribe, billing.SendInvoice, billing.Charge, billing.EmailInvoice, billing.CloseAccount},
	})
	charge := chorustest.OnActivity(env, billing.Charge) // real, counted
	invoices := chorustest.OnWorkflow(env, billing.SendInvoice).Do(func(ctx workflow.Context, inv billing.Invoice) (string, error) {
		return "INV-mock", nil
	})
	closeAccount := chorustest.OnActivity(env, billing.CloseAccount)
	sub := billing.Subscription{Customer: "acme", Email: "billing@acme.test", Cents: 4900, Month: 1}
	run := chorustest.Start(env, billing.Subscribe, sub, &chorus.StartOptions{ID: "sub-acme"})

	// Cancel one hour into the fourth month.
	env.At(3*billing.BillingPeriod+time.Hour, func() { env.Cancel("sub-acme") })
	_, err := chorustest.Result(env, run)
	require.ErrorIs(t, err, chorus.ErrCanceled)
	require.Equal(t, 3*billing.BillingPeriod+time.Hour, env.Elapsed())

	var months []int
	for _, s := range charge.Inputs() {
		months = append(months, s.Month)
	}
	require.Equal(t, []int{1, 2, 3, 4}, months, "one charge per month, each in a new generation")
	require.Equal(t, 4, invoices.Calls())
	require.Equal(t, billing.Invoice{Customer: "acme", Email: "billing@acme.test", Charge: "CH-acme-4", Month: 4, Cents: 4900}, invoices.Inputs()[3])
	require.Equal(t, []billing.Subscription{{Customer: "acme", Email: "billing@acme.test", Cents: 4900, Month: 4, BilledCents: 3 * 4900}},
		closeAccount.Inputs(), "the account is closed despite the cancellation")

	status, err := chorustest.Query(env, "sub-acme", billing.StatusQuery, struct{}{})
	require.NoError(t, err)
	require.Equal(t, billing.Status{Month: 4, Stage: "closed", BilledCents: 4 * 4900}, status)
	require.Equal(t, []string{"charge-subscription", "charge-subscription", "charge-subscription", "charge-subscription", "close-account"},
		env.ActivitiesRun("sub-acme"), "the journal of every generation")
	invoice, err := chorus.Lookup(t.Context(), env.Engine(), billing.SendInvoice, "sub-acme/invoice-2")
	require.NoError(t, err)
	number, err := chorustest.Result(env, invoice)
	require.NoError(t, err)
	require.Equal(t, "INV-mock", number, "a mocked child is a real run")
}

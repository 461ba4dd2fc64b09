package events_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/events"
)

// A parked message is processed again once its cause is fixed, then
// counts as processed; one that fails again stays parked with the new
// error; what is not parked is refused by name.
func TestRedriveParkedMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	in, err := events.NewInbox(e.st, &events.InboxOptions{MaxAttempts: 1, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ev := event.New()
	ev.SetID("pay-1")
	ev.SetSource("/payments")
	ev.SetType("com.example.payment.received")
	require.NoError(t, ev.SetData("application/json", map[string]string{"customer": "C-77"}))
	body, err := ev.MarshalJSON()
	require.NoError(t, err)
	m := &events.Message{Topic: "payments.received", Body: body}

	customers := map[string]bool{}
	var processed []string
	p := func(_ context.Context, ev event.Event) error {
		var d map[string]string
		if err := ev.DataAs(&d); err != nil {
			return err
		}
		if !customers[d["customer"]] {
			return errors.New("no customer " + d["customer"])
		}
		processed = append(processed, ev.ID())
		return nil
	}
	require.NoError(t, in.Handle(ctx, m, p), "parked: the broker may forget it")
	parked, err := e.st.Parked(ctx)
	require.NoError(t, err)
	require.Len(t, parked, 1)

	// Still broken: stays parked, with one more attempt.
	err = in.Redrive(ctx, "/payments", "pay-1", p)
	require.ErrorContains(t, err, "no customer C-77")
	parked, err = e.st.Parked(ctx)
	require.NoError(t, err)
	require.Len(t, parked, 1)
	require.Equal(t, 2, parked[0].Attempts)

	// Fixed: processed once, no longer parked, and a duplicate delivery is ignored.
	customers["C-77"] = true
	require.NoError(t, in.Redrive(ctx, "/payments", "pay-1", p))
	require.Equal(t, []string{"pay-1"}, processed)
	parked, err = e.st.Parked(ctx)
	require.NoError(t, err)
	require.Empty(t, parked)
	require.NoError(t, in.Handle(ctx, m, p))
	require.Equal(t, []string{"pay-1"}, processed, "a duplicate after the redrive is ignored")

	err = in.Redrive(ctx, "/payments", "pay-1", p)
	require.ErrorIs(t, err, events.ErrNotParked)
	require.ErrorContains(t, err, "processed")
	require.ErrorIs(t, in.Redrive(ctx, "/payments", "pay-404", p), events.ErrNotParked)
	require.ErrorIs(t, e.st.DeleteParked(ctx, "/payments", "pay-1"), events.ErrNotParked, "processed, not parked")

	// A body that is not a CloudEvent cannot be redriven, only deleted.
	require.NoError(t, in.Handle(ctx, &events.Message{Topic: "payments.received", Body: []byte("garbage")}, p))
	parked, err = e.st.Parked(ctx)
	require.NoError(t, err)
	require.Len(t, parked, 1)
	err = in.Redrive(ctx, parked[0].Source, parked[0].ID, p)
	require.ErrorIs(t, err, events.ErrMalformed)
	require.NoError(t, e.st.DeleteParked(ctx, parked[0].Source, parked[0].ID))
	parked, err = e.st.Parked(ctx)
	require.NoError(t, err)
	require.Empty(t, parked)
}

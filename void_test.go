package chorus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// TestVoidActivityAndWorkflow: an activity and a workflow that return only
// an error run like any other; workflow.Wait returns the error alone, nil
// or the activity's or child's failure.
func TestVoidActivityAndWorkflow(t *testing.T) {
	t.Parallel()
	var sent []string
	send := activity.NewVoid("void-send", func(_ context.Context, to string) error {
		if to == "" {
			return activity.NonRetryable(errors.New("no recipient"))
		}
		sent = append(sent, to)
		return nil
	})
	notify := workflow.NewVoid("void-notify", func(ctx workflow.Context, to string) error {
		return workflow.Wait(ctx, workflow.ExecuteActivity(ctx, send, to))
	})
	parent := workflow.NewVoid("void-parent", func(ctx workflow.Context, to []string) error {
		for _, r := range to {
			if err := workflow.Wait(ctx, workflow.ExecuteChildWorkflow(ctx, notify, r, nil)); err != nil {
				return err
			}
		}
		return nil
	})
	eng, _ := setup(t, nil, send, notify, parent)
	ctx := testContext(t)

	run, err := chorus.Start(ctx, eng, parent, []string{"ann", "bob"}, nil)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"ann", "bob"}, sent)

	run, err = chorus.Start(ctx, eng, parent, []string{"cy", ""}, nil)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var ae *activity.Error
	require.ErrorAs(t, err, &ae)
	require.Contains(t, ae.Message, "no recipient")
	require.Equal(t, []string{"ann", "bob", "cy"}, sent)
}

// TestVoidDefinitionsRefuseBadArguments: the void constructors panic on an
// empty name or a nil function at init, like New.
func TestVoidDefinitionsRefuseBadArguments(t *testing.T) {
	t.Parallel()
	require.PanicsWithValue(t, "activity.NewVoid: empty name", func() {
		activity.NewVoid("", func(context.Context, int) error { return nil })
	})
	require.PanicsWithValue(t, `activity.NewVoid("x"): nil function`, func() { activity.NewVoid[int]("x", nil) })
	require.PanicsWithValue(t, "workflow.NewVoid: empty name", func() {
		workflow.NewVoid("", func(workflow.Context, int) error { return nil })
	})
	require.PanicsWithValue(t, `workflow.NewVoid("x"): nil function`, func() { workflow.NewVoid[int]("x", nil) })
}

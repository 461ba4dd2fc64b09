package chorustest_test

import (
	"errors"
	stdtesting "testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	chorustest "github.com/chorusdev/chorus/testing"
	"github.com/chorusdev/chorus/workflow"
)

var Brief = workflow.New("brief", func(ctx workflow.Context, n int) (int, error) { return n, nil })

// Retention runs on the env's fake clock: advancing it past the retention
// purges the runs that ended, as the hours would in production.
func TestRetentionOnFakeClock(t *stdtesting.T) {
	env := chorustest.New(t, &chorustest.Options{
		Definitions: []chorus.Definition{Brief},
		Engine:      &chorus.Options{Retention: 24 * time.Hour},
	})
	ctx := t.Context()
	run, err := chorus.Start(ctx, env.Engine(), Brief, 1, &chorus.StartOptions{ID: "brief"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	env.Advance(25 * time.Hour)
	require.Eventually(t, func() bool {
		_, err := env.Engine().Describe(ctx, "brief")
		return errors.Is(err, chorus.ErrRunNotFound)
	}, 10*time.Second, time.Millisecond)
}

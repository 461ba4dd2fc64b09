package replay_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/codec"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

// TestEncryptedHistory: a history recorded with a PayloadCodec replays
// with it, and without it fails with chorus.ErrPayloadKey, not as a
// divergence.
func TestEncryptedHistory(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	keys, err := codec.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{9}, codec.KeySize)})
	require.NoError(t, err)
	pc := codec.AESGCM(keys)
	upper := activity.New("enc-upper", func(ctx context.Context, s string) (string, error) { return s + "!", nil })
	wf := workflow.New("enc-replay", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, upper, in).Get(ctx)
	})
	st, err := sqlite.Open(ctx, ":memory:", nil)
	require.NoError(t, err)
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{PayloadCodec: pc, Definitions: []chorus.Definition{wf, upper}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	run, err := chorus.Start(ctx, eng, wf, "claim", &chorus.StartOptions{ID: "enc"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	h, err := chorus.History(ctx, eng, "enc")
	require.NoError(t, err)

	require.NoError(t, replay.Replayer{PayloadCodec: pc}.Run(ctx, h, wf, upper))
	err = replay.Replayer{}.Run(ctx, h, wf, upper)
	require.ErrorIs(t, err, chorus.ErrPayloadKey)
	require.ErrorContains(t, err, `"k1"`)
}

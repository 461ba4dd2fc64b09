package chorus_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/codec"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/workflow"
)

// The plaintext the tests look for in the database files.
const secretClaim = "claim-of-jane-doe-0042"

func newTestKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, codec.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func keyring(t *testing.T, current string, keys map[string][]byte) *codec.Keyring {
	t.Helper()
	k, err := codec.NewKeyring(current, keys)
	require.NoError(t, err)
	return k
}

func encrypted(keys codec.KeyProvider) *chorus.Options {
	return &chorus.Options{PayloadCodec: codec.Chain(codec.Zstd(), codec.AESGCM(keys))}
}

// payloadWorkflow waits for a signal, then has an activity join the input
// and the signal. Its activity, when block is set, waits for its context:
// the engine's Close leaves it pending in the journal.
type payloadWorkflow struct {
	next    *workflow.Signal[string]
	act     *activity.Definition[string, string]
	wf      *workflow.Definition[string, string]
	block   chan struct{} // closed: the activity returns at once
	started chan struct{} // an attempt of the activity started
}

func newPayloadWorkflow(name string, blockActivity bool) *payloadWorkflow {
	p := &payloadWorkflow{next: workflow.NewSignal[string]("next"), block: make(chan struct{}), started: make(chan struct{}, 8)}
	if !blockActivity {
		close(p.block)
	}
	p.act = activity.New(name+"-join", func(ctx context.Context, s string) (string, error) {
		select {
		case p.started <- struct{}{}:
		default:
		}
		select {
		case <-p.block:
			return s + "/joined", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	p.wf = workflow.New(name, func(ctx workflow.Context, in string) (string, error) {
		v, _ := workflow.GetSignalChannel(ctx, p.next).Receive(ctx)
		return workflow.ExecuteActivity(ctx, p.act, in+"/"+v).Get(ctx)
	})
	return p
}

// requireNoPlaintext reads the database files and fails if s shows in any.
func requireNoPlaintext(t *testing.T, path, s string) {
	t.Helper()
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		require.False(t, bytes.Contains(b, []byte(s)), "%s holds the plaintext %q", filepath.Base(f), s)
	}
}

// requireBlockedForKey checks that the run is blocked, not failed, and that
// Describe and Result say so with a typed error naming the run and the key.
func requireBlockedForKey(t *testing.T, eng *chorus.Engine, wf *workflow.Definition[string, string], id, keyID string) {
	t.Helper()
	ctx := testContext(t)
	info, err := eng.Describe(ctx, id)
	require.NoError(t, err)
	require.Equal(t, chorus.StatusBlocked, info.Status)
	for _, err := range []error{info.Err, func() error {
		run, err := chorus.Lookup(ctx, eng, wf, id)
		require.NoError(t, err)
		_, err = run.Result(ctx)
		return err
	}()} {
		var be *chorus.BlockedError
		require.ErrorAs(t, err, &be)
		require.Equal(t, id, be.RunID)
		require.ErrorIs(t, err, chorus.ErrPayloadKey)
		require.Contains(t, err.Error(), `"`+keyID+`"`, "the error names the key")
		require.NotContains(t, err.Error(), secretClaim)
	}
}

// TestPayloadKeyMissingBlocksRun: a run journaled with key k1 is blocked,
// not failed, when the engine is opened without k1 (with no payload codec,
// or with another key), and completes once it is opened with k1 again,
// now as an old key beside the new current one, which new payloads use.
func TestPayloadKeyMissingBlocksRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	k1, k2 := newTestKey(t), newTestKey(t)
	p := newPayloadWorkflow("enc-blocked", false)
	path := filepath.Join(t.TempDir(), "chorus.db")

	eng := openEngine(t, path, encrypted(keyring(t, "k1", map[string][]byte{"k1": k1})), p.wf, p.act)
	_, err := chorus.Start(ctx, eng, p.wf, secretClaim, &chorus.StartOptions{ID: "claim"})
	require.NoError(t, err)
	closeEngine(t, eng)
	requireNoPlaintext(t, path, secretClaim)

	// In this order: the reason recorded under k2 still reads without it.
	for _, c := range []struct {
		name string
		opts *chorus.Options
	}{
		{"another key", encrypted(keyring(t, "k2", map[string][]byte{"k2": k2}))},
		{"no payload codec", nil},
	} {
		name := c.name
		eng = openEngine(t, path, c.opts, p.wf, p.act)
		var be *chorus.BlockedError
		require.ErrorAs(t, chorus.Signal(ctx, eng, "claim", p.next, "approved"), &be, name)
		requireBlockedForKey(t, eng, p.wf, "claim", "k1")
		closeEngine(t, eng)
	}

	// Rotated: k2 is current, k1 still decrypts.
	eng = openEngine(t, path, encrypted(keyring(t, "k2", map[string][]byte{"k1": k1, "k2": k2})), p.wf, p.act)
	info, err := eng.Describe(ctx, "claim")
	require.NoError(t, err)
	require.Equal(t, chorus.StatusRunning, info.Status, "the run resumed with its key")
	require.NoError(t, chorus.Signal(ctx, eng, "claim", p.next, "approved"))
	run, err := chorus.Lookup(ctx, eng, p.wf, "claim")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, secretClaim+"/approved/joined", got)
	closeEngine(t, eng)
	requireNoPlaintext(t, path, secretClaim)

	// The start was written with k1, everything after the rotation with k2.
	st, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	events, err := st.Events(ctx, "claim", 0)
	require.NoError(t, err)
	keyOf := map[history.EventType]string{}
	for _, ev := range events {
		if len(ev.Payload) > 0 {
			id, ok := history.PayloadKeyID(ev.Payload)
			require.True(t, ok, "event %d (%v) is encrypted", ev.Seq, ev.Type)
			keyOf[ev.Type] = id
		}
	}
	require.Equal(t, "k1", keyOf[history.EventRunStarted])
	require.Equal(t, "k2", keyOf[history.EventSignalReceived])
	require.Equal(t, "k2", keyOf[history.EventRunCompleted])
}

// TestPayloadKeyMissingBlocksActivity: an activity left pending at Close
// does not run (nor fail) when its input cannot be decrypted after a
// restart: its run is blocked, and the activity runs once the key is back.
func TestPayloadKeyMissingBlocksActivity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	k1 := newTestKey(t)
	p := newPayloadWorkflow("enc-activity", true)
	path := filepath.Join(t.TempDir(), "chorus.db")
	keys := keyring(t, "k1", map[string][]byte{"k1": k1})

	eng := openEngine(t, path, encrypted(keys), p.wf, p.act)
	_, err := chorus.Start(ctx, eng, p.wf, secretClaim, &chorus.StartOptions{ID: "claim"})
	require.NoError(t, err)
	require.NoError(t, chorus.Signal(ctx, eng, "claim", p.next, "approved"))
	recv(t, p.started, "the activity's attempt")
	closeEngine(t, eng)
	close(p.block)

	eng = openEngine(t, path, nil, p.wf, p.act)
	run, err := chorus.Lookup(ctx, eng, p.wf, "claim")
	require.NoError(t, err)
	_, err = run.Result(ctx) // waits until the pending activity blocks the run
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
	requireBlockedForKey(t, eng, p.wf, "claim", "k1")
	closeEngine(t, eng)

	eng = openEngine(t, path, encrypted(keys), p.wf, p.act)
	run, err = chorus.Lookup(ctx, eng, p.wf, "claim")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, secretClaim+"/approved/joined", got)
}

// TestPayloadWrongKey: a key configured under the right ID but with other
// bytes gives a typed error, never garbage.
func TestPayloadWrongKey(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	p := newPayloadWorkflow("enc-wrong", false)
	path := filepath.Join(t.TempDir(), "chorus.db")
	eng := openEngine(t, path, encrypted(keyring(t, "k1", map[string][]byte{"k1": newTestKey(t)})), p.wf, p.act)
	_, err := chorus.Start(ctx, eng, p.wf, secretClaim, &chorus.StartOptions{ID: "claim"})
	require.NoError(t, err)
	closeEngine(t, eng)

	eng = openEngine(t, path, encrypted(keyring(t, "k1", map[string][]byte{"k1": newTestKey(t)})), p.wf, p.act)
	var be *chorus.BlockedError
	require.ErrorAs(t, chorus.Signal(ctx, eng, "claim", p.next, "approved"), &be)
	require.ErrorIs(t, be, codec.ErrWrongKey, "the live error keeps the codec's")
	requireBlockedForKey(t, eng, p.wf, "claim", "k1")
}

type errorsSeen struct {
	mu   sync.Mutex
	errs []error
}

func (o *errorsSeen) Observe(ctx context.Context, ev chorus.Event) context.Context {
	if ev.Err != nil {
		o.mu.Lock()
		o.errs = append(o.errs, ev.Err)
		o.mu.Unlock()
	}
	return ctx
}

// TestPayloadCodecKeepsErrorsOutOfObserver: with a PayloadCodec, the
// errors an Observer (and so a trace) sees carry the failure type, not
// the message, which the journal encrypts with the heartbeat details.
func TestPayloadCodecKeepsErrorsOutOfObserver(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	act := activity.New("enc-refuse", func(ctx context.Context, s string) (string, error) {
		activity.Heartbeat(ctx, "working on "+s)
		return "", activity.NonRetryable(errors.New("refused: " + s))
	})
	wf := workflow.New("enc-refuse", func(ctx workflow.Context, in string) (string, error) {
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	obs := &errorsSeen{}
	opts := encrypted(keyring(t, "k1", map[string][]byte{"k1": newTestKey(t)}))
	opts.Observer = obs
	eng, path := setup(t, opts, wf, act)
	run, err := chorus.Start(ctx, eng, wf, secretClaim, nil)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.ErrorContains(t, err, secretClaim, "the caller still gets the message")
	closeEngine(t, eng)
	requireNoPlaintext(t, path, secretClaim) // the failure and the heartbeat are encrypted too

	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.NotEmpty(t, obs.errs)
	for _, err := range obs.errs {
		require.NotContains(t, err.Error(), secretClaim)
		require.Contains(t, err.Error(), "withheld")
	}
}

// TestDecodePayloadOfDescribe: the memo values and heartbeat details that
// Describe hands out encrypted decode with the engine.
func TestDecodePayloadOfDescribe(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	release := make(chan struct{})
	beat := make(chan struct{}, 1)
	act := activity.New("enc-beat", func(ctx context.Context, s string) (string, error) {
		activity.Heartbeat(ctx, "progress of "+s)
		beat <- struct{}{}
		<-release
		return s, nil
	})
	wf := workflow.New("enc-memo", func(ctx workflow.Context, in string) (string, error) {
		if err := workflow.UpsertMemo(ctx, "patient", in); err != nil {
			return "", err
		}
		return workflow.ExecuteActivity(ctx, act, in).Get(ctx)
	})
	eng, _ := setup(t, encrypted(keyring(t, "k1", map[string][]byte{"k1": newTestKey(t)})), wf, act)
	run, err := chorus.Start(ctx, eng, wf, secretClaim, nil)
	require.NoError(t, err)
	recv(t, beat, "the heartbeat")
	info, err := eng.Describe(ctx, run.ID())
	require.NoError(t, err)
	close(release)

	require.True(t, history.FramedPayload(info.Memo["patient"]), "the memo value is encrypted")
	var patient string
	require.NoError(t, eng.DecodeMemo(info.Memo["patient"], &patient))
	require.Equal(t, secretClaim, patient)
	require.Len(t, info.PendingActivities, 1)
	hb := info.PendingActivities[0].HeartbeatDetails // the first beat is journaled before Heartbeat returns
	require.True(t, history.FramedPayload(hb), "the heartbeat details are encrypted")
	var details string
	require.NoError(t, eng.DecodePayload(hb, &details))
	require.Equal(t, "progress of "+secretClaim, details)
	_, err = run.Result(ctx)
	require.NoError(t, err)
}

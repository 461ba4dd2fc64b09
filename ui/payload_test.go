package ui_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/codec"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/ui"
	"github.com/chorusdev/chorus/workflow"
)

// TestEncryptedPayloads: the dashboard shows an encrypted payload as
// "<encrypted: key K>" unless it was given the PayloadCodec, and then only
// to the identities MayDecode allows.
func TestEncryptedPayloads(t *testing.T) {
	t.Parallel()
	const secret = "claim-of-jane-doe-0042"
	raw := make([]byte, codec.KeySize)
	_, err := rand.Read(raw)
	require.NoError(t, err)
	keys, err := codec.NewKeyring("k1", map[string][]byte{"k1": raw})
	require.NoError(t, err)
	pc := codec.Chain(codec.Zstd(), codec.AESGCM(keys))

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chorus.db")
	wf := workflow.New("enc-echo", func(ctx workflow.Context, in string) (string, error) { return in + "!", nil })
	eng, err := chorus.Open(ctx, path, &chorus.Options{PayloadCodec: pc, Definitions: []chorus.Definition{wf}})
	require.NoError(t, err)
	run, err := chorus.Start(ctx, eng, wf, secret, &chorus.StartOptions{ID: "claim"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, eng.Close(cctx))
	st, err := sqlite.OpenReadOnly(ctx, path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })

	auth := ui.AuthFunc(func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil })
	for _, c := range []struct {
		name   string
		opts   *ui.Options
		user   string
		decode bool
	}{
		{"no codec", &ui.Options{}, "", false},
		{"codec", &ui.Options{PayloadCodec: pc}, "", true},
		{"codec, allowed", &ui.Options{Auth: auth, PayloadCodec: pc, MayDecode: func(_ *http.Request, who string) bool { return who == "auditor" }}, "auditor", true},
		{"codec, not allowed", &ui.Options{Auth: auth, PayloadCodec: pc, MayDecode: func(_ *http.Request, who string) bool { return who == "auditor" }}, "clerk", false},
	} {
		h, err := ui.StoreHandler(st, c.opts)
		require.NoError(t, err)
		for _, r := range []req{
			{path: "/api/runs/claim"},
			{path: "/api/runs/claim/history"},
			{path: "/api/runs/claim/history?format=events"},
			{path: "/runs/claim", html: true},
		} {
			r.header = map[string]string{"X-User": c.user}
			w := do(t, h, r)
			require.Equal(t, http.StatusOK, w.Code, "%s %s: %s", c.name, r.path, w.Body.String())
			body := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", "&lt;", "<", "&gt;", ">").Replace(w.Body.String())
			if c.decode {
				require.Contains(t, body, secret, "%s %s", c.name, r.path)
				require.NotContains(t, body, "<encrypted", "%s %s", c.name, r.path)
			} else {
				require.NotContains(t, body, secret, "%s %s", c.name, r.path)
				require.Contains(t, body, "<encrypted: key k1>", "%s %s", c.name, r.path)
			}
		}
	}
}

package cli_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/codec"
	"github.com/chorusdev/chorus/workflow"
)

// TestEncryptedPayloads: runs show and history print an encrypted payload
// as "<encrypted: key K>" without the key, and decrypt it with --keys or
// $CHORUS_KEYS.
func TestEncryptedPayloads(t *testing.T) {
	const secret = "claim-of-jane-doe-0042"
	raw := make([]byte, codec.KeySize)
	_, err := rand.Read(raw)
	require.NoError(t, err)
	entry := "k1=" + base64.StdEncoding.EncodeToString(raw)
	keyFile := filepath.Join(t.TempDir(), "chorus.keys")
	require.NoError(t, os.WriteFile(keyFile, []byte("# test key\n"+entry+"\n"), 0o600))
	keys, err := codec.LoadKeyring(keyFile)
	require.NoError(t, err)

	path := filepath.Join(t.TempDir(), "chorus.db")
	wf := workflow.New("enc-echo", func(ctx workflow.Context, in string) (string, error) { return in + "!", nil })
	ctx := context.Background()
	eng, err := chorus.Open(ctx, path, &chorus.Options{
		PayloadCodec: codec.Chain(codec.Zstd(), codec.AESGCM(keys)), Definitions: []chorus.Definition{wf}})
	require.NoError(t, err)
	run, err := chorus.Start(ctx, eng, wf, secret, &chorus.StartOptions{ID: "claim"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, eng.Close(cctx))

	f := &fixture{path: path}
	for _, args := range [][]string{{"runs", "show", path, "claim"}, {"history", path, "claim"}, {"--json", "runs", "show", path, "claim"}} {
		name := strings.Join(args, " ")
		code, out := f.run(args...)
		out = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(out) // JSON output escapes them
		require.Equal(t, 0, code, "%s: %s", name, out)
		require.Contains(t, out, "<encrypted: key k1>", name)
		require.NotContains(t, out, secret, name)

		code, out = f.run(append([]string{"--keys", keyFile}, args...)...)
		require.Equal(t, 0, code, "%s: %s", name, out)
		require.Contains(t, out, secret+"!", name)
		require.NotContains(t, out, "<encrypted", name)
	}

	t.Setenv(codec.DefaultKeysEnv, entry)
	code, out := f.run("runs", "show", path, "claim")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, secret+"!")

	// A keyring that does not read is a usage error naming it, without
	// the key material.
	bad := filepath.Join(t.TempDir(), "bad.keys")
	require.NoError(t, os.WriteFile(bad, []byte("k1="+base64.StdEncoding.EncodeToString(raw[:16])+"\n"), 0o600))
	code, out = f.run("--keys", bad, "runs", "show", path, "claim")
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "has 16 bytes, want 32")
	require.NotContains(t, out, base64.StdEncoding.EncodeToString(raw[:16]))
}

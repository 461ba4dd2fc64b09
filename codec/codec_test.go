package codec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/codec"
	"github.com/chorusdev/chorus/history"
)

func key(t testing.TB) []byte {
	k := make([]byte, codec.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func ring(t testing.TB, current string, keys map[string][]byte) *codec.Keyring {
	k, err := codec.NewKeyring(current, keys)
	require.NoError(t, err)
	return k
}

var payloads = [][]byte{
	[]byte(`{"order":"A-1234","amount":1999,"currency":"EUR"}`),
	[]byte(`"x"`),
	{},
	bytes.Repeat([]byte(`{"claim":"medical review","notes":"lorem ipsum"}`), 500),
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	k1 := key(t)
	keys := ring(t, "k1", map[string][]byte{"k1": k1})
	for name, c := range map[string]codec.Codec{
		"zstd":      codec.Zstd(),
		"aes":       codec.AESGCM(keys),
		"zstd+aes":  codec.Chain(codec.Zstd(), codec.AESGCM(keys)),
		"aes+zstd":  codec.Chain(codec.AESGCM(keys), codec.Zstd()),
		"empty":     codec.Chain(),
		"with nils": codec.Chain(nil, codec.Zstd(), nil),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, p := range payloads {
				enc, err := c.Encode(p)
				require.NoError(t, err)
				switch {
				case name == "empty", (name == "zstd" || name == "with nils") && len(p) < codec.MinCompressSize:
					require.Equal(t, p, enc, "left as it is")
				default:
					require.True(t, history.FramedPayload(enc), "framed")
				}
				if len(p) > 3 && strings.Contains(name, "aes") {
					require.False(t, bytes.Contains(enc, p[:4]), "the plaintext does not show")
				}
				dec, err := c.Decode(enc)
				require.NoError(t, err)
				require.Equal(t, string(p), string(dec))
				// Data written before the codec was configured passes.
				dec, err = c.Decode(p)
				require.NoError(t, err)
				require.Equal(t, string(p), string(dec))
			}
		})
	}
	big := payloads[3]
	enc, err := codec.Zstd().Encode(big)
	require.NoError(t, err)
	require.Less(t, len(enc), len(big)/10, "repetitive JSON compresses")
}

// TestKeyRotation: new payloads use the current key; old ones stay
// readable while their key is configured, and give a typed error naming
// the key once it is not.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	k1, k2 := key(t), key(t)
	before := codec.Chain(codec.Zstd(), codec.AESGCM(ring(t, "k1", map[string][]byte{"k1": k1})))
	old, err := before.Encode(payloads[0])
	require.NoError(t, err)
	id, err := codec.KeyID(old)
	require.NoError(t, err)
	require.Equal(t, "k1", id)

	rotated := codec.Chain(codec.Zstd(), codec.AESGCM(ring(t, "k2", map[string][]byte{"k1": k1, "k2": k2})))
	fresh, err := rotated.Encode(payloads[0])
	require.NoError(t, err)
	id, _ = codec.KeyID(fresh)
	require.Equal(t, "k2", id)
	for _, p := range [][]byte{old, fresh} {
		dec, err := rotated.Decode(p)
		require.NoError(t, err)
		require.Equal(t, payloads[0], dec)
	}

	retired := codec.Chain(codec.Zstd(), codec.AESGCM(ring(t, "k2", map[string][]byte{"k2": k2})))
	_, err = retired.Decode(old)
	var ke *codec.KeyError
	require.ErrorAs(t, err, &ke)
	require.Equal(t, "k1", ke.KeyID)
	require.ErrorIs(t, err, codec.ErrUnknownKey)
	require.ErrorIs(t, err, history.ErrPayloadKey)
	require.Contains(t, err.Error(), `key "k1", which is not configured`)
}

func TestWrongKeyAndTampering(t *testing.T) {
	t.Parallel()
	c := codec.AESGCM(ring(t, "k1", map[string][]byte{"k1": key(t)}))
	enc, err := c.Encode(payloads[0])
	require.NoError(t, err)

	other := codec.AESGCM(ring(t, "k1", map[string][]byte{"k1": key(t)}))
	_, err = other.Decode(enc)
	require.ErrorIs(t, err, codec.ErrWrongKey)
	require.ErrorIs(t, err, history.ErrPayloadKey)

	flipped := bytes.Clone(enc)
	flipped[len(flipped)-1] ^= 1
	_, err = c.Decode(flipped)
	require.ErrorIs(t, err, codec.ErrWrongKey)

	// The key ID is authenticated: renaming it does not open with the
	// renamed key either.
	k := key(t)
	two := ring(t, "ka", map[string][]byte{"ka": k, "kb": k})
	enc, err = codec.AESGCM(two).Encode(payloads[0])
	require.NoError(t, err)
	enc[5] = 'b'
	_, err = codec.AESGCM(two).Decode(enc)
	require.ErrorIs(t, err, codec.ErrWrongKey)

	for _, short := range [][]byte{{0, 'a'}, {0, 'a', 1}, {0, 'a', 1, 5, 'k'}, {0, 'a', 1, 2, 'k', '1', 0}, {0, 'a', 9, 1, 'k'}} {
		_, err := c.Decode(short)
		require.Error(t, err, "%x", short)
	}
	_, err = codec.Zstd().Decode([]byte{0, 'z', 1, 0xff, 0xff})
	require.ErrorIs(t, err, codec.ErrCorruptPayload)
}

func TestNoCurrentKey(t *testing.T) {
	t.Parallel()
	_, err := codec.AESGCM(failingKeys{}).Encode([]byte(`1`))
	require.ErrorIs(t, err, codec.ErrNoCurrentKey)
	require.ErrorIs(t, err, history.ErrPayloadKey)
}

type failingKeys struct{}

func (failingKeys) CurrentKey() (string, []byte, error) {
	return "", nil, errors.New("kms unreachable")
}
func (failingKeys) Key(id string) ([]byte, error) { return nil, errors.New("kms unreachable") }

func TestKeyring(t *testing.T) {
	k1, k2 := key(t), key(t)
	text := "# keys\n\nk2=" + base64.StdEncoding.EncodeToString(k2) + "\n k1 = " + base64.StdEncoding.EncodeToString(k1) + "\n"
	kr, err := codec.ParseKeyring(text)
	require.NoError(t, err)
	id, got, err := kr.CurrentKey()
	require.NoError(t, err)
	require.Equal(t, "k2", id)
	require.Equal(t, k2, got)
	got, err = kr.Key("k1")
	require.NoError(t, err)
	require.Equal(t, k1, got)
	_, err = kr.Key("k3")
	require.ErrorIs(t, err, codec.ErrUnknownKey)

	t.Setenv("TEST_CHORUS_KEYS", strings.ReplaceAll(strings.TrimSpace(strings.SplitN(text, "\n\n", 2)[1]), "\n", ","))
	kr, err = codec.KeyringFromEnv("TEST_CHORUS_KEYS")
	require.NoError(t, err)
	require.Equal(t, "k2", kr.CurrentID())
	_, err = codec.KeyringFromEnv("TEST_CHORUS_UNSET")
	require.ErrorContains(t, err, "TEST_CHORUS_UNSET is not set")

	secret := base64.StdEncoding.EncodeToString(k1[:16])
	for in, want := range map[string]string{
		"":              "no keys",
		"k1":            "want ID=BASE64KEY",
		"k1=!!!":        "not standard base64",
		"k1=" + secret:  "has 16 bytes, want 32",
		"k 1=" + secret: "use letters",
		"k1=" + base64.StdEncoding.EncodeToString(k1) + ",k1=" + base64.StdEncoding.EncodeToString(k2): "listed twice",
	} {
		_, err := codec.ParseKeyring(in)
		require.ErrorContains(t, err, want, in)
		require.NotContains(t, err.Error(), secret, "errors never show key material")
	}

	entry, err := codec.NewKey("k9")
	require.NoError(t, err)
	kr, err = codec.ParseKeyring(entry)
	require.NoError(t, err)
	require.Equal(t, "k9", kr.CurrentID())
}

func BenchmarkEncode(b *testing.B) {
	keys := ring(b, "k1", map[string][]byte{"k1": key(b)})
	for name, c := range map[string]codec.Codec{
		"zstd": codec.Zstd(), "aes": codec.AESGCM(keys), "zstd+aes": codec.Chain(codec.Zstd(), codec.AESGCM(keys)),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Encode(payloads[0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	keys := ring(b, "k1", map[string][]byte{"k1": key(b)})
	for name, c := range map[string]codec.Codec{
		"zstd": codec.Zstd(), "aes": codec.AESGCM(keys), "zstd+aes": codec.Chain(codec.Zstd(), codec.AESGCM(keys)),
	} {
		b.Run(name, func(b *testing.B) {
			enc, err := c.Encode(payloads[0])
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

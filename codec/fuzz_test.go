package codec_test

import (
	"bytes"
	"testing"

	"github.com/chorusdev/chorus/codec"
	"github.com/chorusdev/chorus/history"
)

// FuzzDecode: no input makes the chain panic or return garbage: data
// without a frame passes unchanged, and an encrypted payload that opens
// came from an encode (AES-GCM authenticates). The seed corpus under
// testdata/fuzz/FuzzDecode holds each frame, whole and damaged.
func FuzzDecode(f *testing.F) {
	k := bytes.Repeat([]byte{7}, codec.KeySize)
	keys, err := codec.NewKeyring("k1", map[string][]byte{"k1": k})
	if err != nil {
		f.Fatal(err)
	}
	c := codec.Chain(codec.Zstd(), codec.AESGCM(keys))
	for _, p := range payloads[:3] {
		enc, err := c.Encode(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
		z, _ := codec.Zstd().Encode(p)
		f.Add(z)
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := c.Decode(data)
		if err != nil {
			return
		}
		if !history.FramedPayload(data) && !bytes.Equal(out, data) {
			t.Fatalf("data without a frame changed in Decode")
		}
		if codec.Encrypted(data) {
			// It opened: re-encoding and decoding gives the same bytes.
			enc, err := c.Encode(out)
			if err != nil {
				t.Fatal(err)
			}
			back, err := c.Decode(enc)
			if err != nil || !bytes.Equal(back, out) {
				t.Fatalf("round trip of a decoded payload: %v", err)
			}
		}
	})
}

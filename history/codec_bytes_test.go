package history_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// TestJSONCodecBytes checks that decoding into a []byte, which takes a
// shortcut for the base64 strings encoding/json writes, gives exactly what
// json.Unmarshal gives, errors included.
func TestJSONCodecBytes(t *testing.T) {
	t.Parallel()
	var c history.JSONCodec
	enc := func(b []byte) string {
		out, err := c.Marshal(b)
		require.NoError(t, err)
		return string(out)
	}
	for _, in := range []string{
		enc(nil), enc([]byte{}), enc([]byte("a")), enc([]byte("ab")), enc([]byte("abc")),
		enc(bytes.Repeat([]byte{0xff, 0, 'p'}, 400)),
		`""`, `null`, ` "YQ=="`, `"YQ==" `, `"Y\u0051=="`, `"YQ"`, `"Y Q=="`, `"YQ=\n="`, `"Y*=="`, `"YQ==="`,
		`"`, `"YQ==`, `1`, `[1]`, `{}`, ``, `"YQ==""`,
	} {
		var want []byte
		wantErr := json.Unmarshal([]byte(in), &want)
		got := []byte("previous")
		err := c.Unmarshal([]byte(in), &got)
		if wantErr != nil {
			require.Error(t, err, "%q", in)
			continue
		}
		require.NoError(t, err, "%q", in)
		require.Equal(t, want, got, "%q", in)
		require.Equal(t, want == nil, got == nil, "%q: nil-ness", in)
	}
}

// BenchmarkJSONCodecBytes decodes a 1 KiB []byte payload, the path every
// activity input and result of that size takes.
func BenchmarkJSONCodecBytes(b *testing.B) {
	var c history.JSONCodec
	data, err := c.Marshal(bytes.Repeat([]byte("p"), 1024))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var out []byte
		if err := c.Unmarshal(data, &out); err != nil {
			b.Fatal(err)
		}
	}
}

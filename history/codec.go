package history

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Codec encodes the payloads stored in the journal: workflow and activity
// inputs and results. Wrap one to add compression or encryption. A Codec
// must be deterministic for a given value and safe for concurrent use.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec encodes payloads with encoding/json. It is the default.
type JSONCodec struct{}

// Marshal encodes v as JSON.
func (JSONCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("json encode %T: %w", v, err)
	}
	return b, nil
}

// Unmarshal decodes JSON data into v.
func (JSONCodec) Unmarshal(data []byte, v any) error {
	if p, ok := v.(*[]byte); ok {
		if b, ok := decodeBase64String(data); ok {
			*p = b
			return nil
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("json decode into %T: %w", v, err)
	}
	return nil
}

// decodeBase64String decodes data when it is a JSON string of standard
// base64 and nothing else (no escapes, no spaces), as encoding/json encodes
// a []byte, into what json.Unmarshal would store in a []byte. Anything else
// reports false and is left to json.Unmarshal, which would validate the
// whole document and unquote the string before decoding it: for a
// kilobyte payload, most of the cost of reading it.
func decodeBase64String(data []byte) ([]byte, bool) {
	n := len(data)
	if n < 2 || data[0] != '"' || data[n-1] != '"' {
		return nil, false
	}
	s := data[1 : n-1]
	// The decoder refuses every byte outside the alphabet but skips line
	// breaks, which a JSON string cannot hold raw.
	if bytes.IndexByte(s, '\n') >= 0 || bytes.IndexByte(s, '\r') >= 0 {
		return nil, false
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	m, err := base64.StdEncoding.Decode(b, s)
	if err != nil {
		return nil, false
	}
	return b[:m], true
}

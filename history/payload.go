package history

import (
	"errors"
	"fmt"
)

// ErrPayloadKey is wrapped by the error of a [PayloadCodec] that cannot
// decode a payload because the key it was encrypted with is not configured
// (or a key of that ID is, but it is not the right one). The payload is
// intact; it is unreadable here. The engine blocks a run whose payload
// fails so, rather than fail it, and the run resumes once the key is
// configured again.
var ErrPayloadKey = errors.New("chorus: payload key unavailable")

// PayloadCodec transforms the bytes of every payload the engine journals
// (inputs, results, signals, update arguments and results, failures,
// heartbeat details, recorded values and memo values; not search attribute
// values, which stores index) after the [Codec] encoded them,
// and back before the Codec decodes them: compression and encryption
// belong here. The package chorus/codec has zstd compression, AES-256-GCM
// with key rotation, and a chain of both.
//
// Encode must return bytes whose first byte is 0x00, so that a payload
// written before the PayloadCodec was configured (JSON, which never starts
// with it) is told from one it encoded, or data itself, unchanged (a
// compressor may leave a small payload as it is); Decode must return
// payloads it did not encode unchanged. A Decode that fails for want of a key returns an
// error wrapping [ErrPayloadKey]. Both must be safe for concurrent use.
type PayloadCodec interface {
	Encode(data []byte) ([]byte, error)
	Decode(data []byte) ([]byte, error)
}

// FramedPayload reports whether data was encoded by a [PayloadCodec] (its
// first byte is 0x00).
func FramedPayload(data []byte) bool { return len(data) > 0 && data[0] == 0 }

// PayloadKeyID returns the ID of the key a payload was encrypted with by
// the AES-GCM codec of chorus/codec, whose frame starts 0x00 'a' 0x01,
// the length of the key ID in one byte and the key ID; ok is false for
// any other data. Tools use it to show "encrypted with key K" without
// the key.
func PayloadKeyID(data []byte) (id string, ok bool) {
	if len(data) < 5 || data[0] != 0 || data[1] != 'a' || data[2] != 1 {
		return "", false
	}
	n := int(data[3])
	if n == 0 || len(data) < 4+n {
		return "", false
	}
	return string(data[4 : 4+n]), true
}

// WithPayloadCodec returns a Codec that encodes with c and then pc, and
// decodes with pc and then c. With a nil pc it returns a Codec that
// decodes as c does, but reports a payload that a PayloadCodec encoded
// with an error wrapping [ErrPayloadKey] rather than as bytes c cannot
// read (when c is [JSONCodec], whose output never starts with 0x00).
func WithPayloadCodec(c Codec, pc PayloadCodec) Codec {
	if c == nil {
		c = JSONCodec{}
	}
	if pc == nil {
		if _, ok := c.(JSONCodec); !ok {
			return c
		}
	}
	return payloadCodec{c: c, pc: pc}
}

type payloadCodec struct {
	c  Codec
	pc PayloadCodec
}

func (p payloadCodec) Marshal(v any) ([]byte, error) {
	b, err := p.c.Marshal(v)
	if err != nil || p.pc == nil {
		return b, err
	}
	out, err := p.pc.Encode(b)
	if err != nil {
		return nil, fmt.Errorf("payload codec: encode %T: %w", v, err)
	}
	return out, nil
}

func (p payloadCodec) Unmarshal(data []byte, v any) error {
	if p.pc == nil {
		if FramedPayload(data) {
			if id, ok := PayloadKeyID(data); ok {
				return fmt.Errorf("%w: the payload is encrypted with key %q, and no payload codec is configured", ErrPayloadKey, id)
			}
			return fmt.Errorf("%w: the payload was encoded (compressed or encrypted) by a payload codec, and none is configured", ErrPayloadKey)
		}
		return p.c.Unmarshal(data, v)
	}
	b, err := p.pc.Decode(data)
	if err != nil {
		return fmt.Errorf("payload codec: decode into %T: %w", v, err)
	}
	return p.c.Unmarshal(b, v)
}

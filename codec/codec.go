package codec

import (
	"errors"
	"fmt"

	"github.com/chorusdev/chorus/history"
)

// Codec transforms the bytes of a payload. Encode's output starts with
// 0x00, unless it returns data unchanged (as Zstd does for small
// payloads); Decode returns data that no codec of this kind framed
// unchanged.
// Implementations are safe for concurrent use. Every Codec is a
// history.PayloadCodec, and so a chorus.Options.PayloadCodec.
type Codec interface {
	Encode(data []byte) ([]byte, error)
	Decode(data []byte) ([]byte, error)
}

var _ history.PayloadCodec = Codec(nil)

// ErrCorruptPayload is wrapped by the error of a Decode whose data has a
// codec's frame but cannot be read (truncated, or not what the frame says).
var ErrCorruptPayload = errors.New("codec: corrupt payload")

// frame bytes.
const (
	frameMark  = 0x00
	tagZstd    = 'z'
	tagAESGCM  = 'a'
	version1   = 0x01
	headerSize = 3
)

// framed reports whether data carries the frame of tag.
func framed(data []byte, tag byte) bool {
	return len(data) >= 2 && data[0] == frameMark && data[1] == tag
}

// Chain returns a Codec that encodes with each codec in order and decodes in
// the reverse order: Chain(Zstd(), AESGCM(keys)) compresses, then
// encrypts. Nil codecs are skipped.
func Chain(codecs ...Codec) Codec {
	var cs chain
	for _, c := range codecs {
		if c != nil {
			cs = append(cs, c)
		}
	}
	return cs
}

type chain []Codec

func (cs chain) Encode(data []byte) ([]byte, error) {
	var err error
	for _, c := range cs {
		if data, err = c.Encode(data); err != nil {
			return nil, err
		}
	}
	return data, nil
}

func (cs chain) Decode(data []byte) ([]byte, error) {
	var err error
	for i := len(cs) - 1; i >= 0; i-- {
		if data, err = cs[i].Decode(data); err != nil {
			return nil, err
		}
	}
	return data, nil
}

func corrupt(what string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptPayload, fmt.Sprintf(what, args...))
}

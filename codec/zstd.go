package codec

import (
	"sync"

	"github.com/klauspost/compress/zstd"
)

// MaxDecodedSize bounds what Zstd's Decode expands a payload to, so that a
// damaged or hostile payload cannot exhaust memory.
const MaxDecodedSize = 256 << 20

// MinCompressSize is the size under which Zstd leaves a payload as it is:
// a zstd frame's own overhead outweighs what so little data could save,
// and compressing it costs CPU on every step.
const MinCompressSize = 128

// Zstd returns a Codec that compresses payloads with zstd (at its default
// level). Its frame is 0x00 'z' 0x01 and the zstd data. Payloads smaller
// than [MinCompressSize] are left unframed, as they came (in a Chain
// with AESGCM they are still encrypted).
func Zstd() Codec { return zstdCodec{} }

type zstdCodec struct{}

// The encoder and decoder are safe for concurrent EncodeAll and DecodeAll,
// and costly to build: one of each per process.
var (
	zstdEnc = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic("codec: zstd encoder with constant options: " + err.Error())
		}
		return e
	})
	zstdDec = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxDecodedSize))
		if err != nil {
			panic("codec: zstd decoder with constant options: " + err.Error())
		}
		return d
	})
)

func (zstdCodec) Encode(data []byte) ([]byte, error) {
	if len(data) < MinCompressSize && !framed(data, tagZstd) {
		return data, nil
	}
	out := make([]byte, headerSize, headerSize+len(data)/2+16)
	out[0], out[1], out[2] = frameMark, tagZstd, version1
	return zstdEnc().EncodeAll(data, out), nil
}

func (zstdCodec) Decode(data []byte) ([]byte, error) {
	if !framed(data, tagZstd) {
		return data, nil
	}
	if len(data) < headerSize || data[2] != version1 {
		return nil, corrupt("zstd frame of version %v", data[2:min(len(data), 3)])
	}
	out, err := zstdDec().DecodeAll(data[headerSize:], nil)
	if err != nil {
		return nil, corrupt("zstd: %v", err)
	}
	return out, nil
}

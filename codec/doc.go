// Package codec compresses and encrypts the payloads Chorus journals.
//
// A [Codec] transforms payload bytes; [Chain] composes codecs in order
// (encode runs them first to last, decode last to first). Pass the result as
// chorus.Options.PayloadCodec:
//
//	keys, err := codec.LoadKeyring("/etc/app/chorus.keys")
//	...
//	opts := &chorus.Options{PayloadCodec: codec.Chain(codec.Zstd(), codec.AESGCM(keys))}
//
// # Keys and rotation
//
// [AESGCM] encrypts each payload with AES-256-GCM under the current key of
// its [KeyProvider] and writes the key's ID into the payload. Decoding looks
// the key up by that ID, so keys rotate by adding a new key as the current
// one and keeping the old ones configured for as long as payloads written
// with them must stay readable. [Keyring] is a KeyProvider read from a file
// or an environment variable; an application with a KMS implements
// KeyProvider itself.
//
// A payload whose key is not configured, or whose key ID names another key
// than the one it was encrypted with, gives a [*KeyError] wrapping
// [ErrUnknownKey] or [ErrWrongKey], and history.ErrPayloadKey, never
// garbage: the engine then blocks the run (it does not fail it), and the run
// resumes once the key is configured again.
//
// # Encoding
//
// Each codec frames its output: a 0x00 byte (which JSON never starts with),
// a tag byte ('z' for zstd, 'a' for AES-GCM) and a version byte. Decode
// passes data without its frame through unchanged, so a file journaled
// before a codec was configured stays readable. The AES-GCM frame is
//
//	0x00 'a' 0x01 len(keyID) u8, keyID, nonce (12 bytes), sealed payload
//
// and its first 4+len(keyID) bytes are the additional authenticated data,
// so the key ID cannot be changed without the payload failing to open.
//
// This package depends on github.com/klauspost/compress; the chorus package
// does not, so only programs that import codec carry it.
package codec

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
// # What the engine does with it
//
// With chorus.Options.PayloadCodec set, every payload the engine journals
// passes through the codec: workflow and activity inputs and results,
// signals, update arguments and results, failures (message and details),
// heartbeat details, side-effect and other recorded values, and memo
// values. What stays in the clear: names (of workflows, activities,
// signals, attributes), run IDs, timestamps, search attribute values
// (the store indexes them), the header of context propagators, and the
// reason a run is blocked for want of a key (it names the step and the
// key). Keep personal data out of those.
//
// A run whose journal holds a payload the codec cannot decode for want of
// its key is blocked, not failed (its error matches chorus.ErrPayloadKey
// and names the key); opening the engine again with the key resumes it.
// An activity whose input cannot be decrypted does not run: it blocks its
// run and runs once the key is back.
//
// # Reading encrypted journals
//
// The chorus command's runs show, history and serve print an encrypted
// payload as <encrypted: key K> unless given the keys with --keys FILE or
// the CHORUS_KEYS environment variable ([DefaultKeysEnv]), in the text
// form of a [Keyring]. The dashboard (package ui) does the same unless
// its Options.PayloadCodec is set, and then decodes for the identities
// its Options.MayDecode allows.
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

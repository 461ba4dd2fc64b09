package codec

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/chorusdev/chorus/history"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

// ErrUnknownKey is wrapped by the [*KeyError] of a payload whose key ID the
// KeyProvider does not have.
var ErrUnknownKey = errors.New("codec: unknown key")

// ErrWrongKey is wrapped by the [*KeyError] of a payload that does not
// open with the key its ID names: another key was configured under that
// ID, or the payload was changed.
var ErrWrongKey = errors.New("codec: wrong key")

// ErrNoCurrentKey is wrapped by the [*KeyError] of an Encode when the
// KeyProvider has no current key.
var ErrNoCurrentKey = errors.New("codec: no current key")

// KeyError reports a payload that cannot be decrypted (or encrypted) for
// want of the right key. It wraps one of ErrUnknownKey, ErrWrongKey or
// ErrNoCurrentKey, and history.ErrPayloadKey, so the engine blocks the run
// concerned rather than fail it. It never holds key material or payload
// contents.
type KeyError struct {
	// KeyID is the ID of the key the payload names (empty for
	// ErrNoCurrentKey).
	KeyID string
	// Err is ErrUnknownKey, ErrWrongKey or ErrNoCurrentKey.
	Err error
}

func (e *KeyError) Error() string {
	switch {
	case errors.Is(e.Err, ErrUnknownKey):
		return fmt.Sprintf("codec: the payload is encrypted with key %q, which is not configured", e.KeyID)
	case errors.Is(e.Err, ErrWrongKey):
		return fmt.Sprintf("codec: the payload does not open with the key configured as %q (another key under that ID, or a changed payload)", e.KeyID)
	default:
		return "codec: " + e.Err.Error()
	}
}

// Unwrap returns Err and history.ErrPayloadKey.
func (e *KeyError) Unwrap() []error { return []error{e.Err, history.ErrPayloadKey} }

// KeyProvider gives the keys of [AESGCM]. Implementations are safe for
// concurrent use; an application with a key management service implements
// it over its client (caching keys: it is called for every payload).
type KeyProvider interface {
	// CurrentKey returns the ID and the 32 bytes of the key new payloads
	// are encrypted with.
	CurrentKey() (id string, key []byte, err error)
	// Key returns the key of the ID; an unknown ID gives an error wrapping
	// ErrUnknownKey.
	Key(id string) ([]byte, error)
}

// AESGCM returns a Codec that encrypts payloads with AES-256-GCM under the
// current key of keys, writing the key's ID into each payload, and decrypts
// them with the key of that ID (see the package documentation for the
// frame). Payloads without its frame (written before encryption was
// configured) decode unchanged.
func AESGCM(keys KeyProvider) Codec { return &aesCodec{keys: keys} }

type aesCodec struct {
	keys KeyProvider
	// aeads caches, by key ID, the AES-GCM of the key last seen under the
	// ID: building one costs more than sealing a small payload. Each
	// entry pools its AEADs, since crypto/cipher does not promise that
	// one is safe for concurrent use.
	aeads sync.Map // string -> *aeadPool
}

type aeadPool struct {
	key  []byte
	pool sync.Pool // of cipher.AEAD
}

// aead returns an AES-GCM of key (the key of id) and the function that
// gives it back.
func (c *aesCodec) aead(id string, key []byte) (cipher.AEAD, func(), error) {
	p, _ := c.aeads.Load(id)
	ap, _ := p.(*aeadPool)
	if ap == nil || !bytes.Equal(ap.key, key) {
		// First use of the ID, or other bytes under it: a new pool.
		if _, err := newGCM(key); err != nil {
			return nil, nil, err
		}
		ap = &aeadPool{key: bytes.Clone(key)}
		ap.pool.New = func() any { g, _ := newGCM(ap.key); return g }
		c.aeads.Store(id, ap)
	}
	g := ap.pool.Get().(cipher.AEAD)
	return g, func() { ap.pool.Put(g) }, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("codec: AES-256 key of %d bytes, want %d", len(key), KeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func (c *aesCodec) Encode(data []byte) ([]byte, error) {
	id, key, err := c.keys.CurrentKey()
	if err != nil {
		return nil, &KeyError{Err: fmt.Errorf("%w: %v", ErrNoCurrentKey, err)}
	}
	if len(id) == 0 || len(id) > 255 {
		return nil, fmt.Errorf("codec: key ID %q: want 1 to 255 bytes", id)
	}
	gcm, done, err := c.aead(id, key)
	if err != nil {
		return nil, fmt.Errorf("codec: key %q: %w", id, err)
	}
	defer done()
	hdr := headerSize + 1 + len(id)
	out := make([]byte, hdr+gcm.NonceSize(), hdr+gcm.NonceSize()+len(data)+gcm.Overhead())
	out[0], out[1], out[2], out[3] = frameMark, tagAESGCM, version1, byte(len(id))
	copy(out[4:], id)
	nonce := out[hdr:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("codec: nonce: %w", err)
	}
	return gcm.Seal(out, nonce, data, out[:hdr]), nil
}

func (c *aesCodec) Decode(data []byte) ([]byte, error) {
	if !framed(data, tagAESGCM) {
		return data, nil
	}
	id, err := KeyID(data)
	if err != nil {
		return nil, err
	}
	hdr := headerSize + 1 + len(id)
	key, err := c.keys.Key(id)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return nil, &KeyError{KeyID: id, Err: ErrUnknownKey}
		}
		return nil, fmt.Errorf("codec: key %q: %w", id, err)
	}
	gcm, done, err := c.aead(id, key)
	if err != nil {
		return nil, fmt.Errorf("codec: key %q: %w", id, err)
	}
	defer done()
	if len(data) < hdr+gcm.NonceSize()+gcm.Overhead() {
		return nil, corrupt("AES-GCM payload of %d bytes is too short", len(data))
	}
	nonce := data[hdr : hdr+gcm.NonceSize()]
	out, err := gcm.Open(nil, nonce, data[hdr+gcm.NonceSize():], data[:hdr])
	if err != nil {
		return nil, &KeyError{KeyID: id, Err: ErrWrongKey}
	}
	return out, nil
}

// KeyID returns the ID of the key an AES-GCM payload was encrypted with,
// without decrypting it; tools use it to say "encrypted (key k1)". Data
// that is not an AES-GCM payload gives an error wrapping ErrCorruptPayload.
// Within a Chain, pass the payload as stored: AES-GCM is the last codec.
func KeyID(data []byte) (string, error) {
	if !framed(data, tagAESGCM) {
		return "", corrupt("not an AES-GCM payload")
	}
	if len(data) < headerSize+1 || data[2] != version1 {
		return "", corrupt("AES-GCM frame truncated or of an unknown version")
	}
	n := int(data[3])
	if n == 0 || len(data) < headerSize+1+n {
		return "", corrupt("AES-GCM frame with a truncated key ID")
	}
	return string(data[4 : 4+n]), nil
}

// Encrypted reports whether data is an AES-GCM payload.
func Encrypted(data []byte) bool { return framed(data, tagAESGCM) }

var randRead = rand.Read

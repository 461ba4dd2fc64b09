package codec

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// DefaultKeysEnv is the environment variable [KeyringFromEnv] and the chorus
// command read keys from.
const DefaultKeysEnv = "CHORUS_KEYS"

// Keyring is a [KeyProvider] holding keys in memory: the first key is the
// current one, the others stay for decoding. It is read-only once built and
// safe for concurrent use.
//
// Its text form, read by [ParseKeyring], [LoadKeyring] and
// [KeyringFromEnv], lists entries ID=KEY separated by newlines or commas,
// where KEY is the 32-byte key in standard base64; blank lines and lines
// starting with # are ignored. The first entry is the current key:
//
//	# rotated 2026-11-01: k2 encrypts, k1 still decrypts
//	k2=K34VFiiu0qar9xWICc9PPHYucWDzi02lani0nUUZDP4=
//	k1=...
//
// [NewKey] makes a key in this form.
type Keyring struct {
	current string
	keys    map[string][]byte
}

var _ KeyProvider = (*Keyring)(nil)

// NewKeyring returns a keyring whose current key is current; keys maps IDs
// to 32-byte keys and must hold current.
func NewKeyring(current string, keys map[string][]byte) (*Keyring, error) {
	k := &Keyring{current: current, keys: make(map[string][]byte, len(keys))}
	for id, key := range keys {
		if err := checkKey(id, key); err != nil {
			return nil, err
		}
		k.keys[id] = append([]byte(nil), key...)
	}
	if _, ok := k.keys[current]; !ok {
		return nil, fmt.Errorf("codec: keyring: the current key %q is not among the keys", current)
	}
	return k, nil
}

func checkKey(id string, key []byte) error {
	if id == "" || len(id) > 255 {
		return fmt.Errorf("codec: keyring: key ID %q: want 1 to 255 bytes", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("codec: keyring: key ID %q: use letters, digits, '-', '_' and '.'", id)
		}
	}
	if len(key) != KeySize {
		return fmt.Errorf("codec: keyring: key %q has %d bytes, want %d (AES-256)", id, len(key), KeySize)
	}
	return nil
}

// ParseKeyring reads a keyring from its text form (see [Keyring]). Errors
// name the entry but never show key material.
func ParseKeyring(text string) (*Keyring, error) {
	k := &Keyring{keys: map[string][]byte{}}
	n := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, ent := range strings.Split(line, ",") {
			ent = strings.TrimSpace(ent)
			if ent == "" {
				continue
			}
			n++
			id, b64, ok := strings.Cut(ent, "=")
			id = strings.TrimSpace(id)
			if !ok {
				return nil, fmt.Errorf("codec: keyring: entry %d: want ID=BASE64KEY", n)
			}
			key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
			if err != nil {
				return nil, fmt.Errorf("codec: keyring: key %q: not standard base64", id)
			}
			if err := checkKey(id, key); err != nil {
				return nil, err
			}
			if _, dup := k.keys[id]; dup {
				return nil, fmt.Errorf("codec: keyring: key %q is listed twice", id)
			}
			if k.current == "" {
				k.current = id
			}
			k.keys[id] = key
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("codec: keyring: no keys")
	}
	return k, nil
}

// LoadKeyring reads a keyring from a file in its text form.
func LoadKeyring(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("codec: keyring: %w", err)
	}
	k, err := ParseKeyring(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// KeyringFromEnv reads a keyring from the environment variable name (the
// text form, entries separated by commas); an unset or empty variable is
// an error naming it.
func KeyringFromEnv(name string) (*Keyring, error) {
	v := os.Getenv(name)
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("codec: keyring: environment variable %s is not set", name)
	}
	k, err := ParseKeyring(v)
	if err != nil {
		return nil, fmt.Errorf("%w (in $%s)", err, name)
	}
	return k, nil
}

// CurrentKey returns the current key.
func (k *Keyring) CurrentKey() (string, []byte, error) {
	return k.current, k.keys[k.current], nil
}

// Key returns the key of id, or an error wrapping ErrUnknownKey.
func (k *Keyring) Key(id string) ([]byte, error) {
	if key, ok := k.keys[id]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, id)
}

// CurrentID returns the ID of the current key.
func (k *Keyring) CurrentID() string { return k.current }

// NewKey returns an entry of a new random key with the ID id, in the text
// form of a Keyring.
func NewKey(id string) (string, error) {
	key := make([]byte, KeySize)
	if _, err := randRead(key); err != nil {
		return "", err
	}
	if err := checkKey(id, key); err != nil {
		return "", err
	}
	return id + "=" + base64.StdEncoding.EncodeToString(key), nil
}

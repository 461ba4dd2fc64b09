package history

import (
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
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("json decode into %T: %w", v, err)
	}
	return nil
}

package inspect

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/chorusdev/chorus/history"
)

// JSONTime is a time for JSON output: RFC 3339 in UTC, to the nanosecond,
// empty when zero.
func JSONTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Payload turns an encoded payload into JSON: itself when it is valid JSON
// (the default codec), the placeholder of a payload a payload codec encoded
// (see [DecodePayload]), else a JSON string holding a Go-quoted form of it.
func Payload(p []byte) json.RawMessage {
	if len(p) == 0 {
		return nil
	}
	if history.FramedPayload(p) {
		// Encoded by a payload codec, and not decoded (DecodePayload):
		// its bytes say nothing, and may be ciphertext.
		return placeholder(p)
	}
	if json.Valid(p) {
		return json.RawMessage(p)
	}
	b, _ := json.Marshal(fmt.Sprintf("%q", p))
	return b
}

// Failure is a decoded [history.Failure] for output.
type Failure struct {
	Message string          `json:"message"`
	Type    string          `json:"type,omitempty"`
	Attempt int             `json:"attempt,omitempty"`
	Details json.RawMessage `json:"details,omitempty"`
	Cause   *Failure        `json:"cause,omitempty"`
}

// DecodeFailure decodes an encoded [history.Failure]; nil for none. A
// payload that does not decode gives a Failure saying so.
func DecodeFailure(p []byte) *Failure {
	if len(p) == 0 {
		return nil
	}
	if history.FramedPayload(p) {
		p = placeholder(p)
	}
	var msg string
	if json.Unmarshal(p, &msg) == nil {
		// A placeholder (see DecodePayload).
		return &Failure{Message: msg}
	}
	var f history.Failure
	if err := json.Unmarshal(p, &f); err != nil {
		return &Failure{Message: fmt.Sprintf("(undecodable failure %q)", p)}
	}
	return FromFailure(&f)
}

// FromFailure converts f, and its causes; nil for nil.
func FromFailure(f *history.Failure) *Failure {
	if f == nil {
		return nil
	}
	return &Failure{Message: f.Message, Type: f.Type, Attempt: f.Attempt, Details: Payload(f.Details), Cause: FromFailure(f.Cause)}
}

// String is the failure on one line: type, message and causes.
// DisplayType is the failure's type as a page shows it before the message:
// empty when the message already starts with it, or when it is only the Go
// type of a plain error (errors.New, fmt.Errorf), which says nothing.
func (f *Failure) DisplayType() string {
	switch {
	case f == nil || f.Type == "" || strings.HasPrefix(f.Message, f.Type+":"):
		return ""
	case f.Type == "*errors.errorString" || f.Type == "*fmt.wrapError" || f.Type == "*fmt.wrapErrors" || f.Type == "*errors.joinError":
		return ""
	}
	return f.Type
}

func (f *Failure) String() string {
	if f == nil {
		return ""
	}
	s := f.Message
	if f.Type != "" && !strings.HasPrefix(s, f.Type+":") {
		s = f.Type + ": " + s
	}
	if f.Cause != nil && !strings.Contains(s, f.Cause.Message) {
		s += " (cause: " + f.Cause.String() + ")"
	}
	return s
}

// Printable shows an update's event name ("name\x00id") as "name/id".
func Printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 0 {
			b[i] = '/'
		}
	}
	return string(b)
}

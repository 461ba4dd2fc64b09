package events

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Def is a [Definition] of any payload type, as [AsyncAPI], [Relay] and
// [Store.Declare] take it.
type Def interface {
	// Topic is the broker topic (NATS subject, Kafka topic, AMQP routing
	// key) the event is published to.
	Topic() string
	// Type is the CloudEvents type of the event.
	Type() string
	// Source is the CloudEvents source of the event, or "" for the
	// relay's default.
	Source() string
	// Summary says what the event means, for the AsyncAPI document.
	Summary() string
	// Schema is the JSON Schema of the payload.
	Schema() map[string]any
}

// DefineOptions configures [Define]. A nil *DefineOptions means every
// default.
type DefineOptions struct {
	// Source is the CloudEvents source of the event, a URI reference that
	// names the service that publishes it. Defaults to the relay's
	// [RelayOptions.Source].
	Source string
	// Summary says in one sentence what the event means. Defaults to "".
	Summary string
}

// Definition is an event type: where it is published, its CloudEvents
// type, and the Go type of its payload, which is encoded as JSON.
type Definition[T any] struct {
	topic, typ, source, summary string
}

// ErrInvalidDefinition is returned (wrapped) by [Define] for a topic or
// type that cannot be used.
var ErrInvalidDefinition = errors.New("events: invalid definition")

// Define returns the definition of an event of payload type T published
// to topic with CloudEvents type eventType. A topic is made of letters,
// digits and the characters ".-_"; a type must not be empty. Define panics
// on an invalid definition, which is a programming error, like
// regexp.MustCompile; [NewDefinition] returns the error instead.
func Define[T any](topic, eventType string, opts *DefineOptions) *Definition[T] {
	d, err := NewDefinition[T](topic, eventType, opts)
	if err != nil {
		panic(err)
	}
	return d
}

// NewDefinition is [Define] returning an error wrapping
// [ErrInvalidDefinition] instead of panicking.
func NewDefinition[T any](topic, eventType string, opts *DefineOptions) (*Definition[T], error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	if strings.TrimSpace(eventType) == "" {
		return nil, fmt.Errorf("%w: event type of topic %q is empty", ErrInvalidDefinition, topic)
	}
	var o DefineOptions
	if opts != nil {
		o = *opts
	}
	return &Definition[T]{topic: topic, typ: eventType, source: o.Source, summary: o.Summary}, nil
}

func checkTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: topic is empty", ErrInvalidDefinition)
	}
	for _, r := range topic {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
		if !ok {
			return fmt.Errorf("%w: topic %q holds %q; use letters, digits and .-_", ErrInvalidDefinition, topic, r)
		}
	}
	if strings.HasPrefix(topic, ".") || strings.HasSuffix(topic, ".") || strings.Contains(topic, "..") {
		return fmt.Errorf("%w: topic %q has an empty dot-separated part", ErrInvalidDefinition, topic)
	}
	return nil
}

// Topic returns the topic the event is published to.
func (d *Definition[T]) Topic() string { return d.topic }

// Type returns the CloudEvents type of the event.
func (d *Definition[T]) Type() string { return d.typ }

// Source returns the CloudEvents source of the event, or "" for the
// relay's default.
func (d *Definition[T]) Source() string { return d.source }

// Summary returns what the event means.
func (d *Definition[T]) Summary() string { return d.summary }

// Schema returns the JSON Schema of the payload type T.
func (d *Definition[T]) Schema() map[string]any {
	return schemaOf(reflect.TypeFor[T](), map[reflect.Type]bool{})
}

var _ Def = (*Definition[struct{}])(nil)

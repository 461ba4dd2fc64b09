package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
)

// DefaultSource is the CloudEvents source of events whose definition and
// relay name none.
const DefaultSource = "chorus"

// Message is an event as it travels through a broker: a CloudEvents 1.0
// structured-mode JSON document, with the topic and key the broker routes
// it by.
type Message struct {
	// Topic is the broker topic (NATS subject, Kafka topic, AMQP routing
	// key).
	Topic string
	// Key orders and partitions events.
	Key string
	// ID is the CloudEvents id; brokers that deduplicate on publish are
	// given it.
	ID string
	// Body is the CloudEvents structured-mode JSON encoding of the event.
	Body []byte
}

// ContentType is the content type of a [Message] body.
const ContentType = "application/cloudevents+json"

// Publisher delivers messages to a broker. Publish returns nil only once
// the broker has durably accepted the message; the relay sends it again
// after any error.
type Publisher interface {
	Publish(ctx context.Context, m *Message) error
}

// Handler processes one message a broker delivered: nil acknowledges it,
// an error asks for it again.
type Handler func(ctx context.Context, m *Message) error

// Subscriber is the consuming side of a broker adapter: Subscribe delivers
// the messages of topic to h, as consumer group group, until ctx is done,
// and returns nil then, or an error when the subscription fails.
type Subscriber interface {
	Subscribe(ctx context.Context, topic, group string, h Handler) error
}

// Extension attribute names of the CloudEvents the relay writes.
const (
	ExtTraceParent  = "traceparent"
	ExtTraceState   = "tracestate"
	ExtPartitionKey = "partitionkey"
	ExtRun          = "chorusrun"
)

// envelope returns the CloudEvent of an outbox row.
func envelope(eventID, run string, rec *record, defaultSource string) (event.Event, error) {
	e := event.New(event.CloudEventsVersionV1)
	e.SetID(eventID)
	src := rec.Source
	if src == "" {
		src = defaultSource
	}
	e.SetSource(src)
	e.SetType(rec.Type)
	if rec.Key != "" {
		e.SetSubject(rec.Key)
		e.SetExtension(ExtPartitionKey, rec.Key)
	}
	e.SetTime(rec.Time)
	e.SetExtension(ExtRun, run)
	if rec.TraceParent != "" {
		e.SetExtension(ExtTraceParent, rec.TraceParent)
		if rec.TraceState != "" {
			e.SetExtension(ExtTraceState, rec.TraceState)
		}
	}
	// Set as encoded JSON, not with SetData: given bytes, SetData would
	// mark them binary and the envelope would carry data_base64.
	e.SetDataContentType(event.ApplicationJSON)
	e.DataEncoded = []byte(rec.Data)
	if err := e.Validate(); err != nil {
		return e, err
	}
	return e, nil
}

// ErrMalformed is returned (wrapped) by [DecodeMessage] for a body that is
// not a valid CloudEvent.
var ErrMalformed = errors.New("events: malformed message")

// DecodeMessage parses the CloudEvent of a message body.
func DecodeMessage(body []byte) (event.Event, error) {
	var e event.Event
	if err := e.UnmarshalJSON(body); err != nil {
		return e, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return e, nil
}

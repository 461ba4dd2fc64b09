package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chorusdev/chorus/chorusotel"
	"github.com/chorusdev/chorus/workflow"
)

// MarkerName is the name of the journal marker that [Publish] records and
// the outbox trigger copies.
const MarkerName = "chorus.event"

// record is what a [Publish] journals: everything the relay needs to build
// the CloudEvent, except its ID, which the outbox row gives.
type record struct {
	Topic       string          `json:"topic"`
	Type        string          `json:"type"`
	Source      string          `json:"source,omitempty"`
	Key         string          `json:"key,omitempty"`
	Time        time.Time       `json:"time"`
	Data        json.RawMessage `json:"data"`
	TraceParent string          `json:"traceparent,omitempty"`
	TraceState  string          `json:"tracestate,omitempty"`
}

// ErrNilDefinition is returned by [Publish] when it is given no definition.
var ErrNilDefinition = errors.New("events: nil event definition")

// Publish emits an event of definition def with payload, from workflow
// code. key orders events: the relay delivers the events of one topic and
// key in the order they were published; it is also the event's
// CloudEvents subject and partition key. "" is a key like any other.
//
// The event is journaled as a marker (so it is committed with the step
// that produced it, and replay matches it instead of publishing again) and
// reaches the outbox in the same transaction. The run's trace context, when
// chorusotel.Propagator carried one into the run, travels with the event as
// its traceparent extension. Publish returns an error only when payload
// cannot be encoded as JSON or def is nil; then nothing is journaled.
func Publish[T any](ctx workflow.Context, def *Definition[T], key string, payload T) error {
	if def == nil {
		return ErrNilDefinition
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("events: encode payload of %s event %q: %w", def.topic, def.typ, err)
	}
	rec := record{Topic: def.topic, Type: def.typ, Source: def.source, Key: key, Time: workflow.Now(ctx).UTC(), Data: data}
	if sc := chorusotel.SpanContext(ctx); sc.IsValid() {
		rec.TraceParent = fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
		rec.TraceState = sc.TraceState().String()
	}
	workflow.RecordMarker(ctx, MarkerName, rec)
	return nil
}

package workflow

import "github.com/chorusdev/chorus/internal/engine"

// UnrepeatableMarker is the name of the marker [MarkUnrepeatable] records.
const UnrepeatableMarker = engine.UnrepeatableMarker

// MarkUnrepeatable records, right after a step that must never run twice
// (a payment without an idempotency key, a message that cannot be taken
// back), that it happened: chorus.Engine.Reset then refuses a point before
// the marker, which would run the step again, unless forced. what
// describes the step for the operator who reads the refusal. It is a
// command like [RecordMarker]: replay expects it at the same place.
func MarkUnrepeatable(ctx Context, what string) {
	RecordMarker(ctx, UnrepeatableMarker, what)
}

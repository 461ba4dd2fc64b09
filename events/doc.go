// Package events lets workflows of different services react to each
// other's events through a message broker, with the guarantees a
// transactional outbox and an idempotent inbox give.
//
// # Outbox
//
// Workflow code publishes a typed event with [Publish]. The event is
// journaled as a marker named [MarkerName] in the same SQLite transaction
// as the step that produced it, and a trigger that [Open] installs copies
// that journal row into the outbox table in that same transaction: the
// event exists if and only if the step does, and replay never publishes it
// twice because a replayed marker is matched, not written again.
//
// A [Relay] reads the outbox and hands each event, wrapped in a CloudEvents
// envelope, to a [Publisher] (one broker adapter: events/nats,
// events/kafka, events/rabbitmq, or events/eventstest in memory). It
// delivers in order per key, at least once, retries with exponential
// backoff and marks what the broker confirmed as sent. After a crash it
// sends again what was not confirmed; it never skips a row. A [Wakeup]
// installed as the engine's observer wakes the relay as soon as a run
// commits an event; otherwise it polls.
//
// # Inbox
//
// An [Inbox] turns broker messages into runs: it starts a workflow,
// signals one (starting it if needed) or completes an activity that waits
// for the event ([StartOn], [SignalWithStartOn], [SignalOn],
// [CompleteOn], [ByType], or any [Process] function). It remembers the ID of every
// message it processed for a retention period and acknowledges a duplicate
// without processing it again; a message that fails MaxAttempts times is
// parked with its error in the database, where `chorus events parked`
// lists it, and is never dropped silently.
//
// # CloudEvents and AsyncAPI
//
// Every event travels as a CloudEvents 1.0 structured JSON message with
// id, source, type, subject, time and datacontenttype, the partitionkey
// extension, and a traceparent extension when the publishing run carries a
// trace context (see chorusotel.Propagator), so one trace follows a
// business transaction across services. [AsyncAPI] documents the
// application's events from their definitions.
//
// Only SQLite databases have an outbox; PostgreSQL is not supported yet.
package events

// Package nats connects the events package to NATS JetStream: a
// [Publisher] for the relay and a [Subscriber] for the inbox.
//
// Each topic is a NATS subject, stored in a JetStream stream that
// [EnsureStream] creates. A publish waits for the stream's
// acknowledgement and carries the CloudEvent id as Nats-Msg-Id, so a
// relay that sends an event again after a crash, within the stream's
// duplicate window, does not store it twice. A subscription is a durable
// pull consumer per group that acknowledges a message only after the
// handler returned nil and the server confirmed the acknowledgement.
//
// An application that does not import this package does not link the NATS
// client.
package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chorusdev/chorus/events"
)

// Header names set on every message.
const (
	// HeaderKey carries the event's key.
	HeaderKey = "Chorus-Key"
	// HeaderContentType carries [events.ContentType].
	HeaderContentType = "Content-Type"
)

// DefaultStream is the stream [EnsureStream] creates when given no name.
const DefaultStream = "CHORUS_EVENTS"

// DefaultDuplicateWindow is how long the stream remembers a message ID to
// drop a second publish of it.
const DefaultDuplicateWindow = 10 * time.Minute

// StreamOptions configures [EnsureStream]. A nil *StreamOptions means
// every default.
type StreamOptions struct {
	// Name is the stream's name. Defaults to [DefaultStream].
	Name string
	// DuplicateWindow is how long the stream drops a second publish of a
	// message ID. Defaults to [DefaultDuplicateWindow].
	DuplicateWindow time.Duration
	// MaxAge is how long the stream keeps a message. Defaults to 0:
	// forever.
	MaxAge time.Duration
	// Memory keeps the stream in memory instead of files. Defaults to
	// false.
	Memory bool
}

// EnsureStream creates the stream that stores topics, or updates it to
// store them; topics may use NATS wildcards ("orders.>").
func EnsureStream(ctx context.Context, js jetstream.JetStream, opts *StreamOptions, topics ...string) (jetstream.Stream, error) {
	var o StreamOptions
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = DefaultStream
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if len(topics) == 0 {
		return nil, errors.New("events/nats: EnsureStream needs at least one topic")
	}
	storage := jetstream.FileStorage
	if o.Memory {
		storage = jetstream.MemoryStorage
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: o.Name, Subjects: topics, Storage: storage, Duplicates: o.DuplicateWindow, MaxAge: o.MaxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("events/nats: create stream %s for %v: %w", o.Name, topics, err)
	}
	return s, nil
}

// Publisher publishes events to JetStream.
type Publisher struct {
	js jetstream.JetStream
}

var _ events.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher that publishes through js. The streams
// of the topics must exist ([EnsureStream]).
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish publishes msg to the subject msg.Topic and waits for the
// stream's acknowledgement.
func (p *Publisher) Publish(ctx context.Context, msg *events.Message) error {
	m := natsgo.NewMsg(msg.Topic)
	m.Data = msg.Body
	m.Header.Set(HeaderContentType, events.ContentType)
	if msg.Key != "" {
		m.Header.Set(HeaderKey, msg.Key)
	}
	var opts []jetstream.PublishOpt
	if msg.ID != "" {
		opts = append(opts, jetstream.WithMsgID(msg.ID))
	}
	if _, err := p.js.PublishMsg(ctx, m, opts...); err != nil {
		return fmt.Errorf("events/nats: publish to %s: %w", msg.Topic, err)
	}
	return nil
}

// Defaults of [SubscriberOptions].
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 1
)

// SubscriberOptions configures a [Subscriber]. A nil *SubscriberOptions
// means every default.
type SubscriberOptions struct {
	// AckWait is how long the server waits for a message's
	// acknowledgement before it delivers the message again. Defaults to
	// [DefaultAckWait].
	AckWait time.Duration
	// MaxAckPending is how many messages a group may have unacknowledged
	// at once. With 1, a message that fails is delivered again before the
	// next one, so a group sees a topic in order; more is faster and
	// gives up that order after failures. Defaults to
	// [DefaultMaxAckPending].
	MaxAckPending int
	// RedeliveryDelay is how long the server waits before it delivers
	// again a message whose handler failed. Defaults to 0: at once.
	RedeliveryDelay time.Duration
}

// Subscriber consumes events from JetStream.
type Subscriber struct {
	js jetstream.JetStream
	o  SubscriberOptions
}

var _ events.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a Subscriber that consumes through js.
func NewSubscriber(js jetstream.JetStream, opts *SubscriberOptions) (*Subscriber, error) {
	var o SubscriberOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case o.AckWait < 0:
		return nil, fmt.Errorf("events/nats: SubscriberOptions.AckWait is negative (%v)", o.AckWait)
	case o.MaxAckPending < 0:
		return nil, fmt.Errorf("events/nats: SubscriberOptions.MaxAckPending is negative (%d)", o.MaxAckPending)
	case o.RedeliveryDelay < 0:
		return nil, fmt.Errorf("events/nats: SubscriberOptions.RedeliveryDelay is negative (%v)", o.RedeliveryDelay)
	}
	if o.AckWait == 0 {
		o.AckWait = DefaultAckWait
	}
	if o.MaxAckPending == 0 {
		o.MaxAckPending = DefaultMaxAckPending
	}
	return &Subscriber{js: js, o: o}, nil
}

// ConsumerName returns the durable consumer name of group on topic: the
// characters NATS refuses in a name are replaced by "_".
func ConsumerName(topic, group string) string {
	r := strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_", "/", "_", "\\", "_")
	return r.Replace(group + "__" + topic)
}

// Subscribe delivers the messages of topic to h through a durable
// consumer of group, one at a time, from the first message the stream
// holds, until ctx is done.
func (s *Subscriber) Subscribe(ctx context.Context, topic, group string, h events.Handler) error {
	if topic == "" || group == "" {
		return errors.New("events/nats: Subscribe needs a topic and a group")
	}
	stream, err := s.js.StreamNameBySubject(ctx, topic)
	if err != nil {
		return fmt.Errorf("events/nats: find the stream of %s: %w", topic, err)
	}
	c, err := s.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: ConsumerName(topic, group), FilterSubject: topic, AckPolicy: jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy, AckWait: s.o.AckWait, MaxAckPending: s.o.MaxAckPending,
	})
	if err != nil {
		return fmt.Errorf("events/nats: consumer %s on %s: %w", group, topic, err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(s.o.MaxAckPending))
	if err != nil {
		return fmt.Errorf("events/nats: consume %s as %s: %w", topic, group, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("events/nats: consume %s as %s: %w", topic, group, err)
		}
		msg := &events.Message{Topic: m.Subject(), Key: m.Headers().Get(HeaderKey), Body: m.Data()}
		if err := h(ctx, msg); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if s.o.RedeliveryDelay > 0 {
				_ = m.NakWithDelay(s.o.RedeliveryDelay)
			} else {
				_ = m.Nak()
			}
			continue
		}
		// Acknowledged even when ctx ended during the handler: the work
		// is done. A failed acknowledgement means a second delivery
		// later, which the inbox recognises.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.AckWait)
		_ = m.DoubleAck(actx)
		cancel()
	}
}

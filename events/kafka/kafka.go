// Package kafka connects the events package to Apache Kafka through the
// franz-go client: a [Publisher] for the relay and a [Subscriber] for the
// inbox.
//
// Each topic is a Kafka topic and each event's key is the record key, so
// the events of one key land in one partition, in order. A publish waits
// until the record is acknowledged by all in-sync replicas (franz-go's
// idempotent producer keeps the order of retried records). A subscription
// is a consumer group that commits a record's offset only after the
// handler returned nil; a failed record is handed to the handler again,
// after a backoff, before the next one of its partition.
//
// The package is tested against kfake, the in-process Kafka cluster of the
// franz-go project, not against a Kafka broker.
//
// An application that does not import this package does not link the
// Kafka client.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chorusdev/chorus/events"
)

// HeaderContentType is the record header that carries
// [events.ContentType].
const HeaderContentType = "content-type"

// Publisher produces events to Kafka.
type Publisher struct {
	cl *kgo.Client
}

var _ events.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher that produces through cl. Give cl
// kgo.RequiredAcks(kgo.AllISRAcks()) (the default) so that an
// acknowledged record survives the loss of a broker.
func NewPublisher(cl *kgo.Client) *Publisher { return &Publisher{cl: cl} }

// Publish produces msg to the topic msg.Topic with key msg.Key and waits
// for the acknowledgement.
func (p *Publisher) Publish(ctx context.Context, msg *events.Message) error {
	r := &kgo.Record{Topic: msg.Topic, Value: msg.Body,
		Headers: []kgo.RecordHeader{{Key: HeaderContentType, Value: []byte(events.ContentType)}}}
	if msg.Key != "" {
		r.Key = []byte(msg.Key)
	}
	if err := p.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("events/kafka: produce to %s: %w", msg.Topic, err)
	}
	return nil
}

// Defaults of [SubscriberOptions].
const (
	DefaultMinBackoff = 50 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

// SubscriberOptions configures a [Subscriber].
type SubscriberOptions struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// ClientOptions are added to the options of each subscription's
	// client (TLS, SASL, timeouts). Defaults to none.
	ClientOptions []kgo.Opt
	// MinBackoff is the wait before a record whose handler failed is
	// handed over again; it doubles on each failure up to MaxBackoff.
	// Defaults to [DefaultMinBackoff].
	MinBackoff time.Duration
	// MaxBackoff caps that wait. Defaults to [DefaultMaxBackoff].
	MaxBackoff time.Duration
}

// Subscriber consumes events from Kafka, one consumer group client per
// subscription.
type Subscriber struct {
	o SubscriberOptions
}

var _ events.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a Subscriber of the cluster opts names.
func NewSubscriber(opts *SubscriberOptions) (*Subscriber, error) {
	if opts == nil || len(opts.Brokers) == 0 {
		return nil, errors.New("events/kafka: SubscriberOptions.Brokers is empty")
	}
	o := *opts
	switch {
	case o.MinBackoff < 0:
		return nil, fmt.Errorf("events/kafka: SubscriberOptions.MinBackoff is negative (%v)", o.MinBackoff)
	case o.MaxBackoff < 0:
		return nil, fmt.Errorf("events/kafka: SubscriberOptions.MaxBackoff is negative (%v)", o.MaxBackoff)
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	return &Subscriber{o: o}, nil
}

// Subscribe delivers the records of topic to h as consumer group group,
// from the group's committed offsets (the earliest record for a new
// group), until ctx is done.
func (s *Subscriber) Subscribe(ctx context.Context, topic, group string, h events.Handler) error {
	if topic == "" || group == "" {
		return errors.New("events/kafka: Subscribe needs a topic and a group")
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(s.o.Brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
	}, s.o.ClientOptions...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("events/kafka: subscribe to %s as %s: %w", topic, group, err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		// Other fetch errors are retried by the client; the records of
		// the partitions that did answer are in fs.
		if err := fs.Err0(); errors.Is(err, kgo.ErrClientClosed) {
			return fmt.Errorf("events/kafka: consume %s as %s: %w", topic, group, err)
		}
		var stopped bool
		fs.EachRecord(func(r *kgo.Record) {
			if stopped {
				return
			}
			if !s.handle(ctx, r, h) {
				stopped = true
				return
			}
			// Committed at once: a crash after the handler and before this
			// commit gives one more delivery, which the inbox recognises.
			_ = cl.CommitRecords(context.WithoutCancel(ctx), r)
		})
		cl.AllowRebalance()
		if stopped {
			return nil
		}
	}
}

// handle hands r to h until h returns nil, and reports true then, or false
// when ctx ended first.
func (s *Subscriber) handle(ctx context.Context, r *kgo.Record, h events.Handler) bool {
	msg := &events.Message{Topic: r.Topic, Key: string(r.Key), Body: r.Value}
	wait := s.o.MinBackoff
	for {
		if err := h(ctx, msg); err == nil {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, s.o.MaxBackoff)
	}
}

// Package rabbitmq connects the events package to RabbitMQ through the
// amqp091-go client: a [Publisher] for the relay and a [Subscriber] for
// the inbox.
//
// Events are published, persistent and mandatory, to a durable topic
// exchange with the event's topic as routing key, on a channel in
// publisher-confirm mode: Publish returns nil only once the broker
// confirmed the message, and an error when no queue took it (a returned
// message), so an event is never confirmed into the void. A subscription
// is a durable queue per group and topic, bound to the exchange, consumed
// with manual acknowledgements one message at a time.
//
// An application that does not import this package does not link the AMQP
// client.
package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/chorusdev/chorus/events"
)

// DefaultExchange is the exchange events are published to.
const DefaultExchange = "chorus.events"

// HeaderKey is the message header that carries the event's key.
const HeaderKey = "chorus-key"

// ErrUnroutable is returned (wrapped) by Publish when the broker returned
// the message because no queue is bound to its topic.
var ErrUnroutable = errors.New("events/rabbitmq: no queue is bound to the topic")

// Options configures a [Publisher] or [Subscriber]. A nil *Options means
// every default.
type Options struct {
	// Exchange is the topic exchange events go through; it is declared
	// durable if it does not exist. Defaults to [DefaultExchange].
	Exchange string
}

func (o *Options) exchange() string {
	if o == nil || o.Exchange == "" {
		return DefaultExchange
	}
	return o.Exchange
}

func declareExchange(ch *amqp.Channel, name string) error {
	if err := ch.ExchangeDeclare(name, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("events/rabbitmq: declare exchange %s: %w", name, err)
	}
	return nil
}

// Publisher publishes events to RabbitMQ on a channel of its own, opened
// again after the broker closed it. It is safe for concurrent use;
// publishes are sent one at a time.
type Publisher struct {
	conn     *amqp.Connection
	exchange string

	mu      sync.Mutex
	ch      *amqp.Channel
	returns chan amqp.Return
}

var _ events.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher on conn, declaring its exchange.
func NewPublisher(conn *amqp.Connection, opts *Options) (*Publisher, error) {
	p := &Publisher{conn: conn, exchange: opts.exchange()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.open(); err != nil {
		return nil, err
	}
	return p, nil
}

// open opens the channel in confirm mode; p.mu is held.
func (p *Publisher) open() error {
	ch, err := p.conn.Channel()
	if err != nil {
		return fmt.Errorf("events/rabbitmq: open channel: %w", err)
	}
	if err := declareExchange(ch, p.exchange); err != nil {
		_ = ch.Close()
		return err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return fmt.Errorf("events/rabbitmq: confirm mode: %w", err)
	}
	p.ch = ch
	p.returns = ch.NotifyReturn(make(chan amqp.Return, 1))
	return nil
}

// Publish publishes msg with routing key msg.Topic and waits for the
// broker's confirmation.
func (p *Publisher) Publish(ctx context.Context, msg *events.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch == nil || p.ch.IsClosed() {
		if err := p.open(); err != nil {
			return err
		}
	}
	pub := amqp.Publishing{ContentType: events.ContentType, DeliveryMode: amqp.Persistent, MessageId: msg.ID, Body: msg.Body}
	if msg.Key != "" {
		pub.Headers = amqp.Table{HeaderKey: msg.Key}
	}
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, msg.Topic, true, false, pub)
	if err != nil {
		return fmt.Errorf("events/rabbitmq: publish to %s: %w", msg.Topic, err)
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("events/rabbitmq: confirmation of %s: %w", msg.Topic, err)
	}
	// The broker sends a basic.return before the basic.ack of the same
	// message.
	select {
	case r, open := <-p.returns:
		if open {
			return fmt.Errorf("%w: %s (%s)", ErrUnroutable, msg.Topic, r.ReplyText)
		}
	default:
	}
	if !ok {
		return fmt.Errorf("events/rabbitmq: the broker refused the message to %s (nack)", msg.Topic)
	}
	return nil
}

// Close closes the Publisher's channel; the connection stays open.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch == nil {
		return nil
	}
	err := p.ch.Close()
	p.ch = nil
	if err != nil && !errors.Is(err, amqp.ErrClosed) {
		return err
	}
	return nil
}

// Subscriber consumes events from RabbitMQ.
type Subscriber struct {
	conn     *amqp.Connection
	exchange string
}

var _ events.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a Subscriber on conn.
func NewSubscriber(conn *amqp.Connection, opts *Options) *Subscriber {
	return &Subscriber{conn: conn, exchange: opts.exchange()}
}

// QueueName returns the name of the durable queue of group on topic.
func QueueName(topic, group string) string { return group + "." + topic }

// DeclareQueue declares the durable queue of group on topic and binds it,
// so that events published before the first Subscribe are kept for the
// group.
func (s *Subscriber) DeclareQueue(topic, group string) error {
	ch, err := s.conn.Channel()
	if err != nil {
		return fmt.Errorf("events/rabbitmq: open channel: %w", err)
	}
	defer ch.Close()
	return s.declare(ch, topic, group)
}

func (s *Subscriber) declare(ch *amqp.Channel, topic, group string) error {
	if err := declareExchange(ch, s.exchange); err != nil {
		return err
	}
	q := QueueName(topic, group)
	if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
		return fmt.Errorf("events/rabbitmq: declare queue %s: %w", q, err)
	}
	if err := ch.QueueBind(q, topic, s.exchange, false, nil); err != nil {
		return fmt.Errorf("events/rabbitmq: bind queue %s to %s: %w", q, topic, err)
	}
	return nil
}

// Subscribe declares the queue of group on topic and delivers its
// messages to h one at a time until ctx is done: a message is
// acknowledged after h returned nil and requeued after an error.
func (s *Subscriber) Subscribe(ctx context.Context, topic, group string, h events.Handler) error {
	if topic == "" || group == "" {
		return errors.New("events/rabbitmq: Subscribe needs a topic and a group")
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return fmt.Errorf("events/rabbitmq: open channel: %w", err)
	}
	defer ch.Close()
	if err := s.declare(ch, topic, group); err != nil {
		return err
	}
	if err := ch.Qos(1, 0, false); err != nil {
		return fmt.Errorf("events/rabbitmq: qos: %w", err)
	}
	tag := fmt.Sprintf("chorus-%p", &h)
	// Not ConsumeWithContext: a consumer canceled by ctx stops delivering
	// while the client still holds messages for it. Here the consumer is
	// canceled first and what it still holds is requeued.
	deliveries, err := ch.Consume(QueueName(topic, group), tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("events/rabbitmq: consume %s: %w", QueueName(topic, group), err)
	}
	defer func() {
		_ = ch.Cancel(tag, false)
		for d := range deliveries {
			_ = d.Nack(false, true)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-deliveries:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("events/rabbitmq: the broker closed the consumer of %s", QueueName(topic, group))
			}
			key, _ := d.Headers[HeaderKey].(string)
			if err := h(ctx, &events.Message{Topic: d.RoutingKey, Key: key, Body: d.Body}); err != nil {
				_ = d.Nack(false, true)
				continue
			}
			_ = d.Ack(false)
		}
	}
}

// Package eventstest is an in-memory broker for tests of code that
// publishes or consumes events: it implements events.Publisher and
// events.Subscriber, keeps every message, and can refuse publishes on
// demand.
package eventstest

import (
	"context"
	"errors"
	"sync"

	"github.com/chorusdev/chorus/events"
)

// ErrRefused is the error of a publish the broker was told to refuse.
var ErrRefused = errors.New("eventstest: publish refused")

// Broker is an in-memory broker. Each topic is a log of messages; each
// consumer group reads a topic from its start, one message at a time, and
// moves past a message once its handler returned nil (a handler error
// delivers the same message again). Its zero value is not usable; call
// [New].
type Broker struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every publish
	topics  map[string][]*events.Message
	offsets map[[2]string]int
	refuse  int
	tries   int
	fail    func(*events.Message) error
}

var (
	_ events.Publisher  = (*Broker)(nil)
	_ events.Subscriber = (*Broker)(nil)
)

// New returns an empty broker.
func New() *Broker {
	return &Broker{changed: make(chan struct{}), topics: map[string][]*events.Message{}, offsets: map[[2]string]int{}}
}

// Refuse makes the next n publishes fail with [ErrRefused].
func (b *Broker) Refuse(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refuse = n
}

// FailWhen makes every publish for which f returns an error fail with it;
// nil removes the rule.
func (b *Broker) FailWhen(f func(*events.Message) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = f
}

// Attempts returns how many publishes were asked of the broker, refused
// ones included.
func (b *Broker) Attempts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tries
}

// Publish appends a copy of msg to its topic.
func (b *Broker) Publish(ctx context.Context, msg *events.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tries++
	if b.refuse > 0 {
		b.refuse--
		return ErrRefused
	}
	if b.fail != nil {
		if err := b.fail(msg); err != nil {
			return err
		}
	}
	m := *msg
	m.Body = append([]byte(nil), msg.Body...)
	b.topics[msg.Topic] = append(b.topics[msg.Topic], &m)
	close(b.changed)
	b.changed = make(chan struct{})
	return nil
}

// Messages returns the messages published to topic so far, in order.
func (b *Broker) Messages(topic string) []*events.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*events.Message(nil), b.topics[topic]...)
}

// WaitFor waits until topic holds at least n messages and returns them, or
// returns ctx's error.
func (b *Broker) WaitFor(ctx context.Context, topic string, n int) ([]*events.Message, error) {
	for {
		b.mu.Lock()
		msgs, ch := b.topics[topic], b.changed
		b.mu.Unlock()
		if len(msgs) >= n {
			return append([]*events.Message(nil), msgs...), nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// Subscribe delivers the messages of topic to h for consumer group group,
// from the group's offset, until ctx is done.
func (b *Broker) Subscribe(ctx context.Context, topic, group string, h events.Handler) error {
	k := [2]string{topic, group}
	for {
		b.mu.Lock()
		msgs, ch := b.topics[topic], b.changed
		off := b.offsets[k]
		b.mu.Unlock()
		if off >= len(msgs) {
			select {
			case <-ctx.Done():
				return nil
			case <-ch:
				continue
			}
		}
		m := *msgs[off]
		m.ID = ""
		if err := h(ctx, &m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		b.mu.Lock()
		if b.offsets[k] == off {
			b.offsets[k] = off + 1
		}
		b.mu.Unlock()
	}
}

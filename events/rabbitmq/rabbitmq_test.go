package rabbitmq_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/chorusdev/chorus/events"
	rabbitevents "github.com/chorusdev/chorus/events/rabbitmq"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// dial connects to the RabbitMQ server named by RABBITMQ_URL (started by
// .ci/events.sh), or skips the test.
func dial(t *testing.T) *amqp.Connection {
	t.Helper()
	url := os.Getenv("RABBITMQ_URL")
	if url == "" {
		t.Skip("needs a RabbitMQ server: set RABBITMQ_URL (for example amqp://guest:guest@localhost:5672/; .ci/events.sh starts one)")
	}
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestPublishConfirmedAndConsumedInOrder(t *testing.T) {
	t.Parallel()
	conn := dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Names of their own, so reruns against one server do not meet old
	// messages.
	suffix := fmt.Sprint(time.Now().UnixNano())
	opts := &rabbitevents.Options{Exchange: "chorus.test." + suffix}
	topic := "orders.placed"
	group := "billing-" + suffix

	pub, err := rabbitevents.NewPublisher(conn, opts)
	require.NoError(t, err)
	defer pub.Close()

	// No queue is bound yet: the broker returns the message, and Publish
	// says so instead of reporting it sent.
	err = pub.Publish(ctx, &events.Message{Topic: topic, ID: "lost", Body: []byte("x")})
	require.ErrorIs(t, err, rabbitevents.ErrUnroutable)

	sub := rabbitevents.NewSubscriber(conn, opts)
	require.NoError(t, sub.DeclareQueue(topic, group))
	for i := range 4 {
		require.NoError(t, pub.Publish(ctx, &events.Message{Topic: topic, Key: fmt.Sprintf("k%d", i%2), ID: fmt.Sprint(i), Body: []byte(fmt.Sprint(i))}))
	}

	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	var seen []string
	failed := false
	require.NoError(t, sub.Subscribe(sctx, topic, group, func(_ context.Context, m *events.Message) error {
		seen = append(seen, string(m.Body))
		require.Equal(t, topic, m.Topic)
		if string(m.Body) == "1" && !failed {
			failed = true
			return errors.New("try again")
		}
		require.Equal(t, "k"+fmt.Sprint(int(m.Body[0]-'0')%2), m.Key)
		if len(seen) == 5 {
			scancel()
		}
		return nil
	}))
	require.Equal(t, []string{"0", "1", "1", "2", "3"}, seen)
}

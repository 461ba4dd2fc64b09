package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/chorusdev/chorus/events"
	kafkaevents "github.com/chorusdev/chorus/events/kafka"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// cluster starts a kfake cluster (franz-go's in-process Kafka) with topic
// and returns its seed brokers.
func cluster(t *testing.T, topic string, partitions int32) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func producer(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func TestProduceAndConsumeInOrderPerKey(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers := cluster(t, "orders.placed", 3)
	pub := kafkaevents.NewPublisher(producer(t, brokers))
	const n = 30
	for i := range n {
		require.NoError(t, pub.Publish(ctx, &events.Message{Topic: "orders.placed", Key: fmt.Sprintf("k%d", i%3),
			ID: fmt.Sprint(i), Body: []byte(fmt.Sprint(i))}))
	}

	sub, err := kafkaevents.NewSubscriber(&kafkaevents.SubscriberOptions{Brokers: brokers, MinBackoff: time.Millisecond})
	require.NoError(t, err)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	last := map[string]int{}
	count := 0
	failedOnce := false
	require.NoError(t, sub.Subscribe(sctx, "orders.placed", "billing", func(_ context.Context, m *events.Message) error {
		var v int
		_, err := fmt.Sscan(string(m.Body), &v)
		require.NoError(t, err)
		if v == 7 && !failedOnce {
			failedOnce = true
			return errors.New("try again")
		}
		if prev, ok := last[m.Key]; ok {
			require.Greater(t, v, prev, "key %s out of order", m.Key)
		}
		require.Equal(t, fmt.Sprintf("k%d", v%3), m.Key)
		last[m.Key] = v
		count++
		if count == n {
			scancel()
		}
		return nil
	}))
	require.Equal(t, n, count)
	require.True(t, failedOnce)

	// The offsets were committed: the group resumes after them.
	require.NoError(t, pub.Publish(ctx, &events.Message{Topic: "orders.placed", Key: "k0", Body: []byte("99")}))
	sctx, scancel = context.WithCancel(ctx)
	defer scancel()
	var again []string
	require.NoError(t, sub.Subscribe(sctx, "orders.placed", "billing", func(_ context.Context, m *events.Message) error {
		again = append(again, string(m.Body))
		scancel()
		return nil
	}))
	require.Equal(t, []string{"99"}, again)
}

func TestSubscriberNeedsBrokers(t *testing.T) {
	t.Parallel()
	_, err := kafkaevents.NewSubscriber(nil)
	require.ErrorContains(t, err, "Brokers")
}

package cli

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/kpi"
)

// queueView is one queue as `chorus queues` shows it.
type queueView struct {
	Queue         string     `json:"queue"`
	Waiting       int        `json:"waiting"`
	Running       int        `json:"running"`
	OldestWaiting *time.Time `json:"oldest_waiting,omitempty"`
	WaitP50       string     `json:"wait_p50,omitempty"`
	WaitP95       string     `json:"wait_p95,omitempty"`
	WaitMax       string     `json:"wait_max,omitempty"`
}

// queueItemView is one queued or started run as `chorus queues --queue` shows it.
type queueItemView struct {
	Queue      string     `json:"-"`
	RunID      string     `json:"run_id"`
	Workflow   string     `json:"workflow"`
	State      string     `json:"state"`
	Priority   int        `json:"priority"`
	Partition  string     `json:"partition,omitempty"`
	DedupID    string     `json:"dedup_id,omitempty"`
	EnqueuedAt time.Time  `json:"enqueued_at"`
	NotBefore  *time.Time `json:"not_before,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func queuesCmd() *cobra.Command {
	var queue string
	cmd := &cobra.Command{
		Use:   "queues FILE",
		Short: "Per queue: runs waiting and running, the oldest wait, and wait-time percentiles",
		Long: `Per queue: how many runs wait to start (the queue's depth) and how many
have started and not ended, when the run that has waited longest was
enqueued, and percentiles of the wait (enqueue to start) of the started
runs the database still keeps (those not ended, and those started within a
rate-limit window). With --queue, the queue's runs that wait or run, in the
order they start: by priority, then first in, first out.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			if queue != "" {
				views, err := readQueueItems(cmd.Context(), st, queue)
				if err != nil {
					return err
				}
				if jsonFlag(cmd) {
					return writeJSON(cmd.OutOrStdout(), views)
				}
				t := newTable(cmd.OutOrStdout(), "RUN", "WORKFLOW", "STATE", "PRIORITY", "PARTITION", "DEDUP", "ENQUEUED", "NOT-BEFORE", "STARTED")
				for _, v := range views {
					nb, sa := time.Time{}, time.Time{}
					if v.NotBefore != nil {
						nb = *v.NotBefore
					}
					if v.StartedAt != nil {
						sa = *v.StartedAt
					}
					t.row(v.RunID, v.Workflow, v.State, strconv.Itoa(v.Priority), v.Partition, v.DedupID, fmtTime(v.EnqueuedAt), fmtTime(nb), fmtTime(sa))
				}
				return t.flush()
			}
			views, err := readQueues(cmd.Context(), st)
			if err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), views)
			}
			t := newTable(cmd.OutOrStdout(), "QUEUE", "WAITING", "RUNNING", "OLDEST-WAITING", "WAIT-P50", "WAIT-P95", "WAIT-MAX")
			for _, v := range views {
				oldest := time.Time{}
				if v.OldestWaiting != nil {
					oldest = *v.OldestWaiting
				}
				t.row(v.Queue, strconv.Itoa(v.Waiting), strconv.Itoa(v.Running), fmtTime(oldest), v.WaitP50, v.WaitP95, v.WaitMax)
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVar(&queue, "queue", "", "list the runs of this queue that wait or run")
	return cmd
}

// readQueues summarizes each queue of st.
func readQueues(ctx context.Context, st store) ([]queueView, error) {
	items, err := st.QueueItems(ctx, history.QueueFilter{})
	if err != nil {
		return nil, err
	}
	views := []queueView{}
	for _, s := range chorus.SummarizeQueueItems(items) {
		v := queueView{Queue: s.Name, Waiting: s.Waiting, Running: s.Running, OldestWaiting: optTime(s.OldestWaiting)}
		if len(s.Wait) > 0 {
			slices.Sort(s.Wait)
			v.WaitP50, v.WaitP95, v.WaitMax = kpi.Percentile(s.Wait, 50).String(), kpi.Percentile(s.Wait, 95).String(), s.Wait[len(s.Wait)-1].String()
		}
		views = append(views, v)
	}
	return views, nil
}

// readQueueItems lists the runs that wait or run in queue (every queue
// when queue is ""), per queue: running first, then waiting in the order
// they start.
func readQueueItems(ctx context.Context, st store, queue string) ([]queueItemView, error) {
	items, err := st.QueueItems(ctx, history.QueueFilter{Queue: queue,
		States: []history.QueueState{history.QueueWaiting, history.QueueStarted}})
	if err != nil {
		return nil, err
	}
	views := []queueItemView{}
	for _, it := range items {
		if it.State == history.QueueStarted && it.RunStatus.Ended() {
			continue
		}
		views = append(views, queueItemView{Queue: it.Queue, RunID: it.RunID, Workflow: it.Workflow, State: it.State.String(),
			Priority: it.Priority, Partition: it.PartitionKey, DedupID: it.DedupID, EnqueuedAt: it.EnqueuedAt,
			NotBefore: optTime(it.NotBefore), StartedAt: optTime(it.StartedAt)})
	}
	// The store orders by queue (byte order), then claim order; put each
	// queue's running runs first.
	slices.SortStableFunc(views, func(a, b queueItemView) int {
		if c := strings.Compare(a.Queue, b.Queue); c != 0 {
			return c
		}
		if a.State != b.State && (a.State == "started" || b.State == "started") {
			if a.State == "started" {
				return -1
			}
			return 1
		}
		return 0
	})
	return views, nil
}

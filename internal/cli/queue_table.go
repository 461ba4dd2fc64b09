package cli

import (
	"context"
	"strconv"
	"time"

	"github.com/chorusdev/chorus/ui"
)

// Texts of the dashboard's queue pages.
const (
	queuesIntro     = "Per queue: the runs waiting to start and those started and not ended, when the oldest waiting run was enqueued, and percentiles of the wait (enqueue to start) of the started runs the database still keeps."
	queuesEmpty     = "No run has been queued."
	queuedRunsIntro = "The runs that wait in a queue or run from one, per queue: running first, then waiting in the order they start (by priority, then first in, first out)."
	queuedRunsEmpty = "No run waits in a queue or runs from one."
)

// queueTables are the dashboard's Queues and Queued runs pages over a
// database, for `chorus serve`: what `chorus queues` and `chorus queues
// --queue Q` print.
func queueTables(st store) []ui.Table {
	return []ui.Table{
		{Name: "Queues", Intro: queuesIntro, Empty: queuesEmpty,
			Rows: func(ctx context.Context) ([]string, [][]string, error) {
				vs, err := readQueues(ctx, st)
				if err != nil {
					return nil, nil, err
				}
				header := []string{"Queue", "Waiting", "Running", "Oldest waiting", "Wait p50", "Wait p95", "Wait max"}
				rows := make([][]string, 0, len(vs))
				for _, v := range vs {
					rows = append(rows, []string{v.Queue, strconv.Itoa(v.Waiting), strconv.Itoa(v.Running), queueTime(v.OldestWaiting),
						v.WaitP50, v.WaitP95, v.WaitMax})
				}
				return header, rows, nil
			}},
		{Name: "Queued runs", Intro: queuedRunsIntro, Empty: queuedRunsEmpty, RunColumn: "Run",
			Rows: func(ctx context.Context) ([]string, [][]string, error) {
				vs, err := readQueueItems(ctx, st, "")
				if err != nil {
					return nil, nil, err
				}
				header := []string{"Queue", "Run", "Workflow", "State", "Priority", "Partition", "Dedup ID", "Enqueued", "Not before", "Started"}
				rows := make([][]string, 0, len(vs))
				for _, v := range vs {
					rows = append(rows, []string{v.Queue, v.RunID, v.Workflow, v.State, strconv.Itoa(v.Priority), v.Partition, v.DedupID,
						queueTime(&v.EnqueuedAt), queueTime(v.NotBefore), queueTime(v.StartedAt)})
				}
				return header, rows, nil
			}},
	}
}

// queueTime formats an optional time for a table cell.
func queueTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

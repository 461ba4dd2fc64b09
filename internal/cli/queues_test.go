package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/cli"
	"github.com/chorusdev/chorus/workflow"
)

// queues shows each queue's depth, running runs and waits, and lists a
// queue's runs in the order they start.
func TestQueuesCommand(t *testing.T) {
	ctx := context.Background()
	mock := clock.NewMock()
	mock.Set(t0)
	path := filepath.Join(t.TempDir(), "chorus.db")
	entered := make(chan struct{}, 1)
	hold := activity.New("hold", func(ctx context.Context, s string) (string, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return "", ctx.Err()
	})
	wf := workflow.New("queued-job", func(ctx workflow.Context, s string) (string, error) {
		return workflow.ExecuteActivity(ctx, hold, s).Get(ctx)
	})
	eng, err := chorus.Open(ctx, path, &chorus.Options{Clock: mock, Definitions: []chorus.Definition{wf, hold},
		Queues: []chorus.Queue{{Name: "jobs", Concurrency: 1}}})
	require.NoError(t, err)
	_, err = chorus.Start(ctx, eng, wf, "a", &chorus.StartOptions{ID: "job-a", Queue: "jobs"})
	require.NoError(t, err)
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("job-a did not start")
	}
	mock.Add(3 * time.Second)
	for _, s := range []struct {
		id   string
		prio int
	}{{"job-b", 5}, {"job-c", 1}} {
		_, err = chorus.Start(ctx, eng, wf, s.id, &chorus.StartOptions{ID: s.id, Queue: "jobs", Priority: s.prio, DedupID: "d-" + s.id})
		require.NoError(t, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_ = eng.Close(cctx) // job-a's attempt is interrupted; it resumes at the next Open

	var out, errOut bytes.Buffer
	require.Equal(t, 0, cli.Run(ctx, []string{"queues", path, "--json"}, &out, &errOut), errOut.String())
	var qs []map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &qs))
	require.Len(t, qs, 1)
	require.Equal(t, "jobs", qs[0]["queue"])
	require.Equal(t, 2.0, qs[0]["waiting"])
	require.Equal(t, 1.0, qs[0]["running"])
	require.Equal(t, "0s", qs[0]["wait_max"])

	out.Reset()
	require.Equal(t, 0, cli.Run(ctx, []string{"queues", path, "--queue", "jobs", "--json"}, &out, &errOut), errOut.String())
	var items []map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &items))
	var order []string
	for _, it := range items {
		order = append(order, it["run_id"].(string)+":"+it["state"].(string))
	}
	require.Equal(t, []string{"job-a:started", "job-c:queued", "job-b:queued"}, order)

	out.Reset()
	require.Equal(t, 0, cli.Run(ctx, []string{"runs", "list", path, "--status", "queued"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "job-b")
	require.Contains(t, out.String(), "job-c")
	require.NotContains(t, out.String(), "job-a")

	// A queued run has no history yet: showing it and verifying the file
	// find nothing wrong.
	for _, args := range [][]string{{"runs", "show", path, "job-b"}, {"verify", path}, {"history", path, "job-b"}} {
		out.Reset()
		errOut.Reset()
		require.Equal(t, 0, cli.Run(ctx, args, &out, &errOut), "%v: %s%s", args, out.String(), errOut.String())
	}

	out.Reset()
	require.Equal(t, 0, cli.Run(ctx, []string{"queues", path}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "QUEUE")
	require.Regexp(t, `jobs\s+2\s+1\s`, out.String())

	// chorus serve has the same on its Queues and Queued runs pages.
	base, stop := serve(t, path, "--addr", "127.0.0.1:0")
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
		return string(b)
	}
	var table struct {
		Header []string
		Rows   [][]string
	}
	require.NoError(t, json.Unmarshal([]byte(get("api/tables/queues")), &table))
	require.Equal(t, []string{"Queue", "Waiting", "Running", "Oldest waiting", "Wait p50", "Wait p95", "Wait max"}, table.Header)
	require.Equal(t, [][]string{{"jobs", "2", "1", t0.Add(3 * time.Second).Format(time.RFC3339), "0s", "0s", "0s"}}, table.Rows)
	require.NoError(t, json.Unmarshal([]byte(get("api/tables/queued-runs")), &table))
	order = nil
	for _, r := range table.Rows {
		order = append(order, r[1]+":"+r[3])
	}
	require.Equal(t, []string{"job-a:started", "job-c:queued", "job-b:queued"}, order)
	page := get("tables/queued-runs/")
	require.Contains(t, page, `href="/runs/job-c"`, "each run links to its page")
	require.Contains(t, page, "d-job-c")
	page = get("")
	require.Contains(t, page, "/tables/queues/", "the navigation lists the page")
	require.Contains(t, page, "/tables/queued-runs/")
	require.Equal(t, 0, stop())
}

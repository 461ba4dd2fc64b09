package chorusotel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/chorusotel"
	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/workflow"
)

// The people kill test runs, in a child process, a loan whose model
// decides a first case and sends a second to a person through a human
// task, which the child claims; the child writes its metric points and is
// SIGKILLed while the task is open. The parent reopens the journal with a
// fresh observer, completes the task and lets the run end.
const envPeopleKillChild = "CHORUSOTEL_PEOPLE_KILL_CHILD" // "db-path|telemetry-path"

var (
	killReview = human.NewTask[loanApp, verdict]("loan-review")
	killPolicy = decide.Policy{Bands: []decide.Band{
		{Name: "low", Below: 0.2, Route: decide.Auto("approve")},
		{Name: "medium", Route: decide.Human("adjusters"), Suggest: "approve"},
	}}
	killLoan = workflow.New("kill-loan", func(ctx workflow.Context, apps []loanApp) ([]string, error) {
		ctx = human.Enable(ctx)
		ask := func(ctx workflow.Context, r decide.Referral[loanApp]) (decide.Answer, error) {
			v, err := human.Ask(ctx, killReview, r.Input, &human.Options{Assign: human.ToGroup(r.Queue)})
			return decide.Answer{Outcome: v.Outcome, By: r.Queue}, err
		}
		var out []string
		for _, a := range apps {
			d, err := decide.Decide(ctx, credit, a, killPolicy, ask)
			if err != nil {
				return nil, err
			}
			out = append(out, d.Outcome+" by "+d.DecidedBy)
		}
		return out, nil
	})
)

func openPeopleKillEngine(db string, obs *chorusotel.Observer, dir human.Directory) (*chorus.Engine, error) {
	eng, err := chorus.Open(context.Background(), db, &chorus.Options{
		Observer: obs,
		DefaultActivityOptions: &activity.Options{RetryPolicy: &activity.RetryPolicy{
			InitialInterval: time.Millisecond, MaximumInterval: time.Millisecond}},
	})
	if err != nil {
		return nil, err
	}
	if err := eng.Register(append(human.Definitions(dir, nil), killLoan, creditModel)...); err != nil {
		return nil, err
	}
	return eng, nil
}

// waitFor waits for cond on eng (testutil.Await), a minute at most: a
// failure guard for the child, which has no test to fail.
func waitFor(eng *chorus.Engine, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return testutil.Await(ctx, eng, what, cond)
}

// peopleKillChild starts the loan, waits for the model's decision and the
// human task, claims it, waits until the claim is measured, writes its
// metric points, says "ready" and waits for the kill.
func peopleKillChild(db, telPath string) error {
	ctx := context.Background()
	f, err := os.OpenFile(telPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	reader := sdkmetric.NewManualReader()
	obs, err := chorusotel.NewObserver(chorusotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		return err
	}
	dir := staff()
	eng, err := openPeopleKillEngine(db, obs, dir)
	if err != nil {
		return err
	}
	apps := []loanApp{{ID: "k1", Risk: 0.1, Confidence: 0.9}, {ID: "k2", Risk: 0.5, Confidence: 0.9}}
	if _, err := chorus.Start(ctx, eng, killLoan, apps, &chorus.StartOptions{ID: "loan-1"}); err != nil {
		return err
	}
	inbox := human.NewInbox(eng, dir)
	if err := waitFor(eng, "the task", func() (bool, error) {
		tasks, err := inbox.List(ctx, "ann")
		return len(tasks) == 1, err
	}); err != nil {
		return err
	}
	if _, err := inbox.Claim(ctx, "ann", "loan-1", "loan-review-1"); err != nil {
		return err
	}
	var rm metricdata.ResourceMetrics
	if err := waitFor(eng, "the claim's measure", func() (bool, error) {
		rm = metricdata.ResourceMetrics{}
		if err := reader.Collect(ctx, &rm); err != nil {
			return false, err
		}
		return slices.ContainsFunc(metricLines(rm), func(l telLine) bool { return l.Metric == "chorus.human.time_to_claim" }), nil
	}); err != nil {
		return err
	}
	for _, l := range metricLines(rm) {
		if err := writeLine(f, l); err != nil {
			return err
		}
	}
	fmt.Println("ready")
	select {} // until the kill
}

// TestKillReplayPeopleNoDuplicates: the metric points of a loan that a
// SIGKILL interrupted while its human task was open (the model's decision,
// the task's creation and claim measured by the killed process) and those
// of the process that replays the run, completes the task and decides the
// case, add up to each action and decision once.
func TestKillReplayPeopleNoDuplicates(t *testing.T) {
	dir := t.TempDir()
	db, telPath := filepath.Join(dir, "people.db"), filepath.Join(dir, "child.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envPeopleKillChild+"="+db+"|"+telPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "the child ended before it was ready: %s", stderr.String())
	case <-time.After(90 * time.Second): // a failure guard only
		_ = cmd.Process.Kill()
		t.Fatalf("the child was not ready in time: %s", stderr.String())
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	sum := map[string]int64{}
	add := func(l telLine) {
		key := l.Metric
		for _, k := range []string{"chorus.human.task", "chorus.decided_by"} {
			if v, ok := l.Attrs[k]; ok {
				key += "/" + v
			}
		}
		sum[key] += l.Value
	}
	b, err := os.ReadFile(telPath)
	require.NoError(t, err)
	for l := range strings.Lines(string(b)) {
		var tl telLine
		require.NoError(t, json.Unmarshal([]byte(l), &tl), l)
		add(tl)
	}
	require.Equal(t, int64(1), sum["chorus.decide.decisions/model"], "the child saw the model decide: %v", sum)

	ctx := context.Background()
	obs, reader := meterObserver(t)
	people := staff()
	eng, err := openPeopleKillEngine(db, obs, people)
	require.NoError(t, err)
	defer eng.Close(ctx)
	_, err = human.NewInbox(eng, people).Complete(ctx, "ann", "loan-1", "loan-review-1", verdict{Outcome: "approve"})
	require.NoError(t, err)
	run, err := chorus.Lookup(ctx, eng, killLoan, "loan-1")
	require.NoError(t, err)
	got, err := run.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"approve by model", "approve by person"}, got)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	for _, l := range metricLines(rm) {
		add(l)
	}
	for key, want := range map[string]int64{
		"chorus.runs.started": 1, "chorus.runs.completed": 1,
		"chorus.human.tasks.created/loan-review":   1,
		"chorus.human.tasks.completed/loan-review": 1,
		"chorus.human.time_to_claim/loan-review":   1,
		"chorus.decide.decisions/model":            1,
		"chorus.decide.decisions/person":           1,
		"chorus.decide.compared":                   1,
		"chorus.decide.agreed":                     1,
		// The task was created before the restart: its completion entry
		// says when, so the process that saw it completed measures the
		// time to decide, once.
		"chorus.human.time_to_decide/loan-review": 1,
	} {
		require.Equal(t, want, sum[key], "%s\nall: %v", key, sum)
	}
	require.Positive(t, sum["chorus.run_cache.loads"], "the restarted engine rebuilt the run by replay")
}

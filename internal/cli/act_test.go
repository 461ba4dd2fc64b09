package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// actFixture is a database whose runs the action commands act on, and
// the workflows that made them, to open it again as the application.
type actFixture struct {
	*fixture
	defs []chorus.Definition
	// inbox returns the value of the first "approve" signal it receives.
	inbox *workflow.Definition[int, map[string]string]
	// sleeper sleeps a day: a cancel ends it as canceled.
	sleeper *workflow.Definition[int, int]
}

// newActFixture fills a database with: inbox-1 waiting for a signal,
// inbox-done that received one and completed, sleep-1 to sleep-4 asleep, and
// broken-1 blocked by a panic. The engine that made them is closed: no
// process holds the file.
func newActFixture(t *testing.T) *actFixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	approve := workflow.NewSignal[map[string]string]("approve")
	f := &actFixture{fixture: &fixture{path: filepath.Join(t.TempDir(), "chorus.db"), masks: map[string]string{}}}
	f.inbox = workflow.New("inbox", func(ctx workflow.Context, _ int) (map[string]string, error) {
		v, ok := workflow.GetSignalChannel(ctx, approve).Receive(ctx)
		if !ok {
			return nil, errors.New("no signal")
		}
		return v, nil
	})
	f.sleeper = workflow.New("sleeper", func(ctx workflow.Context, n int) (int, error) {
		return n, workflow.Sleep(ctx, 24*time.Hour)
	})
	// broken panics after its first step, which Start waits for.
	step := activity.New("step", func(ctx context.Context, n int) (int, error) { return n, nil })
	broken := workflow.New("broken", func(ctx workflow.Context, n int) (int, error) {
		if _, err := workflow.ExecuteActivity(ctx, step, n).Get(ctx); err != nil {
			return 0, err
		}
		if n > 0 {
			panic("index out of range in pricing rules")
		}
		return n, nil
	})
	f.defs = []chorus.Definition{f.inbox, f.sleeper, broken, step}

	eng := f.open(t)
	for _, id := range []string{"inbox-1", "inbox-done"} {
		_, err := chorus.Start(ctx, eng, f.inbox, 0, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	require.NoError(t, chorus.Signal(ctx, eng, "inbox-done", approve, map[string]string{"by": "zoe"}))
	run, err := chorus.Lookup(ctx, eng, f.inbox, "inbox-done")
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)
	for _, id := range []string{"sleep-1", "sleep-2", "sleep-3", "sleep-4"} {
		_, err := chorus.Start(ctx, eng, f.sleeper, 1, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
	}
	rb, err := chorus.Start(ctx, eng, broken, 1, &chorus.StartOptions{ID: "broken-1"})
	require.NoError(t, err)
	_, err = rb.Result(ctx)
	require.ErrorIs(t, err, chorus.ErrRunBlocked)
	closeEng(t, eng)
	return f
}

// open opens the file as the application does, with the workflows
// registered.
func (f *actFixture) open(t *testing.T) *chorus.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := chorus.Open(ctx, f.path, &chorus.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, eng.Register(f.defs...))
	return eng
}

func closeEng(t *testing.T, eng *chorus.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, eng.Close(ctx))
}

// notes returns the OperatorAction and InputQueued notes of a run's
// journal, and the events that followed each, by type.
func notes(t *testing.T, eng *chorus.Engine, id string) (actions []history.OperatorAction, queued []history.InputQueued, after []history.EventType) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := chorus.History(ctx, eng, id)
	require.NoError(t, err)
	require.NoError(t, h.Validate())
	for i, e := range h.Events {
		switch e.Type {
		case history.EventOperatorAction:
			a, err := history.DecodeOperatorAction(e.Payload)
			require.NoError(t, err)
			actions = append(actions, a)
			require.Less(t, i+1, len(h.Events), "an OperatorAction note comes right before the event it caused")
			after = append(after, h.Events[i+1].Type)
		case history.EventInputQueued:
			q, err := history.DecodeInputQueued(e.Payload)
			require.NoError(t, err)
			queued = append(queued, q)
		}
	}
	return actions, queued, after
}

// signal, cancel and terminate on the file while no process holds it:
// terminate ends the run, cancel and signal are queued and seen by the
// run once the application opens the file with its workflow, and the
// journal says who acted.
func TestActOnFile(t *testing.T) {
	f := newActFixture(t)
	for _, c := range []struct {
		name string
		code int
		args []string
	}{
		{"act-signal", 0, []string{"signal", "@", "inbox-1", "approve", `{"by": "ann"}`, "--identity", "ops:ann"}},
		{"act-cancel-json", 0, []string{"cancel", "@", "sleep-1", "--identity", "ops:bob", "--json"}},
		{"act-terminate", 0, []string{"terminate", "@", "sleep-2", "--reason", "bad order", "--identity", "ops:carol"}},
		{"act-terminate-json", 0, []string{"terminate", "@", "sleep-4", "--reason", "duplicate", "--identity", "ops:carol", "--json"}},
		{"act-cancel-blocked", 0, []string{"cancel", "@", "broken-1", "--identity", "ops:dan"}},
		{"err-act-ended", 1, []string{"terminate", "@", "sleep-2", "--reason", "again", "--identity", "ops:carol"}},
		{"err-act-ended-signal", 1, []string{"signal", "@", "inbox-done", "approve", `{}`, "--identity", "ops:ann"}},
		{"err-act-unknown-run", 1, []string{"cancel", "@", "no-such-run"}},
		{"err-act-bad-json", 2, []string{"signal", "@", "inbox-1", "approve", `{by: ann}`}},
		{"err-act-bare-string", 2, []string{"signal", "@", "inbox-1", "approve", `yes`}},
		{"err-act-no-reason", 2, []string{"terminate", "@", "sleep-3"}},
		{"err-act-bad-identity", 2, []string{"cancel", "@", "sleep-3", "--identity", "ops\x01bob"}},
		{"err-act-signal-name", 2, []string{"signal", "@", "inbox-1", "appr\tove", `1`}},
		{"err-act-args", 2, []string{"signal", "@", "inbox-1", "approve"}},
		{"err-act-dash", 2, []string{"cancel", "-", "sleep-3"}},
		{"err-act-token-no-addr", 2, []string{"cancel", "@", "sleep-3", "--token", "t"}},
		{"err-act-addr-and-file", 2, []string{"cancel", "@", "sleep-3", "--addr", "http://127.0.0.1:1"}},
		{"err-act-addr-identity", 2, []string{"cancel", "sleep-3", "--addr", "http://127.0.0.1:1", "--identity", "ops:ann"}},
		{"err-act-bad-url", 2, []string{"cancel", "sleep-3", "--addr", "ftp://example.com"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "@", f.path)
			}
			code, out := f.run(args...)
			require.Equal(t, c.code, code, out)
			golden(t, c.name, out)
		})
	}

	// The default identity: cli:USER@HOST.
	u, err := user.Current()
	require.NoError(t, err)
	host, err := os.Hostname()
	require.NoError(t, err)
	who := "cli:" + u.Username + "@" + host
	code, out := f.run("cancel", f.path, "sleep-3", "--json")
	require.Equal(t, 0, code, out)
	var res struct {
		Identity string `json:"identity"`
		Via      string `json:"via"`
		Outcome  string `json:"outcome"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, struct{ Identity, Via, Outcome string }{who, "file", "queued"}, struct{ Identity, Via, Outcome string }(res))

	// The application opens the file again: the runs see what was queued.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng := f.open(t)
	defer closeEng(t, eng)
	inbox, err := chorus.Lookup(ctx, eng, f.inbox, "inbox-1")
	require.NoError(t, err)
	got, err := inbox.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"by": "ann"}, got, "the run received the signal's JSON value")
	for id, want := range map[string]string{"sleep-1": "ops:bob", "sleep-3": who} {
		run, err := chorus.Lookup(ctx, eng, f.sleeper, id)
		require.NoError(t, err)
		_, err = run.Result(ctx)
		require.ErrorIs(t, err, chorus.ErrCanceled, id)
		actions, queued, after := notes(t, eng, id)
		require.Equal(t, []history.InputQueued{{Action: history.ActionCancel, Identity: want}}, queued, id)
		require.Equal(t, []history.OperatorAction{{Action: history.ActionCancel, Identity: want}}, actions, id)
		require.Equal(t, []history.EventType{history.EventCancelRequested}, after, id)
	}
	run, err := chorus.Lookup(ctx, eng, f.sleeper, "sleep-2")
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Terminated)
	require.Equal(t, "bad order", we.Message)
	actions, _, after := notes(t, eng, "sleep-2")
	require.Equal(t, []history.OperatorAction{{Action: history.ActionTerminate, Identity: "ops:carol", Reason: "bad order"}}, actions)
	require.Len(t, after, 1)
	require.True(t, after[0].IsTerminal(), "the note comes right before the run's end: %v", after)
	actions, queued, after := notes(t, eng, "inbox-1")
	require.Equal(t, []history.InputQueued{{Action: history.ActionSignal, Signal: "approve", Value: []byte(`{"by": "ann"}`), Identity: "ops:ann"}}, queued)
	require.Equal(t, []history.OperatorAction{{Action: history.ActionSignal, Signal: "approve", Identity: "ops:ann"}}, actions)
	require.Equal(t, []history.EventType{history.EventSignalReceived}, after)
	// The blocked run's cancel waits in its journal: it reaches the code
	// once the run resumes.
	_, queued, _ = notes(t, eng, "broken-1")
	require.Equal(t, []history.InputQueued{{Action: history.ActionCancel, Identity: "ops:dan"}}, queued)
}

// While a process holds the file, an action on it is refused at once and
// changes nothing; a missing file is not created.
func TestActOnHeldFile(t *testing.T) {
	f := newActFixture(t)
	eng := f.open(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"err-act-held", []string{"cancel", f.path, "sleep-1"}},
		{"err-act-held-signal", []string{"signal", f.path, "inbox-1", "approve", `{"by":"ann"}`, "--json"}},
		{"err-act-held-terminate", []string{"terminate", f.path, "sleep-1", "--reason", "stop"}},
	} {
		type result struct {
			code int
			out  string
		}
		done := make(chan result, 1)
		go func() {
			code, out := f.run(c.args...)
			done <- result{code, out}
		}()
		select {
		case r := <-done:
			require.Equal(t, 1, r.code, r.out)
			golden(t, c.name, r.out)
		case <-time.After(time.Minute):
			t.Fatalf("%s: the command waited for the process that holds the file", c.name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range []string{"sleep-1", "inbox-1"} {
		actions, queued, _ := notes(t, eng, id)
		require.Empty(t, actions, id)
		require.Empty(t, queued, id)
		info, err := eng.Describe(ctx, id)
		require.NoError(t, err)
		require.Equal(t, chorus.StatusRunning, info.Status, id)
	}
	closeEng(t, eng)

	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	for _, args := range [][]string{
		{"cancel", missing, "x"}, {"terminate", missing, "x", "--reason", "r"}, {"signal", missing, "x", "s", "1"},
	} {
		code, out := f.run(args...)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "missing.db")
	}
	_, err := os.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist, "no command creates the file")
}

// A file that is not SQLite, or a SQLite database of another application,
// is refused and left as it was.
func TestActOnForeignFiles(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte("these are my notes, not a database of any kind"), 0o600))
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	require.NoError(t, err)
	_, err = db.Exec("CREATE TABLE t (x)")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	before := map[string][]byte{}
	for _, p := range []string{text, other} {
		before[p], err = os.ReadFile(p)
		require.NoError(t, err)
	}

	f := &fixture{}
	for _, p := range []string{text, other} {
		for _, args := range [][]string{
			{"cancel", p, "x"}, {"terminate", p, "x", "--reason", "r"}, {"signal", p, "x", "s", "1"},
		} {
			code, out := f.run(args...)
			require.Equal(t, 1, code, out)
			require.Contains(t, out, filepath.Base(p))
			after, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Equal(t, before[p], after, "%v changed the file", args)
		}
	}
}

package cli_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/ui"
)

// With --addr, signal, cancel and terminate go through the dashboard of
// the process that owns the file: the real handler over the application's
// engine. The run sees the action at once, and the journal records the
// identity the dashboard's authenticator gave the token.
func TestActThroughDashboard(t *testing.T) {
	f := newActFixture(t)
	eng := f.open(t)
	defer closeEng(t, eng)
	h, err := ui.Handler(eng, &ui.Options{Prefix: "/chorus", Auth: ui.LabeledBearerToken("ops:erin", "s3cret")})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/chorus/", h)
	mux.Handle("/old/", http.RedirectHandler("/chorus/", http.StatusMovedPermanently))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f.masks[srv.URL] = "URL"
	addr := srv.URL + "/chorus"

	for _, c := range []struct {
		name string
		code int
		args []string
	}{
		{"act-addr-signal", 0, []string{"signal", "inbox-1", "approve", `{"by":"ann"}`, "--addr", addr, "--token", "s3cret"}},
		{"act-addr-cancel-json", 0, []string{"cancel", "-", "sleep-1", "--addr", addr + "/", "--token", "s3cret", "--json"}},
		{"act-addr-terminate", 0, []string{"terminate", "sleep-2", "--reason", "bad order", "--addr", addr, "--token", "s3cret"}},
		{"err-addr-no-token", 1, []string{"cancel", "sleep-3", "--addr", addr}},
		{"err-addr-bad-token", 1, []string{"cancel", "sleep-3", "--addr", addr, "--token", "guess"}},
		{"err-addr-unknown-run", 1, []string{"cancel", "no-such-run", "--addr", addr, "--token", "s3cret"}},
		{"err-addr-ended", 1, []string{"terminate", "sleep-2", "--reason", "again", "--addr", addr, "--token", "s3cret"}},
		{"err-addr-ended-signal", 1, []string{"signal", "inbox-done", "approve", `{}`, "--addr", addr, "--token", "s3cret", "--json"}},
		{"err-addr-not-dashboard", 1, []string{"cancel", "sleep-3", "--addr", srv.URL, "--token", "s3cret"}},
		{"err-addr-redirect", 1, []string{"cancel", "sleep-3", "--addr", srv.URL + "/old", "--token", "s3cret"}},
		{"err-addr-bad-json", 2, []string{"signal", "inbox-1", "approve", `{`, "--addr", addr, "--token", "s3cret"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := f.run(c.args...)
			require.Equal(t, c.code, code, out)
			golden(t, c.name, out)
		})
	}

	// The token from the environment, and a bare HOST:PORT address.
	t.Setenv("CHORUS_TOKEN", "s3cret")
	code, out := f.run("cancel", "sleep-3", "--addr", strings.TrimPrefix(addr, "http://"))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "ops:erin")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inbox, err := chorus.Lookup(ctx, eng, f.inbox, "inbox-1")
	require.NoError(t, err)
	got, err := inbox.Result(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"by": "ann"}, got)
	actions, queued, after := notes(t, eng, "inbox-1")
	require.Empty(t, queued, "the owning process delivers the signal at once")
	require.Equal(t, []history.OperatorAction{{Action: history.ActionSignal, Signal: "approve", Identity: "ops:erin"}}, actions)
	require.Equal(t, []history.EventType{history.EventSignalReceived}, after)
	for _, id := range []string{"sleep-1", "sleep-3"} {
		run, err := chorus.Lookup(ctx, eng, f.sleeper, id)
		require.NoError(t, err)
		_, err = run.Result(ctx)
		require.ErrorIs(t, err, chorus.ErrCanceled, id)
		actions, queued, after := notes(t, eng, id)
		require.Empty(t, queued, id)
		require.Equal(t, []history.OperatorAction{{Action: history.ActionCancel, Identity: "ops:erin"}}, actions, id)
		require.Equal(t, []history.EventType{history.EventCancelRequested}, after, id)
	}
	run, err := chorus.Lookup(ctx, eng, f.sleeper, "sleep-2")
	require.NoError(t, err)
	_, err = run.Result(ctx)
	var we *chorus.WorkflowError
	require.ErrorAs(t, err, &we)
	require.True(t, we.Terminated)
	require.Equal(t, "bad order", we.Message)
	actions, _, _ = notes(t, eng, "sleep-2")
	require.Equal(t, []history.OperatorAction{{Action: history.ActionTerminate, Identity: "ops:erin", Reason: "bad order"}}, actions)
	// Nothing but those: the refused calls changed nothing.
	for _, id := range []string{"inbox-done", "sleep-4"} {
		actions, queued, _ := notes(t, eng, id)
		require.Empty(t, actions, id)
		require.Empty(t, queued, id)
	}
}

// `chorus serve` does not own the file and takes no actions: an action
// sent to it says so, and where to send it instead. A process that is not
// there is reported as such.
func TestActThroughReadOnlyDashboard(t *testing.T) {
	f := newActFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sqlite.OpenReadOnly(ctx, f.path, nil)
	require.NoError(t, err)
	defer st.Close()
	h, err := ui.StoreHandler(st, nil)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	f.masks[srv.URL] = "URL"
	code, out := f.run("cancel", "sleep-1", "--addr", srv.URL)
	require.Equal(t, 1, code, out)
	golden(t, "err-addr-read-only", out)

	srv.Close()
	code, out = f.run("terminate", "sleep-1", "--reason", "r", "--addr", srv.URL)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "cannot reach the process at URL")
}

package human_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/human"
	chorustest "github.com/chorusdev/chorus/testing"
)

// hook is a webhook receiver that verifies each delivery and answers with
// the next status of its script (200 once the script is used up).
type hook struct {
	secret []byte
	mu     sync.Mutex
	script []int
	got    []human.Notice
	bad    []error
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := human.VerifyWebhook(h.secret, r.Header, body, time.Minute, time.Now()); err != nil {
		h.bad = append(h.bad, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var n human.Notice
	if err := json.Unmarshal(body, &n); err != nil {
		h.bad = append(h.bad, err)
	}
	h.got = append(h.got, n)
	status := http.StatusOK
	if len(h.script) > 0 {
		status, h.script = h.script[0], h.script[1:]
	}
	w.WriteHeader(status)
}

func newHook(t *testing.T, script ...int) (*hook, *httptest.Server) {
	h := &hook{secret: []byte("s3cret"), script: script}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

func TestWebhookSignedAndRetriedAfter500(t *testing.T) {
	h, srv := newHook(t, http.StatusInternalServerError, http.StatusBadGateway)
	w := human.Webhook(srv.URL, "s3cret")
	w.Client, w.Backoff = srv.Client(), time.Nanosecond
	n := human.Notice{Event: "assigned", RunID: "r", TaskID: "t-1", Task: "t", Assignee: "ann"}
	require.NoError(t, w.Notify(ctxT(t), n))
	require.Empty(t, h.bad)
	require.Equal(t, []human.Notice{n, n, n}, h.got, "two failures, then delivered")

	// A wrong secret, a changed body, an old timestamp are refused.
	hdr := http.Header{}
	hdr.Set(human.TimestampHeader, "1000")
	body := []byte(`{"event":"assigned"}`)
	hdr.Set(human.SignatureHeader, "sha256=00")
	require.ErrorIs(t, human.VerifyWebhook([]byte("s3cret"), hdr, body, 0, time.Now()), human.ErrBadSignature)
	w2 := &human.WebhookNotifier{URL: srv.URL, Secret: []byte("other"), Client: srv.Client(), Attempts: 1}
	err := w2.Notify(ctxT(t), n)
	var we *human.WebhookError
	require.ErrorAs(t, err, &we)
	require.Equal(t, http.StatusUnauthorized, we.Status)
	require.Equal(t, 1, we.Attempts, "a 4xx is final")
	h.mu.Lock()
	require.Len(t, h.bad, 1)
	require.ErrorIs(t, h.bad[0], human.ErrBadSignature)
	h.mu.Unlock()
}

func TestWebhookGivesUpAfterAttempts(t *testing.T) {
	h, srv := newHook(t, 500, 500, 500, 500)
	w := &human.WebhookNotifier{URL: srv.URL, Secret: h.secret, Client: srv.Client(), Attempts: 2, Backoff: time.Nanosecond}
	err := w.Notify(ctxT(t), human.Notice{Event: "escalated"})
	var we *human.WebhookError
	require.ErrorAs(t, err, &we)
	require.Equal(t, 2, we.Attempts)
	require.Equal(t, 500, we.Status)
	require.Len(t, h.got, 2)
}

// A notifier that keeps failing is tried NotifyAttempts times on the
// engine's clock, recorded in the audit, and never holds the task up.
func TestFailingNotifierNeverBlocksAsk(t *testing.T) {
	h, srv := newHook(t, 500, 500, 500, 500, 500, 500, 500, 500, 500)
	w := &human.WebhookNotifier{URL: srv.URL, Secret: h.secret, Client: srv.Client(), Attempts: 3, Backoff: time.Nanosecond}
	wf := reviewFlow("review-hook", human.Options{Assign: human.ToUser("ann")})
	env, inbox := newEnv(t, people(), w, wf)
	ctx := ctxT(t)
	run := chorustest.Start(env, wf, Claim{}, &chorus.StartOptions{ID: "hook"})
	env.Settle()
	env.Advance(time.Minute) // the notify activity's retries, 1s then 2s apart
	v := onlyTask(t, inbox, env, "hook")
	require.Equal(t, human.StateOpen, v.State)
	require.Equal(t, []string{"created", "assigned", "notify-failed"}, actions(v))
	require.Contains(t, v.Audit[2].Detail, "status 500 after 3 attempt(s)")
	h.mu.Lock()
	require.Len(t, h.got, 3*human.NotifyAttempts)
	require.Equal(t, "ann", h.got[0].Assignee)
	require.Equal(t, []human.User{{ID: "ann", Groups: []string{"adjusters"}, Skills: []string{"fraud"}}}, h.got[0].Users)
	h.mu.Unlock()

	_, err := inbox.Complete(ctx, "ann", "hook", v.ID, Decision{Outcome: "approve"})
	require.NoError(t, err)
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "approve", got.Outcome)
}

// A receiver that hangs does not delay the answer: the notification runs
// beside the task, and is dropped when the run ends.
func TestHangingWebhookDoesNotBlockAsk(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	w := &human.WebhookNotifier{URL: srv.URL, Secret: []byte("k"), Client: srv.Client(), Attempts: 1}
	wf := reviewFlow("review-hang", human.Options{Assign: human.ToUser("ann")})
	env, inbox := newEnv(t, people(), w, wf)
	ctx := ctxT(t)
	run := chorustest.Start(env, wf, Claim{}, &chorus.StartOptions{ID: "hang"})
	<-entered // the notification is stuck in the receiver
	list, err := inbox.List(ctx, "ann")
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, err = inbox.Complete(ctx, "ann", "hang", list[0].ID, Decision{Outcome: "deny"})
	require.NoError(t, err)
	got, err := chorustest.Result(env, run)
	require.NoError(t, err)
	require.Equal(t, "deny", got.Outcome)
}

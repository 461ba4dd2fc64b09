package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/ui"
	"github.com/chorusdev/chorus/workflow"
)

// Application is the context of a loan review.
type Application struct {
	Applicant string   `json:"applicant"`
	Amount    int      `json:"amount"`
	Score     float64  `json:"score"`
	Notes     []string `json:"notes"`
}

// Verdict is a loan review's outcome.
type Verdict struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	Limit   int    `json:"limit,omitempty"`
	Secured bool   `json:"secured,omitempty"`
}

var LoanReview = human.NewTask[Application, Verdict]("loan-review")

// tokens are the test's credentials: a bearer token per person.
var tokens = map[string]string{"tok-ann": "ann", "tok-bob": "bob", "tok-zed": "zed", "tok-eve": "eve"}

// people authenticates by the bearer token, as an application's
// middleware would.
var people = ui.AuthFunc(func(r *http.Request) (string, error) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if u, ok := tokens[tok]; ok {
		return u, nil
	}
	return "", ui.ErrNoCredentials
})

// inboxFixture is an engine whose runs ask people, with a dashboard that
// serves the inbox.
type inboxFixture struct {
	path  string
	eng   *chorus.Engine
	inbox *human.Inbox
	h     http.Handler
	runs  map[string]*chorus.Run[Verdict]
}

// newInboxFixture starts runs loan-1 to loan-n, each asking the group
// underwriters (ann, bob) for a verdict; zed is in marketing, eve is not
// in the directory.
func newInboxFixture(t *testing.T, n int) *inboxFixture {
	t.Helper()
	ctx := context.Background()
	dir := human.NewMemoryDirectory().Add(
		human.User{ID: "ann", Groups: []string{"underwriters"}},
		human.User{ID: "bob", Groups: []string{"underwriters"}},
		human.User{ID: "zed", Groups: []string{"marketing"}},
	)
	loan := workflow.New("loan", func(ctx workflow.Context, a Application) (Verdict, error) {
		ctx = human.Enable(ctx)
		return human.Ask(ctx, LoanReview, a, &human.Options{
			Assign:   human.ToGroup("underwriters"),
			Priority: 2,
			Deadline: 48 * time.Hour,
			Title:    "Review the loan of " + a.Applicant,
		})
	})
	path := filepath.Join(t.TempDir(), "chorus.db")
	eng, err := chorus.Open(ctx, path, &chorus.Options{
		Definitions: append(human.Definitions(dir, nil), loan),
		Logger:      slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Close(cctx)
	})
	inbox := human.NewInbox(eng, dir)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	runs := map[string]*chorus.Run[Verdict]{}
	for i := 1; i <= n; i++ {
		a := Application{Applicant: fmt.Sprintf("Applicant %d", i), Amount: 1000 * i, Score: 0.5, Notes: []string{"self-employed", "second loan"}}
		id := fmt.Sprintf("loan-%d", i)
		r, err := chorus.Start(tctx, eng, loan, a, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		runs[id] = r
	}
	// The assignment and the notification are activities: wait until
	// every task is in ann's inbox and notified, so that the journals are
	// quiet.
	require.NoError(t, testutil.Await(tctx, eng, "the tasks to reach the inbox", func() (bool, error) {
		list, err := inbox.List(tctx, "ann")
		notified := 0
		for _, v := range list {
			for _, a := range v.Audit {
				if a.Action == "notified" {
					notified++
				}
			}
		}
		return notified == n, err
	}))
	h, err := ui.Handler(eng, &ui.Options{Auth: people, Inbox: inbox})
	require.NoError(t, err)
	return &inboxFixture{path: path, eng: eng, inbox: inbox, h: h, runs: runs}
}

const task1 = "loan-review-1"

// events is the length of the run's journal.
func (f *inboxFixture) events(t *testing.T, id string) int {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenReadOnly(ctx, f.path, nil)
	require.NoError(t, err)
	defer st.Close()
	evs, err := st.Events(ctx, id, 0)
	require.NoError(t, err)
	return len(evs)
}

// signInAs exchanges a person's token for a session cookie.
func signInAs(t *testing.T, h http.Handler, tok string) *http.Cookie {
	t.Helper()
	w := do(t, h, req{method: "POST", path: "/login", form: url.Values{"token": {tok}, "next": {"/inbox/"}}, html: true})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	for _, c := range w.Result().Cookies() {
		if c.Name == "chorus_session" {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

var formCSRF = regexp.MustCompile(`name="(\w+)" class="action">\s*<input type="hidden" name="csrf" value="([^"]+)"`)

// formToken returns the CSRF token of the task page's form name; it fails
// the test when the page has no such form.
func formToken(t *testing.T, page, name string) string {
	t.Helper()
	for _, m := range formCSRF.FindAllStringSubmatch(page, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	t.Fatalf("no form %q on the page:\n%s", name, page)
	return ""
}

// sessionCSRF is the CSRF token of the session's forms.
func sessionCSRF(t *testing.T, h http.Handler, c *http.Cookie) string {
	t.Helper()
	var s struct {
		Token string `json:"csrf_token"`
	}
	require.NoError(t, json.Unmarshal(do(t, h, req{path: "/api/session", cookie: c}).Body.Bytes(), &s))
	require.NotEmpty(t, s.Token)
	return s.Token
}

// taskOf reads a task through the API.
func taskOf(t *testing.T, h http.Handler, run, task string) human.TaskView {
	t.Helper()
	w := do(t, h, req{path: "/api/inbox/" + run + "/" + task, bearer: "tok-ann"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var v human.TaskView
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v))
	return v
}

// Every inbox route answers 401 without credentials and with a wrong
// token, and serves with a person's token. Without an inbox the routes
// do not exist.
func TestInboxRoutesNeedCredentials(t *testing.T) {
	f := newInboxFixture(t, 1)
	routes := []req{
		{path: "/inbox/", html: true},
		{path: "/inbox/loan-1/" + task1, html: true},
		{path: "/api/inbox"},
		{path: "/api/inbox/loan-1/" + task1},
		{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/comment", body: `{"text":"looking"}`},
		{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/claim"},
		{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/release", body: `{}`},
		{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/reassign", body: `{"to_group":"underwriters"}`},
		{method: "POST", path: "/inbox/loan-1/" + task1 + "/claim", form: url.Values{}, html: true},
		{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/complete", body: `{"outcome":{"outcome":"approve"}}`},
	}
	before := f.events(t, "loan-1")
	for _, r := range routes {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			w := do(t, f.h, r)
			require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			if r.html {
				require.Contains(t, w.Body.String(), `name="token"`)
			} else {
				_, code, _ := apiErr(t, w)
				require.Equal(t, "unauthorized", code)
			}
			r.bearer = "tok-nobody"
			require.Equal(t, http.StatusUnauthorized, do(t, f.h, r).Code)
		})
	}
	require.Equal(t, before, f.events(t, "loan-1"), "a request without credentials wrote to the journal")
	for _, r := range routes {
		if r.form != nil {
			continue // a form needs a session's CSRF token: TestInboxCSRF
		}
		r.bearer = "tok-ann"
		w := do(t, f.h, r)
		require.Less(t, w.Code, 400, r.method+" "+r.path+": "+w.Body.String())
	}
	f.waitDone(t, "loan-1")

	plain, err := ui.Handler(f.eng, &ui.Options{Auth: people})
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, do(t, plain, req{path: "/api/inbox", bearer: "tok-ann"}).Code)
	page := do(t, plain, req{path: "/", bearer: "tok-ann", html: true}).Body.String()
	require.NotContains(t, page, `id="nav-inbox"`)
}

// waitDone waits until the run has completed and returns its result.
func (f *inboxFixture) waitDone(t *testing.T, id string) Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := f.runs[id].Result(ctx)
	require.NoError(t, err, "run %s", id)
	return v
}

// A form without the session's CSRF token, or with another session's, is
// refused 403, as is a cookie-authenticated API call without it; the
// journal is unchanged.
func TestInboxCSRF(t *testing.T) {
	f := newInboxFixture(t, 1)
	ann := signInAs(t, f.h, "tok-ann")
	bob := signInAs(t, f.h, "tok-bob")
	bobPage := do(t, f.h, req{path: "/inbox/loan-1/" + task1, cookie: bob, html: true}).Body.String()
	before := f.events(t, "loan-1")
	for _, tok := range []string{"", "forged", formToken(t, bobPage, "claim")} {
		w := do(t, f.h, req{method: "POST", path: "/inbox/loan-1/" + task1 + "/claim", cookie: ann, form: url.Values{"csrf": {tok}}, html: true})
		require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
		require.Contains(t, w.Body.String(), "CSRF token missing or invalid")
		w = do(t, f.h, req{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/complete", cookie: ann,
			body: `{"outcome":{"outcome":"approve"}}`, header: map[string]string{"X-CSRF-Token": tok}})
		require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
		_, code, field := apiErr(t, w)
		require.Equal(t, "csrf", code)
		require.Equal(t, "csrf", field)
	}
	require.Equal(t, before, f.events(t, "loan-1"))
	require.Equal(t, human.StateOpen, taskOf(t, f.h, "loan-1", task1).State)
}

// Someone who is neither the assignee nor a member of the assigned group
// is refused 403, through the API and the page, and nothing is written;
// someone not in the directory is refused too.
func TestInboxNotAuthorized(t *testing.T) {
	f := newInboxFixture(t, 1)
	before := f.events(t, "loan-1")
	for _, a := range []struct{ action, body string }{
		{"claim", ""}, {"complete", `{"outcome":{"outcome":"approve"}}`}, {"comment", `{"text":"hi"}`},
		{"reassign", `{"to_user":"zed"}`},
	} {
		w := do(t, f.h, req{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/" + a.action, bearer: "tok-zed", body: a.body})
		require.Equal(t, http.StatusForbidden, w.Code, a.action+": "+w.Body.String())
		msg, code, _ := apiErr(t, w)
		require.Equal(t, "not_authorized", code)
		require.Contains(t, msg, "not authorized")
	}
	w := do(t, f.h, req{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/claim", bearer: "tok-eve"})
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	_, code, _ := apiErr(t, w)
	require.Equal(t, "unknown_user", code)

	// Through the page: the refusal is shown plainly, the task as it was.
	zed := signInAs(t, f.h, "tok-zed")
	page := do(t, f.h, req{path: "/inbox/loan-1/" + task1, cookie: zed, html: true}).Body.String()
	w = do(t, f.h, req{method: "POST", path: "/inbox/loan-1/" + task1 + "/complete", cookie: zed, html: true,
		form: url.Values{"csrf": {formToken(t, page, "complete")}, "outcome": {`{"outcome":"approve"}`}}})
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `id="task-error" data-code="not_authorized">Not authorized for this task: it is assigned to group underwriters`)
	require.Contains(t, w.Body.String(), `id="task-state" data-state="open"`)
	require.Contains(t, w.Body.String(), `{&#34;outcome&#34;:&#34;approve&#34;}</textarea>`, "the outcome typed is kept")

	// zed's inbox is empty; eve's says why she has none.
	var list struct {
		Identity string
		Tasks    []human.TaskView
	}
	w = do(t, f.h, req{path: "/api/inbox", bearer: "tok-zed"})
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &list))
	require.Equal(t, "zed", list.Identity)
	require.Empty(t, list.Tasks)
	w = do(t, f.h, req{path: "/inbox/", bearer: "tok-eve", html: true})
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Contains(t, w.Body.String(), `id="inbox-error"`)
	require.Contains(t, w.Body.String(), `Unknown user or group: user &#34;eve&#34;`)

	require.Equal(t, before, f.events(t, "loan-1"), "a refused action wrote to the journal")
	v := taskOf(t, f.h, "loan-1", task1)
	require.Equal(t, human.StateOpen, v.State)
	require.Empty(t, v.Comments)
}

// A person claims and completes a task through the pages: the inbox lists
// it, the task page shows its context, an invalid outcome is refused (the
// task stays claimed), a valid one completes the run with it, the audit
// names the person, and a second completion is refused.
func TestInboxClaimAndCompleteThroughForm(t *testing.T) {
	f := newInboxFixture(t, 2)
	ann := signInAs(t, f.h, "tok-ann")

	w := do(t, f.h, req{path: "/inbox/", cookie: ann, html: true})
	require.Equal(t, http.StatusOK, w.Code)
	page := w.Body.String()
	require.Contains(t, page, `<table id="inbox">`)
	require.Contains(t, page, `id="nav-inbox" class="current">Inbox</a>`)
	require.Contains(t, page, `<tr data-task="loan-review-1" data-run="loan-1" data-state="open">`)
	require.Contains(t, page, `<tr data-task="loan-review-1" data-run="loan-2" data-state="open">`)
	require.Contains(t, page, `href="/inbox/loan-1/loan-review-1" class="task-link">Review the loan of Applicant 1</a>`)
	require.Contains(t, page, "applicant: Applicant 1 · amount: 1000 · score: 0.5")
	require.Contains(t, page, "group underwriters")

	page = do(t, f.h, req{path: "/inbox/loan-1/" + task1, cookie: ann, html: true}).Body.String()
	require.Contains(t, page, `<dt>applicant</dt><dd>Applicant 1</dd><dt>amount</dt><dd>1000</dd>`)
	require.Contains(t, page, `<dt>notes</dt><dd><ol class="ctx"><li>self-employed</li><li>second loan</li></ol></dd>`)
	require.Contains(t, page, `<ol id="audit">`)
	w = do(t, f.h, req{method: "POST", path: "/inbox/loan-1/" + task1 + "/claim", cookie: ann, html: true,
		form: url.Values{"csrf": {formToken(t, page, "claim")}}})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	require.Equal(t, "/inbox/loan-1/loan-review-1?done=claim", w.Header().Get("Location"))

	page = do(t, f.h, req{path: "/inbox/loan-1/" + task1 + "?done=claim", cookie: ann, html: true}).Body.String()
	require.Contains(t, page, "Task claimed.")
	require.Contains(t, page, `<span id="task-state" data-state="claimed">`)
	require.Contains(t, page, `by <b id="claimed-by">ann</b>`)
	require.Contains(t, page, `name="release"`)

	// bob cannot take it now.
	bobPage := do(t, f.h, req{path: "/inbox/loan-1/" + task1, bearer: "tok-bob", html: true}).Body.String()
	require.NotContains(t, bobPage, `name="claim"`)
	require.Contains(t, bobPage, "ann holds this task")
	w = do(t, f.h, req{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/claim", bearer: "tok-bob"})
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	_, code, _ := apiErr(t, w)
	require.Equal(t, "already_claimed", code)

	// An outcome that is not a Verdict is refused, naming what was wrong.
	before := f.events(t, "loan-1")
	w = do(t, f.h, req{method: "POST", path: "/inbox/loan-1/" + task1 + "/complete", cookie: ann, html: true,
		form: url.Values{"csrf": {formToken(t, page, "complete")}, "outcome": {`{"outcome":"approve","colour":"red"}`}}})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `data-code="bad_input">Invalid outcome for task loan-review: json: unknown field &#34;colour&#34;`)
	require.Contains(t, w.Body.String(), `data-state="claimed"`)
	require.Equal(t, before, f.events(t, "loan-1"))

	w = do(t, f.h, req{method: "POST", path: "/inbox/loan-1/" + task1 + "/complete", cookie: ann, html: true,
		form: url.Values{"csrf": {formToken(t, page, "complete")}, "outcome": {`{outcome: approve}`}}})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `data-code="bad_input">The outcome is not valid JSON: invalid character &#39;o&#39;`)
	require.Equal(t, before, f.events(t, "loan-1"))

	w = do(t, f.h, req{method: "POST", path: "/inbox/loan-1/" + task1 + "/complete", cookie: ann, html: true,
		form: url.Values{"csrf": {formToken(t, page, "complete")}, "outcome": {`{"outcome":"approve","reason":"steady income"}`}}})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	require.Equal(t, Verdict{Outcome: "approve", Reason: "steady income"}, f.waitDone(t, "loan-1"))

	page = do(t, f.h, req{path: "/inbox/loan-1/" + task1 + "?done=complete", cookie: ann, html: true}).Body.String()
	require.Contains(t, page, `<span id="task-state" data-state="completed">`)
	require.Contains(t, page, `<dd id="completed-by">ann</dd>`)
	require.Contains(t, page, `<li data-action="claimed" data-user="ann">`)
	require.Contains(t, page, `<li data-action="completed" data-user="ann">`)
	require.NotContains(t, page, `name="complete"`)
	require.Contains(t, page, "This task is completed: nothing more to decide.")

	// A second completion is refused; the run's answer stays the first.
	w = do(t, f.h, req{method: "POST", path: "/inbox/loan-1/" + task1 + "/complete", cookie: ann, html: true,
		form: url.Values{"csrf": {sessionCSRF(t, f.h, ann)}, "outcome": {`{"outcome":"reject"}`}}})
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `data-code="task_closed">Task is closed`)
	w = do(t, f.h, req{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/complete", bearer: "tok-ann", body: `{"outcome":{"outcome":"reject"}}`})
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	_, code, _ = apiErr(t, w)
	require.Equal(t, "task_closed", code)
	require.Equal(t, Verdict{Outcome: "approve", Reason: "steady income"}, f.waitDone(t, "loan-1"))

	// The inbox no longer lists it; the other loan waits.
	page = do(t, f.h, req{path: "/inbox/", cookie: ann, html: true}).Body.String()
	require.NotContains(t, page, `data-run="loan-1"`)
	require.Contains(t, page, `data-run="loan-2"`)

	// The run page links to its task.
	page = do(t, f.h, req{path: "/runs/loan-1", cookie: ann, html: true}).Body.String()
	require.Contains(t, page, `<section id="human-tasks">`)
	require.Contains(t, page, `<a href="/inbox/loan-1/loan-review-1" class="task-link">loan-review-1</a>`)
}

// The JSON API: list, read, claim, comment, release, reassign, complete,
// with the human errors mapped to statuses.
func TestInboxAPI(t *testing.T) {
	f := newInboxFixture(t, 1)
	post := func(tok, action, body string) (int, map[string]any) {
		w := do(t, f.h, req{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/" + action, bearer: tok, body: body})
		var out map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out), w.Body.String())
		return w.Code, out
	}
	var list struct {
		Identity string
		Tasks    []human.TaskView
	}
	w := do(t, f.h, req{path: "/api/inbox", bearer: "tok-bob"})
	require.Equal(t, http.StatusOK, w.Code)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &list))
	require.Equal(t, "bob", list.Identity)
	require.Len(t, list.Tasks, 1)
	require.Equal(t, "loan-1", list.Tasks[0].RunID)
	in, err := LoanReview.Input(list.Tasks[0])
	require.NoError(t, err)
	require.Equal(t, 1000, in.Amount)

	status, out := post("tok-bob", "claim", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "bob", out["identity"])
	require.Equal(t, "claimed", out["task"].(map[string]any)["state"])
	status, out = post("tok-bob", "comment", `{"text":"need the payslips"}`)
	require.Equal(t, http.StatusOK, status, out)
	status, out = post("tok-ann", "release", "")
	require.Equal(t, http.StatusConflict, status, out)
	require.Equal(t, "not_claimed", out["code"])
	status, out = post("tok-bob", "release", "{}")
	require.Equal(t, http.StatusOK, status, out)
	status, out = post("tok-bob", "reassign", `{"to_user":"ann"}`)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "ann", out["task"].(map[string]any)["assignee"])

	// Bad bodies name their field.
	for _, c := range []struct{ action, body, field string }{
		{"complete", `{}`, "outcome"},
		{"complete", `{"outcome":{"outcome":7}}`, "outcome"},
		{"complete", `{"outcome":"approve"}`, "outcome"},
		{"comment", `{"text":""}`, "text"},
		{"comment", `{"txt":"x"}`, "txt"},
		{"reassign", `{}`, "to_user"},
		{"reassign", `{"to_user":"nobody"}`, "to_user"},
		{"reassign", `{"to_group":"nobody"}`, "to_group"},
		{"claim", `{"user":"bob"}`, "user"},
	} {
		status, out = post("tok-ann", c.action, c.body)
		require.Equal(t, http.StatusBadRequest, status, "%s %s: %v", c.action, c.body, out)
		require.Equal(t, "bad_input", out["code"], out)
		require.Equal(t, c.field, out["field"], out)
	}
	require.Equal(t, human.StateOpen, taskOf(t, f.h, "loan-1", task1).State)

	// Unknown tasks and runs are 404, through the API and the page.
	for _, p := range []string{"/api/inbox/loan-1/loan-review-9", "/api/inbox/nope/" + task1} {
		w = do(t, f.h, req{path: p, bearer: "tok-ann"})
		require.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
		_, code, _ := apiErr(t, w)
		require.Equal(t, "not_found", code)
	}
	w = do(t, f.h, req{method: "POST", path: "/api/inbox/loan-1/loan-review-9/claim", bearer: "tok-ann"})
	require.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
	w = do(t, f.h, req{path: "/inbox/loan-1/loan-review-9", bearer: "tok-ann", html: true})
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), "Unknown task")
	w = do(t, f.h, req{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/approve", bearer: "tok-ann"})
	require.Equal(t, http.StatusNotFound, w.Code)

	// ann completes it directly, without claiming.
	status, out = post("tok-ann", "complete", `{"outcome":{"outcome":"refer"}}`)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, Verdict{Outcome: "refer"}, f.waitDone(t, "loan-1"))
	v := taskOf(t, f.h, "loan-1", task1)
	require.Equal(t, "ann", v.CompletedBy)
	require.Equal(t, "need the payslips", v.Comments[0].Text)
	var trail []string
	for _, a := range v.Audit {
		if a.User != "" {
			trail = append(trail, a.Action+" "+a.User)
		}
	}
	require.Equal(t, []string{"claimed bob", "commented bob", "released bob", "reassigned bob", "completed ann"}, trail)
}

// A read-only dashboard shows tasks without forms and refuses actions.
func TestInboxReadOnly(t *testing.T) {
	f := newInboxFixture(t, 1)
	h, err := ui.Handler(f.eng, &ui.Options{Auth: people, Inbox: f.inbox, ReadOnly: true})
	require.NoError(t, err)
	page := do(t, h, req{path: "/inbox/loan-1/" + task1, bearer: "tok-ann", html: true}).Body.String()
	require.NotContains(t, page, `name="claim"`)
	require.Contains(t, page, "read-only")
	w := do(t, h, req{method: "POST", path: "/api/inbox/loan-1/" + task1 + "/claim", bearer: "tok-ann"})
	require.Equal(t, http.StatusForbidden, w.Code)
	_, code, _ := apiErr(t, w)
	require.Equal(t, "actions_disabled", code)
}

// With an example outcome for the task kind, the task page offers a field
// per field of the outcome, and the outcome they make completes the task;
// a number that is not one is refused naming the field. An example that
// cannot make fields is refused when the handler is made.
func TestInboxOutcomeFields(t *testing.T) {
	f := newInboxFixture(t, 1)
	for _, ex := range []any{"approve", Application{Notes: []string{"x"}}, struct{}{}, map[string]any{"a": nil}} {
		_, err := ui.Handler(f.eng, &ui.Options{Auth: people, Inbox: f.inbox, Outcomes: map[string]any{"loan-review": ex}})
		require.ErrorContains(t, err, `Options.Outcomes["loan-review"]`, "%#v", ex)
	}
	h, err := ui.Handler(f.eng, &ui.Options{Auth: people, Inbox: f.inbox,
		Outcomes: map[string]any{"loan-review": Verdict{Outcome: "approve", Reason: "-", Limit: 1000, Secured: true}}})
	require.NoError(t, err)
	ann := signInAs(t, h, "tok-ann")
	page := do(t, h, req{path: "/inbox/loan-1/" + task1, cookie: ann, html: true}).Body.String()
	require.Contains(t, page, `name="complete-fields"`)
	require.Contains(t, page, `<input type="text" name="value.outcome" value="approve">`)
	require.Contains(t, page, `<input type="text" inputmode="decimal" name="value.limit" value="1000">`)
	require.Contains(t, page, `<input type="checkbox" name="value.secured" value="true" checked>`)
	require.Contains(t, page, `<textarea name="outcome"`, "the JSON form stays")

	fields := func(limit string) url.Values {
		return url.Values{"csrf": {sessionCSRF(t, h, ann)}, "form": {"fields"},
			"field":        {"outcome", "reason", "limit", "secured"},
			"kind.outcome": {"string"}, "kind.reason": {"string"}, "kind.limit": {"number"}, "kind.secured": {"bool"},
			"value.outcome": {"approve"}, "value.reason": {"collateral \"house\""}, "value.limit": {limit}}
	}
	before := f.events(t, "loan-1")
	w := do(t, h, req{method: "POST", path: "/inbox/loan-1/" + task1 + "/complete", cookie: ann, html: true, form: fields("lots")})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `data-code="bad_input">Field limit: &#34;lots&#34; is not a number`)
	require.Equal(t, before, f.events(t, "loan-1"))

	w = do(t, h, req{method: "POST", path: "/inbox/loan-1/" + task1 + "/complete", cookie: ann, html: true, form: fields("2500")})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	// The checkbox was left unchecked: false.
	require.Equal(t, Verdict{Outcome: "approve", Reason: `collateral "house"`, Limit: 2500}, f.waitDone(t, "loan-1"))
}

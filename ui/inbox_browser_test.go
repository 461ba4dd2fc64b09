//go:build browser

package ui_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserInbox is a person working the inbox in headless Chromium:
// ann signs in with her token, finds her group's tasks in the inbox,
// opens one, claims it, has a malformed outcome refused with the reason,
// completes it, and the run ends with her answer. The subtests run in
// order in one tab; each needs the ones before.
func TestBrowserInbox(t *testing.T) {
	ctx := newBrowser(t) // first: it skips without Chromium
	f := newInboxFixture(t, 2)
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	b := &tab{ctx: ctx, base: srv.URL, shots: screenshotDir(t)}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"SignIn", func(t *testing.T) {
			b.open(t, "/inbox/", http.StatusUnauthorized, "#login")
			b.do(t, chromedp.SendKeys(chromedp.CSS(`#login input[name="token"]`), "tok-ann"))
			b.submit(t, `#login button[type="submit"]`, "table#inbox")
			require.Contains(t, b.text(t, "#who"), "ann")
		}},
		{"Inbox", func(t *testing.T) {
			require.Equal(t, []string{"loan-1", "loan-2"}, b.attrs(t, "#inbox tr[data-task][data-run]", "data-run"))
			require.Contains(t, b.text(t, `#inbox tr[data-run="loan-1"]`), "applicant: Applicant 1")
			b.screenshot(t, "dashboard-inbox.png")
			b.submit(t, `#inbox tr[data-run="loan-1"] a.task-link`, "#task-state")
			require.Equal(t, []string{"open"}, b.attrs(t, "#task-state", "data-state"))
			require.Contains(t, b.text(t, "#task-context"), "Applicant 1")
		}},
		{"Claim", func(t *testing.T) {
			b.submit(t, `form[name=claim] button[type="submit"]`, "#done")
			require.Equal(t, []string{"claimed"}, b.attrs(t, "#task-state", "data-state"))
			require.Equal(t, "ann", b.text(t, "#claimed-by"))
		}},
		{"InvalidOutcome", func(t *testing.T) {
			b.do(t, chromedp.SendKeys(chromedp.CSS(`form[name=complete] textarea[name=outcome]`), `{"outcome":"approve","colour":"red"}`))
			b.submitStatus(t, `form[name=complete] button[type="submit"]`, http.StatusBadRequest, "#task-error")
			require.Contains(t, b.text(t, "#task-error"), `unknown field "colour"`)
			require.Equal(t, []string{"claimed"}, b.attrs(t, "#task-state", "data-state"))
		}},
		{"Complete", func(t *testing.T) {
			b.do(t, chromedp.Clear(chromedp.CSS(`form[name=complete] textarea[name=outcome]`)))
			b.do(t, chromedp.SendKeys(chromedp.CSS(`form[name=complete] textarea[name=outcome]`), `{"outcome":"approve","reason":"steady income"}`))
			b.submit(t, `form[name=complete] button[type="submit"]`, "#done")
			require.Equal(t, []string{"completed"}, b.attrs(t, "#task-state", "data-state"))
			require.Equal(t, []string{"ann", "ann"}, b.attrs(t, `ol#audit li[data-action="claimed"], ol#audit li[data-action="completed"]`, "data-user"))
			b.screenshot(t, "dashboard-task.png")
			require.Equal(t, Verdict{Outcome: "approve", Reason: "steady income"}, f.waitDone(t, "loan-1"))
		}},
		{"AfterwardsRunPage", func(t *testing.T) {
			b.open(t, "/inbox/", http.StatusOK, "table#inbox")
			require.Equal(t, []string{"loan-2"}, b.attrs(t, "#inbox tr[data-task][data-run]", "data-run"))
			b.open(t, "/runs/loan-1", http.StatusOK, "#human-tasks")
			b.submit(t, "#human-tasks a.task-link", "ol#audit")
			require.Equal(t, []string{"completed"}, b.attrs(t, "#task-state", "data-state"))
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("%s failed; the steps after it need it", s.name)
		}
	}
}

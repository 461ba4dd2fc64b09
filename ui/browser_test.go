//go:build browser

// The dashboard, driven by headless Chromium: go test -tags browser -run
// Browser ./ui/ (.ci/run installs Chromium and runs it). Screenshots of
// the pages go to $CHORUS_SCREENSHOTS, or to a new temporary directory.

package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/ui"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// The operator signs in with this token; the dashboard journals the
// actions taken with it under this identity.
const (
	browserToken = "browser-test-token"
	operator     = "ops-oncall"
)

// stepTimeout bounds each browser step. It only turns a hung step into a
// failure: every step waits for an element or a page load, never for time.
const stepTimeout = 30 * time.Second

// newBrowser starts headless Chromium with a fresh profile and a 1280x800
// window, and returns the context of a tab in it; the browser ends with
// the test. Without Chromium the test is skipped.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("needs Chromium at %s (Debian package chromium); .ci/run installs it", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		// Without these Chromium reaches for the network, which a closed
		// network makes it wait for.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// Start the browser now, on the tab's own context: the first action
	// starts it, and it would end with a shorter context given to that
	// action.
	require.NoError(t, chromedp.Do(ctx))
	return ctx
}

// tab is the browser tab the checks drive, and the dashboard it shows.
type tab struct {
	ctx   context.Context
	base  string // the dashboard's URL, without a trailing slash
	shots string // where screenshots go
}

// do runs actions that return nothing, within stepTimeout.
func (b *tab) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, actions...))
}

// get runs an action that returns a value, within stepTimeout.
func get[T any](t *testing.T, b *tab, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// open navigates to path on the dashboard, checks the HTTP status of the
// page and waits until the element sel is visible.
func (b *tab) open(t *testing.T, path string, status int64, sel string) {
	t.Helper()
	resp := get(t, b, chromedp.NavigateResponse(b.base+path))
	require.Equal(t, status, resp.Status, "GET %s", path)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// submit clicks sel (a button or link that navigates), waits for the page
// it leads to, checks that it loaded with 200, and waits until the element
// next is visible on it.
func (b *tab) submit(t *testing.T, sel, next string) {
	t.Helper()
	b.submitStatus(t, sel, http.StatusOK, next)
}

// submitStatus is submit for a page that loads with the given status.
func (b *tab) submitStatus(t *testing.T, sel string, status int64, next string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	require.NoError(t, err, "click %s", sel)
	require.Equal(t, status, resp.Status, "after clicking %s: %s", sel, resp.URL)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(next)))
}

// text returns the visible text of the first element sel matches, its
// runs of white space (line breaks between blocks) made single spaces.
func (b *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return strings.Join(strings.Fields(get(t, b, chromedp.Text(chromedp.CSS(sel)))), " ")
}

// texts returns the visible text of every element sel matches, in page
// order.
func (b *tab) texts(t *testing.T, sel string) []string {
	t.Helper()
	return get(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll(`+jsString(sel)+`)].map(e => e.innerText)`))
}

// attrs returns the attribute name of every element sel matches, in page
// order.
func (b *tab) attrs(t *testing.T, sel, name string) []string {
	t.Helper()
	return get(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll(`+jsString(sel)+`)].map(e => e.getAttribute(`+jsString(name)+`))`))
}

// listed returns the IDs of the runs in the runs table.
func (b *tab) listed(t *testing.T) []string {
	t.Helper()
	return b.attrs(t, "#runs tbody tr[data-run-id]", "data-run-id")
}

// screenshot saves a full-page PNG of the current page as name.
func (b *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	png := get(t, b, chromedp.FullScreenshot(100))
	path := filepath.Join(b.shots, name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// jsString quotes s as a JavaScript string literal: a JSON string is one.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

// screenshotDir is $CHORUS_SCREENSHOTS, created if needed, or a new
// temporary directory that outlives the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CHORUS_SCREENSHOTS")
	if dir == "" {
		var err error
		dir, err = os.MkdirTemp("", "chorus-screenshots-")
		require.NoError(t, err)
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestBrowserDashboard signs in to the dashboard over a database of real
// runs and uses it as an operator would: lists, filters and searches runs,
// reads run timelines and a workflow's KPIs, and cancels a run through its
// form. The subtests run in order in one tab; each needs the sign-in.
func TestBrowserDashboard(t *testing.T) {
	ctx := newBrowser(t) // first: it skips without Chromium
	f := newBrowserFixture(t)
	h, err := ui.Handler(f.eng, &ui.Options{Auth: ui.LabeledBearerToken(operator, browserToken)})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &tab{ctx: ctx, base: srv.URL, shots: screenshotDir(t)}

	signedIn := t.Run("SignIn", func(t *testing.T) {
		// Without credentials every page is a 401 with the sign-in form;
		// a wrong token gets it again, saying why.
		b.open(t, "/runs/"+runTrip, http.StatusUnauthorized, "#login")
		b.do(t, chromedp.SendKeys(chromedp.CSS(`#login input[name="token"]`), "not-the-token"))
		b.submitStatus(t, `#login button[type="submit"]`, http.StatusUnauthorized, "#login-error")
		b.open(t, "/", http.StatusUnauthorized, "#login")
		b.do(t, chromedp.SendKeys(chromedp.CSS(`#login input[name="token"]`), browserToken))
		b.submit(t, `#login button[type="submit"]`, "#runs")
		require.Contains(t, b.text(t, "#who"), operator)
	})
	if !signedIn {
		t.Fatal("every other check needs the sign-in")
	}

	t.Run("RunsList", func(t *testing.T) {
		b.open(t, "/", http.StatusOK, "#runs")
		require.ElementsMatch(t, f.ids, b.listed(t))
		require.Equal(t, []string{strconv.Itoa(len(f.ids))}, b.attrs(t, "#count", "data-count"))
		b.screenshot(t, "dashboard-runs.png")
	})

	t.Run("Paging", func(t *testing.T) {
		// Pages of 5, from the first to the last through "Next page":
		// every run once, in the order of the whole list.
		b.open(t, "/?limit=5", http.StatusOK, "#runs")
		var seen []string
		for page := 1; ; page++ {
			ids := b.listed(t)
			require.LessOrEqual(t, len(ids), 5)
			seen = append(seen, ids...)
			if len(b.attrs(t, "#next-page", "href")) == 0 {
				break
			}
			require.Less(t, page, len(f.ids), "the pages never end")
			b.submit(t, "#next-page", "#runs")
		}
		want := slices.Clone(f.ids)
		slices.Sort(want)
		require.Equal(t, want, seen)
	})

	t.Run("FilterByStatus", func(t *testing.T) {
		b.open(t, "/", http.StatusOK, "#filters")
		b.do(t, chromedp.Click(chromedp.CSS(`#filters input[name="status"][value="failed"]`)))
		b.submit(t, `#filters button[type="submit"]`, "#runs")
		require.ElementsMatch(t, []string{runRefund, runTrip}, b.listed(t))
		require.Equal(t, []string{"failed", "failed"}, b.attrs(t, "#runs tbody tr[data-run-id]", "data-status"))
	})

	t.Run("SearchByAttribute", func(t *testing.T) {
		for _, c := range []struct {
			q    string
			want []string
		}{
			{"customer=globex", []string{runGlobex}},
			{"amount:int>=10000", []string{"invoice-2001", runGlobex}},
		} {
			b.open(t, "/", http.StatusOK, "#filters")
			b.do(t, chromedp.SendKeys(chromedp.CSS(`#filters input[name="q"]`), c.q))
			b.submit(t, `#filters button[type="submit"]`, "#runs")
			require.ElementsMatch(t, c.want, b.listed(t), c.q)
		}
		// An exact run ID opens the run.
		b.open(t, "/", http.StatusOK, "#filters")
		b.do(t, chromedp.SendKeys(chromedp.CSS(`#filters input[name="q"]`), runTrip))
		b.submit(t, `#filters button[type="submit"]`, "#run")
		require.Equal(t, []string{runTrip}, b.attrs(t, "#run", "data-run-id"))
	})

	t.Run("RunTimeline", func(t *testing.T) {
		// From the list to the run, as a person would.
		b.open(t, "/", http.StatusOK, "#runs")
		b.submit(t, `#runs tr[data-run-id="`+runRefund+`"] a.run-link`, "#timeline")
		require.Equal(t, []string{runRefund}, b.attrs(t, "#run", "data-run-id"))
		require.Contains(t, b.text(t, "#error"), refundFailure+" after 30s (attempt 2)")
		// The activity's row: two attempts, the error of each.
		require.Contains(t, b.text(t, `#timeline tr.item-activity`), "refund-payment")
		require.Equal(t, "2", b.text(t, `#timeline tr.item-activity td.attempts`))
		details := b.text(t, `#timeline tr.item-activity td.details`)
		require.Regexp(t, `attempt 2 failed: .*`+refundFailure+` after 30s \(attempt 2\)`, details)
		require.Regexp(t, `\(first failure 2026-11-30 09:32:51.000\): .*`+refundFailure+` after 30s \(attempt 1\)`, details)
	})

	t.Run("Compensations", func(t *testing.T) {
		b.open(t, "/runs/"+runTrip, http.StatusOK, "#compensations")
		comps := b.texts(t, "#compensations li")
		require.Len(t, comps, 4, "each compensation starts and ends: %q", comps)
		hotel := slices.IndexFunc(comps, func(s string) bool { return strings.Contains(s, "cancel-hotel") })
		flight := slices.IndexFunc(comps, func(s string) bool { return strings.Contains(s, "cancel-flight") })
		require.True(t, hotel >= 0 && flight > hotel, "the hotel is cancelled before the flight: %q", comps)
		require.Contains(t, b.text(t, "#error"), "no car available in Lisbon")
		b.screenshot(t, "dashboard-run.png")
	})

	t.Run("BlockedRun", func(t *testing.T) {
		b.open(t, "/runs/"+runBlocked, http.StatusOK, "#divergence")
		require.Equal(t, "2", b.text(t, "#divergence .div-step"))
		require.Contains(t, b.text(t, "#divergence .recorded"), "TimerScheduled")
		require.Contains(t, b.text(t, "#divergence .issued"), "check-stock")
	})

	t.Run("ChildLinked", func(t *testing.T) {
		b.open(t, "/runs/"+runParent, http.StatusOK, "#children")
		b.submit(t, `#children tr[data-run-id="`+runChild+`"] a.child-link`, "#run")
		require.Equal(t, []string{runChild}, b.attrs(t, "#run", "data-run-id"))
		require.Equal(t, runParent, b.text(t, "#parent"))
	})

	t.Run("WorkflowKPIs", func(t *testing.T) {
		// Every workflow, from the navigation bar.
		if resp := get(t, b, chromedp.NavigateResponse(b.base+"/workflows/")); resp.Status == http.StatusNotImplemented {
			t.Skip("the workflow pages answer 501: this build of the dashboard has no KPIs (internal/kpi)")
		}
		b.open(t, "/", http.StatusOK, "#runs")
		b.submit(t, `#top nav a[href$="/workflows/"]`, "#kpis")
		require.ElementsMatch(t, []string{"book-trip", "fulfil", "handle-claim", "invoice", "place-order", "refund", "send-invoice", "subscription"},
			b.attrs(t, "#kpis tbody tr[data-workflow]", "data-workflow"))

		// The orders: three completed runs of 6 s, 15 s and 2 min.
		b.submit(t, `#kpis tr[data-workflow="place-order"] a`, "#workflow")
		require.Equal(t, []string{"place-order"}, b.attrs(t, "#workflow", "data-workflow"))
		for sel, want := range map[string]string{
			"#kpi-runs": "3", "#kpi-completed": "3", "#kpi-failed": "0", "#kpi-steps": "9", "#kpi-retried-steps": "0",
		} {
			require.Equal(t, want, b.text(t, sel), sel)
		}
		require.Equal(t, []string{"End to end (runs that ended)", "3", "15s", "2m0s", "2m0s", "2m0s"},
			b.texts(t, `#kpi-durations tr[data-kpi="duration"] td`))

		// The refunds: one failed after its step's second attempt, one
		// recovered at its second attempt.
		b.open(t, "/workflows/refund", http.StatusOK, "#kpis")
		for sel, want := range map[string]string{
			"#kpi-runs": "2", "#kpi-completed": "1", "#kpi-failed": "1", "#kpi-steps": "2", "#kpi-failed-steps": "1",
			"#kpi-retried-steps": "2", "#kpi-retries": "2",
		} {
			require.Equal(t, want, b.text(t, sel), sel)
		}
		// Detected when refund-9 failed: from its first failure to the
		// end of its second attempt, a minute and 30 s later. Recovered in
		// refund-10 as long after its first failure.
		require.Equal(t, []string{"1", "1m30s"}, b.texts(t, `#kpi-durations tr[data-kpi="time-to-detect"] td`)[1:3])
		require.Equal(t, []string{"1", "1m30s"}, b.texts(t, `#kpi-durations tr[data-kpi="time-to-recover"] td`)[1:3])
		b.screenshot(t, "dashboard-workflow.png")
	})

	t.Run("CancelThroughForm", func(t *testing.T) {
		b.open(t, "/runs/"+runWaiting, http.StatusOK, "#cancel-form")
		require.Equal(t, []string{"running"}, b.attrs(t, "#run", "data-status"))
		b.submit(t, `#cancel-form button[type="submit"]`, "#done")
		require.Equal(t, []string{runWaiting}, b.attrs(t, "#run", "data-run-id"))
		require.Contains(t, b.text(t, "#done"), "Cancellation requested")

		// The journal: who canceled, and the run canceled.
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		f.waitJournal(ctx, t, runWaiting, history.EventRunCanceled)
		var acts []history.OperatorAction
		for _, ev := range f.events(t, runWaiting) {
			if ev.Type == history.EventOperatorAction {
				a, err := history.DecodeOperatorAction(ev.Payload)
				require.NoError(t, err)
				acts = append(acts, a)
			}
		}
		require.Equal(t, []history.OperatorAction{{Action: history.ActionCancel, Identity: operator}}, acts)
		info, err := f.eng.Describe(ctx, runWaiting)
		require.NoError(t, err)
		require.Equal(t, chorus.StatusCanceled, info.Status)

		// The page, loaded again, says so.
		b.open(t, "/runs/"+runWaiting, http.StatusOK, "#timeline")
		require.Equal(t, []string{"canceled"}, b.attrs(t, "#run", "data-status"))
		op := b.text(t, "#timeline tr.item-operator-action")
		require.Contains(t, op, "cancel")
		require.Contains(t, op, operator)
	})

	// Last: this dashboard's session cookie replaces the one above (the
	// cookie is per host, and both servers are on 127.0.0.1).
	t.Run("DatabaseFile", func(t *testing.T) {
		// What chorus serve shows: the file read without a lock while the
		// engine owns it; no action buttons, but the reason.
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		st, err := sqlite.OpenReadOnly(ctx, f.path, nil)
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		h, err := ui.StoreHandler(st, &ui.Options{Auth: ui.LabeledBearerToken(operator, browserToken)})
		require.NoError(t, err)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		fb := &tab{ctx: b.ctx, base: srv.URL, shots: b.shots}
		fb.open(t, "/", http.StatusUnauthorized, "#login")
		fb.do(t, chromedp.SendKeys(chromedp.CSS(`#login input[name="token"]`), browserToken))
		fb.submit(t, `#login button[type="submit"]`, "#runs")
		require.Contains(t, fb.text(t, "#mode"), "read-only")
		require.ElementsMatch(t, f.ids, fb.listed(t))

		fb.open(t, "/runs/"+runParent, http.StatusOK, "#actions-disabled")
		require.Equal(t, []string{"running"}, fb.attrs(t, "#run", "data-status"))
		require.Contains(t, fb.text(t, "#actions-disabled"), "one writer")
		require.Empty(t, fb.attrs(t, "#cancel-form", "action"))
	})
}

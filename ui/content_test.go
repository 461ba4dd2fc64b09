package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/cli"
	"github.com/chorusdev/chorus/internal/inspect"
	"github.com/chorusdev/chorus/ui"
)

// cliOut runs the chorus command and returns its output.
func cliOut(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	return out.Bytes()
}

// timelineItem returns the timeline row of the run page for step seq.
func timelineRow(t *testing.T, page string, seq string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<tr class="item[^"]*" data-seq="` + seq + `".*?</tr>`)
	m := re.FindString(page)
	require.NotEmpty(t, m, "no timeline row for step %s", seq)
	return m
}

// The run page shows what matters of each kind of run.
func TestRunPage(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, nil)
	get := func(p string) string {
		w := do(t, h, req{path: p, html: true})
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		return w.Body.String()
	}

	// A step that failed for good at its second attempt: the timeline
	// shows attempt 2's error and the first attempt's.
	page := get("/runs/reserve-1")
	require.Contains(t, page, `id="run" data-run-id="reserve-1" data-status="failed"`)
	row := timelineRow(t, page, "2")
	require.Contains(t, row, `data-kind="activity" data-status="failed"`)
	require.Contains(t, row, "attempt 2 failed:")
	require.Contains(t, row, "inventory down on attempt 2")
	require.Contains(t, row, "the attempt before")
	require.Contains(t, row, "inventory down on attempt 1")
	require.Contains(t, row, `<td class="attempts">2`)

	// A step that retries: its attempt, the error of the last one, when
	// the next one runs.
	page = get("/runs/restock-1")
	row = timelineRow(t, page, "2")
	require.Contains(t, row, `data-kind="activity" data-status="retrying"`)
	require.Contains(t, row, `<td class="attempts">2<br><small>next 2026-03-02 `)
	require.Contains(t, row, "latest failed attempt (first failure 2026-03-02 ")
	require.Contains(t, row, "inventory down on attempt 1")
	require.Contains(t, page, `<table id="pending-activities">`)
	pending := regexp.MustCompile(`(?s)<table id="pending-activities">.*?</table>`).FindString(page)
	require.Contains(t, pending, `<td class="last-failure"><div class="failure">`)
	require.Contains(t, pending, "inventory down on attempt 1")
	require.Contains(t, page, `<tr data-seq="2" data-type="ActivityScheduled">`)

	// A completed run: input, result, the step's duration of fake time.
	page = get("/runs/order-1")
	require.Contains(t, page, `<pre id="result">4</pre>`)
	row = timelineRow(t, page, "2")
	require.Contains(t, row, `data-status="completed"`)
	require.Contains(t, row, "<td>2s</td>")

	// A saga that compensated: in reverse order, hotel before flight.
	page = get("/runs/trip-1")
	comp := regexp.MustCompile(`(?s)<ol id="compensations">.*?</ol>`).FindString(page)
	require.NotEmpty(t, comp)
	events := regexp.MustCompile(`data-event="(\w+)"`).FindAllStringSubmatch(comp, -1)
	require.Len(t, events, 4)
	require.Equal(t, []string{"start", "done", "start", "done"}, []string{events[0][1], events[1][1], events[2][1], events[3][1]})
	idx := regexp.MustCompile(`saga trip, step (\d)`).FindAllStringSubmatch(comp, -1)
	require.Equal(t, "1", idx[0][1], "the last step added is compensated first")
	require.Equal(t, "0", idx[2][1])
	require.Contains(t, page, "card-declined")
	// The timeline shows what each compensation undid, hotel first.
	require.Less(t, strings.Index(page, "undone hotel in Lisbon"), strings.Index(page, "undone flight to Lisbon"))
	require.Contains(t, timelineRow(t, page, "2"), "attempt 1 failed:")

	// A run blocked by a divergence: recorded against issued, plainly.
	page = get("/runs/upgrade-1")
	div := regexp.MustCompile(`(?s)<section id="divergence".*?</section>`).FindString(page)
	require.NotEmpty(t, div)
	require.Contains(t, div, `<b class="div-step">2</b>`)
	require.Regexp(t, `(?s)<dd class="recorded">[^<]*TimerScheduled[^<]*</dd>`, div)
	require.Contains(t, div, `<dd class="issued">ActivityScheduled &#34;work&#34;</dd>`)
	row = timelineRow(t, page, "2")
	require.Contains(t, row, `class="item item-timer diverged"`)
	require.Contains(t, row, `the code now issues ActivityScheduled &#34;work&#34; here`)

	// A run blocked by a panic.
	page = get("/runs/broken-1")
	require.Contains(t, page, `id="blocked"`)
	require.Contains(t, page, "index out of range in pricing rules")

	// Search attributes and memo.
	page = get("/runs/checkout-1")
	require.Contains(t, page, `<tr data-attr="customer"><td>customer</td><td>keyword</td>`)
	require.Contains(t, page, `>acme</a>`)
	require.Contains(t, page, `<tr data-attr="total"><td>total</td><td>int</td>`)
	require.Contains(t, page, `<tr data-memo="note">`)

	// A parent links its child, and the child its parent.
	page = get("/runs/parent-1")
	require.Contains(t, page, `<tr data-run-id="parent-1-child"><td>`)
	require.Contains(t, page, `<a href="/runs/parent-1-child" class="child-link">parent-1-child</a>`)
	page = get("/runs/parent-1-child")
	require.Contains(t, page, `<a href="/runs/parent-1" id="parent">parent-1</a>`)

	// A waiting run: its pending timer, and the action forms.
	page = get("/runs/approval-1")
	require.Contains(t, page, `<table id="pending-timers">`)
	require.Contains(t, page, `name="cancel"`)
	require.Contains(t, page, `name="terminate"`)
	require.Contains(t, page, `name="signal"`)
}

// A signal and a termination through the API are journaled with who did
// them, and the run page shows it.
func TestActionsJournalIdentity(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{Auth: ui.AuthFunc(func(r *http.Request) (string, error) {
		if r.Header.Get("Authorization") == "Bearer "+token {
			return "alice@example.com", nil
		}
		return "", ui.ErrNoCredentials
	})})
	w := do(t, h, req{method: "POST", path: "/api/runs/approval-1/signal", bearer: token, body: `{"name":"approve","payload":{"by":"ann"}}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = do(t, h, req{method: "POST", path: "/api/runs/approval-1/terminate", bearer: token, body: `{"reason":"duplicate order"}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assertOperatorAction(t, f, "approval-1", "signal", "alice@example.com")
	assertOperatorAction(t, f, "approval-1", "terminate", "alice@example.com")
	page := do(t, h, req{path: "/runs/approval-1", bearer: token, html: true}).Body.String()
	require.Contains(t, page, `signal by alice@example.com, signal &#34;approve&#34;`)
	require.Contains(t, page, `terminate by alice@example.com, reason: duplicate order`)
	require.Contains(t, page, `data-kind="signal" data-status="received"`)
}

// The runs page filters, counts, searches and pages.
func TestRunsPage(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{PageSize: 3})
	ids := func(page string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<tr data-run-id="([^"]+)"`).FindAllStringSubmatch(page, -1) {
			out = append(out, m[1])
		}
		return out
	}
	get := func(p string) *http.Response {
		return do(t, h, req{path: p, html: true}).Result()
	}
	body := func(p string) string {
		w := do(t, h, req{path: p, html: true})
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		return w.Body.String()
	}
	page := body("/")
	require.Contains(t, page, `<table id="runs"`)
	require.Equal(t, []string{"approval-1", "approval-2", "approval-3"}, ids(page))
	require.Contains(t, page, `data-count="13"`)
	next := regexp.MustCompile(`<a href="([^"]+)" id="next-page"`).FindStringSubmatch(page)
	require.NotNil(t, next)
	page = body(strings.ReplaceAll(next[1], "&amp;", "&"))
	require.Equal(t, []string{"broken-1", "checkout-1", "checkout-2"}, ids(page))
	require.Equal(t, []string{"restock-1"}, ids(body("/?status=running&workflow=restock")))

	page = body("/?status=failed")
	require.Equal(t, []string{"reserve-1", "trip-1"}, ids(page))
	require.Contains(t, page, `data-count="2"`)
	require.Equal(t, []string{"broken-1", "upgrade-1"}, ids(body("/?status=blocked")))
	require.Equal(t, []string{"checkout-1"}, ids(body("/?q=total:int>=100")))
	require.Equal(t, []string{"checkout-1", "checkout-2"}, ids(body("/?attr=customer%3Dacme&workflow=checkout")))
	require.Equal(t, []string{"parent-1", "parent-1-child"}, ids(body("/?q=parent")))
	require.Empty(t, ids(body("/?created_before=2000-01-01")))
	// An exact ID jumps to the run.
	r := get("/?q=trip-1")
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.Equal(t, "/runs/trip-1", r.Header.Get("Location"))
	// Bad input is shown on the page, naming the field.
	w := do(t, h, req{path: "/?status=sleeping", html: true})
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), `id="filter-error">status: `)
}

// The API serves the CLI's documents: GET /api/runs/{id} is `chorus runs
// show --json`, GET /api/runs is `chorus runs list --json` plus the count,
// and the export is `chorus history --export`.
func TestAPIMatchesCLI(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, nil)
	for _, id := range []string{"order-1", "reserve-1", "trip-1", "upgrade-1", "checkout-1", "parent-1", "approval-1"} {
		w := do(t, h, req{path: "/api/runs/" + id})
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, string(cliOut(t, "runs", "show", f.path, id, "--json")), w.Body.String(), id)
		w = do(t, h, req{path: "/api/runs/" + id + "/history?format=export"})
		require.Equal(t, http.StatusOK, w.Code)
		require.Equal(t, string(cliOut(t, "history", f.path, id, "--export")), w.Body.String(), id)
		w = do(t, h, req{path: "/api/runs/" + id + "/history?format=events"})
		require.JSONEq(t, string(cliOut(t, "history", f.path, id, "--json")), w.Body.String(), id)
	}
	w := do(t, h, req{path: "/api/runs?limit=4&status=completed,failed"})
	require.Equal(t, http.StatusOK, w.Code)
	var got inspect.RunPage
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.NotNil(t, got.Count)
	require.EqualValues(t, 7, *got.Count)
	got.Count = nil
	gotJSON, _ := json.Marshal(got)
	require.JSONEq(t, string(cliOut(t, "runs", "list", f.path, "--json", "--limit", "4", "--status", "completed,failed")), string(gotJSON))

	// The timeline document.
	w = do(t, h, req{path: "/api/runs/reserve-1/history"})
	var tl inspect.Timeline
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &tl))
	var act *inspect.Item
	for i := range tl.Items {
		if tl.Items[i].Kind == "activity" {
			act = &tl.Items[i]
		}
	}
	require.NotNil(t, act)
	require.Equal(t, 2, act.Attempts)
	require.Contains(t, act.Error.Message, "inventory down on attempt 2")
	require.Contains(t, act.LastFailure.Message, "inventory down on attempt 1")
}

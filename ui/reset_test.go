package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/ui"
)

// Reset and batch need the engine's actions: a read-only dashboard and one
// over the database file answer 403; the engine's dashboard answers a
// reset to a point that is not a step 409 reset_refused, and a dry-run
// batch with what it would do.
func TestResetRoutes(t *testing.T) {
	f := newFixture(t)
	ro := liveHandler(t, f, &ui.Options{ReadOnly: true})
	for _, p := range []string{"/api/runs/approval-1/reset", "/api/batch"} {
		w := do(t, ro, req{method: "POST", path: p})
		require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
		_, code, _ := apiErr(t, w)
		require.Equal(t, "actions_disabled", code)
	}
	st, err := sqlite.OpenReadOnly(context.Background(), f.path, nil)
	require.NoError(t, err)
	defer st.Close()
	fh, err := ui.StoreHandler(st, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, do(t, fh, req{method: "POST", path: "/api/runs/approval-1/reset"}).Code)

	h := liveHandler(t, f, nil)
	w := do(t, h, req{method: "POST", path: "/api/runs/approval-1/reset", body: `{"to_step": 1}`})
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	_, code, _ := apiErr(t, w)
	require.Equal(t, "reset_refused", code)
	w = do(t, h, req{method: "POST", path: "/api/runs/approval-1/reset", body: `{"to_step": 2, "bogus": 1}`})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	w = do(t, h, req{method: "POST", path: "/api/runs/no-such-run/reset", body: `{"to_first_failure": true}`})
	require.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
	w = do(t, h, req{method: "POST", path: "/api/batch", body: `{"action": "cancel", "statuses": ["running"], "dry_run": true}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"would": 4`)
	w = do(t, h, req{method: "POST", path: "/api/batch", body: `{"action": "cancel", "statuses": ["sleepy"]}`})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
}

var resetCSRF = regexp.MustCompile(`name="reset"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"`)

// A failed run's page offers the retry form; it retries the run and
// redirects to its page. Other runs' pages, and read-only dashboards, do
// not offer it.
func TestRetryForm(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{Auth: ui.BearerToken(token)})
	c := signIn(t, h)
	require.NotContains(t, do(t, h, req{path: "/runs/order-1", cookie: c, html: true}).Body.String(), `id="reset-form"`)
	ro := liveHandler(t, f, &ui.Options{ReadOnly: true})
	require.NotContains(t, do(t, ro, req{path: "/runs/reserve-1", html: true}).Body.String(), `id="reset-form"`)

	page := do(t, h, req{path: "/runs/reserve-1", cookie: c, html: true}).Body.String()
	m := resetCSRF.FindStringSubmatch(page)
	require.NotNil(t, m, "the failed run's page has the retry form")
	w := do(t, h, req{method: "POST", path: "/runs/reserve-1/reset", cookie: c, form: url.Values{"csrf": {"forged"}}, html: true})
	require.Equal(t, http.StatusForbidden, w.Code)
	w = do(t, h, req{method: "POST", path: "/runs/reserve-1/reset", cookie: c, form: url.Values{"csrf": {m[1]}, "reason": {"fixed"}}, html: true})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	require.Contains(t, w.Header().Get("Location"), "/runs/reserve-1?done=reset")
	page = do(t, h, req{path: "/runs/reserve-1?done=reset", cookie: c, html: true}).Body.String()
	require.Contains(t, page, "Run reset")
	require.Contains(t, page, "reset by token, reason: fixed")
}

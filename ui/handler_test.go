package ui_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/ui"
)

const token = "s3cret-token"

// req describes a request to the handler.
type req struct {
	method, path, body string
	bearer             string
	cookie             *http.Cookie
	form               url.Values
	html               bool
	header             map[string]string
}

func do(t *testing.T, h http.Handler, r req) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	var hr *http.Request
	switch {
	case r.form != nil:
		hr = httptest.NewRequest(r.method, r.path, strings.NewReader(r.form.Encode()))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case r.body != "":
		hr = httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		hr.Header.Set("Content-Type", "application/json")
	default:
		hr = httptest.NewRequest(r.method, r.path, nil)
	}
	if r.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	if r.html {
		hr.Header.Set("Accept", "text/html,application/xhtml+xml")
	} else {
		hr.Header.Set("Accept", "application/json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	return w
}

// apiErr decodes a JSON error body.
func apiErr(t *testing.T, w *httptest.ResponseRecorder) (msg, code, field string) {
	t.Helper()
	var e struct{ Error, Code, Field string }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
	require.NotEmpty(t, e.Error)
	return e.Error, e.Code, e.Field
}

// signIn exchanges the token for a session cookie.
func signIn(t *testing.T, h http.Handler) *http.Cookie {
	t.Helper()
	w := do(t, h, req{method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {"/"}}, html: true})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	for _, c := range w.Result().Cookies() {
		if c.Name == "chorus_session" {
			require.True(t, c.HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, c.SameSite)
			require.Positive(t, c.MaxAge)
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

var csrfRe = regexp.MustCompile(`name="(cancel|terminate|signal|logout)"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token of the form named name on the page.
func csrfOf(t *testing.T, page, name string) string {
	t.Helper()
	for _, m := range csrfRe.FindAllStringSubmatch(page, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	t.Fatalf("no form %q with a CSRF token on the page", name)
	return ""
}

func liveHandler(t *testing.T, f *fixture, opts *ui.Options) http.Handler {
	t.Helper()
	h, err := ui.Handler(f.eng, opts)
	require.NoError(t, err)
	return h
}

// routes are every route of the dashboard, with a valid request each.
var routes = []req{
	{path: "/", html: true},
	{path: "/?status=failed", html: true},
	{path: "/runs/order-1", html: true},
	{path: "/workflows/", html: true},
	{path: "/workflows/order", html: true},
	{path: "/static/style.css"},
	{path: "/api/runs"},
	{path: "/api/runs/order-1"},
	{path: "/api/runs/order-1/history"},
	{path: "/api/runs/order-1/history?format=export"},
	{path: "/api/stats"},
	{path: "/api/session"},
	{method: "POST", path: "/api/runs/approval-3/signal", body: `{"name":"ping","payload":{"n":1}}`},
	{method: "POST", path: "/runs/approval-3/signal", form: url.Values{"name": {"ping"}}, html: true},
	{method: "POST", path: "/logout", html: true},
	{path: "/login?next=/runs/order-1", html: true},
}

// With a token configured, every route answers 401 without credentials
// (the API in JSON, pages with the sign-in form) and with a wrong token,
// and serves with the right one.
func TestEveryRouteNeedsCredentials(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{Auth: ui.BearerToken(token)})
	for _, r := range routes {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			w := do(t, h, r)
			require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			require.Equal(t, `Bearer realm="chorus"`, w.Header().Get("WWW-Authenticate"))
			if r.html {
				require.Contains(t, w.Body.String(), `<form method="post" action="/login" id="login"`)
				require.Contains(t, w.Body.String(), `name="token"`)
			} else {
				_, code, _ := apiErr(t, w)
				require.Equal(t, "unauthorized", code)
			}
			r2 := r
			r2.bearer = "wrong-token"
			require.Equal(t, http.StatusUnauthorized, do(t, h, r2).Code)
			r2.bearer = token
			w = do(t, h, r2)
			require.Less(t, w.Code, 400, w.Body.String())
		})
	}
}

// A browser signs in with the token through the form and then browses
// with the session cookie; a tampered cookie is refused.
func TestSignInForm(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{Auth: ui.BearerToken(token)})
	w := do(t, h, req{method: "POST", path: "/login", form: url.Values{"token": {"nope"}}, html: true})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Contains(t, w.Body.String(), "That token was not accepted")
	require.Empty(t, w.Result().Cookies())

	c := signIn(t, h)
	w = do(t, h, req{path: "/", cookie: c, html: true})
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `signed in as <b>token</b>`)
	bad := *c
	bad.Value = strings.Replace(c.Value, ".", "x.", 1)
	require.Equal(t, http.StatusUnauthorized, do(t, h, req{path: "/", cookie: &bad, html: true}).Code)

	// A session ends.
	short := liveHandler(t, f, &ui.Options{Auth: ui.BearerToken(token), SessionTTL: time.Nanosecond})
	w = do(t, short, req{method: "POST", path: "/login", form: url.Values{"token": {token}}, html: true})
	require.Equal(t, http.StatusSeeOther, w.Code)
	require.Equal(t, http.StatusUnauthorized, do(t, short, req{path: "/", cookie: w.Result().Cookies()[0], html: true}).Code)

	// An open redirect through next is refused.
	w = do(t, h, req{method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {"//evil.example/"}}, html: true})
	require.Equal(t, "/", w.Header().Get("Location"))
}

// Form actions need the session's CSRF token: a missing or wrong one is
// 403 naming CSRF, as is a cookie-authenticated API call without it;
// bearer API calls need none. Cross-origin POSTs are refused.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{Auth: ui.BearerToken(token)})
	c := signIn(t, h)
	for _, tok := range []string{"", "forged"} {
		w := do(t, h, req{method: "POST", path: "/runs/approval-1/cancel", cookie: c, form: url.Values{"csrf": {tok}}, html: true})
		require.Equal(t, http.StatusForbidden, w.Code)
		require.Contains(t, w.Body.String(), "CSRF token missing or invalid")
		w = do(t, h, req{method: "POST", path: "/api/runs/approval-1/cancel", cookie: c, header: map[string]string{"X-CSRF-Token": tok}})
		require.Equal(t, http.StatusForbidden, w.Code)
		_, code, field := apiErr(t, w)
		require.Equal(t, "csrf", code)
		require.Equal(t, "csrf", field)
	}
	// Another session's token does not pass.
	other := signIn(t, h)
	page := do(t, h, req{path: "/runs/approval-1", cookie: other, html: true}).Body.String()
	w := do(t, h, req{method: "POST", path: "/runs/approval-1/cancel", cookie: c, form: url.Values{"csrf": {csrfOf(t, page, "cancel")}}, html: true})
	require.Equal(t, http.StatusForbidden, w.Code)

	w = do(t, h, req{method: "POST", path: "/api/runs/approval-1/signal", bearer: token, body: `{"name":"ping"}`,
		header: map[string]string{"Sec-Fetch-Site": "cross-site"}})
	require.Equal(t, http.StatusForbidden, w.Code)
	_, code, _ := apiErr(t, w)
	require.Equal(t, "cross_origin", code)

	w = do(t, h, req{method: "POST", path: "/api/runs/approval-1/signal", bearer: token, body: `{"name":"ping","payload":[1,2]}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"identity": "token"`)
}

// A cancel through the run page's form, signed in, cancels the run and
// journals who asked.
func TestCancelThroughForm(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{Auth: ui.LabeledBearerToken("ops", token)})
	c := signIn(t, h)
	page := do(t, h, req{path: "/runs/approval-2", cookie: c, html: true}).Body.String()
	require.Contains(t, page, `<form method="post" action="/runs/approval-2/cancel" name="cancel"`)
	w := do(t, h, req{method: "POST", path: "/runs/approval-2/cancel", cookie: c, form: url.Values{"csrf": {csrfOf(t, page, "cancel")}}, html: true})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	require.Equal(t, "/runs/approval-2?done=cancel", w.Header().Get("Location"))
	f.waitStatus(t, "approval-2", history.StatusCanceled)

	page = do(t, h, req{path: "/runs/approval-2?done=cancel", cookie: c, html: true}).Body.String()
	require.Contains(t, page, "Cancellation requested.")
	require.Contains(t, page, `data-kind="cancel-requested"`)
	require.Contains(t, page, "The run has ended: nothing to act on.")
	require.NotContains(t, page, `name="cancel"`)
	assertOperatorAction(t, f, "approval-2", "cancel", "ops")
}

// Unknown runs are 404, in JSON for the API and as a page for browsers.
func TestUnknownRun(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, nil)
	for _, p := range []string{"/api/runs/nope", "/api/runs/nope/history", "/api/runs/nope/history?format=export"} {
		w := do(t, h, req{path: p})
		require.Equal(t, http.StatusNotFound, w.Code, p)
		msg, code, _ := apiErr(t, w)
		require.Equal(t, "not_found", code)
		require.Contains(t, msg, `no run with ID "nope"`)
	}
	for _, a := range []string{"cancel", "terminate"} {
		w := do(t, h, req{method: "POST", path: "/api/runs/nope/" + a, body: "{}"})
		require.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
	}
	w := do(t, h, req{method: "POST", path: "/api/runs/nope/signal", body: `{"name":"x"}`})
	require.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
	w = do(t, h, req{path: "/runs/nope", html: true})
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), `no run with ID &#34;nope&#34;`)
	// An ID with a slash travels escaped in one path segment.
	w = do(t, h, req{path: "/api/runs/orders%2F42"})
	require.Equal(t, http.StatusNotFound, w.Code)
	msg, _, _ := apiErr(t, w)
	require.Contains(t, msg, `no run with ID "orders/42"`)
	require.Equal(t, http.StatusNotFound, do(t, h, req{path: "/api/nothing"}).Code)
	require.Equal(t, http.StatusNotFound, do(t, h, req{path: "/nothing", html: true}).Code)
}

// Bad input is 400 naming the field.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{MaxBodyBytes: 256})
	for _, c := range []struct {
		r     req
		field string
		text  string
	}{
		{req{path: "/api/runs?status=sleeping"}, "status", `unknown run status "sleeping"`},
		{req{path: "/api/runs?attr=amount:float>=1"}, "attr", `unknown kind "float"`},
		{req{path: "/api/runs?q=total:int>=ten"}, "q", `"ten" is not an integer`},
		{req{path: "/api/runs?limit=0"}, "limit", "page size"},
		{req{path: "/api/runs?created_after=yesterday"}, "created_after", `"yesterday" is not a time`},
		{req{path: "/api/runs?closed_before=2026-13-01"}, "closed_before", "not a time"},
		{req{path: "/api/runs/order-1/history?format=xml"}, "format", "want timeline, events or export"},
		{req{path: "/api/stats?from=soon"}, "from", "not a time"},
		{req{method: "POST", path: "/api/runs/approval-1/signal", body: `{"payload":1}`}, "name", "signal name is required"},
		{req{method: "POST", path: "/api/runs/approval-1/signal", body: `{"name":"x","payload":}`}, "body", "not a JSON object"},
		{req{method: "POST", path: "/api/runs/approval-1/signal", body: `{"name":"approve\u0000other/1","payload":1}`}, "name", "holds a NUL byte"},
		{req{method: "POST", path: "/api/runs/approval-1/signal", body: `{"name":"x","colour":1}`}, "colour", "unknown field"},
		{req{method: "POST", path: "/api/runs/approval-1/terminate", body: `{"reason":42}`}, "reason", "want a JSON string"},
		{req{method: "POST", path: "/runs/approval-1/signal", form: url.Values{"name": {"x"}, "payload": {"{not json"}}}, "payload", "not valid JSON"},
	} {
		t.Run(c.r.path, func(t *testing.T) {
			if c.r.form != nil {
				// A form needs its CSRF token (no authentication: bound
				// to the anonymous identity).
				page := do(t, h, req{path: "/runs/approval-1", html: true}).Body.String()
				c.r.form.Set("csrf", csrfOf(t, page, "signal"))
			}
			w := do(t, h, c.r)
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			msg, code, field := apiErr(t, w)
			require.Equal(t, "bad_input", code)
			require.Equal(t, c.field, field)
			require.Contains(t, msg, c.text)
		})
	}
	// Too large.
	w := do(t, h, req{method: "POST", path: "/api/runs/approval-1/signal", body: `{"name":"x","payload":"` + strings.Repeat("a", 300) + `"}`})
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
	_, code, _ := apiErr(t, w)
	require.Equal(t, "payload_too_large", code)
	// Actions take POST.
	w = do(t, h, req{path: "/api/runs/approval-1/cancel"})
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "POST", w.Header().Get("Allow"))
	w = do(t, h, req{method: "DELETE", path: "/api/runs"})
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "GET", w.Header().Get("Allow"))
	w = do(t, h, req{method: "POST", path: "/runs/order-1", html: true})
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, http.StatusNotFound, do(t, h, req{method: "POST", path: "/api/runs/order-1/frobnicate"}).Code)
}

// Actions on an ended run are 409, as is signaling a blocked run.
func TestConflict(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, nil)
	w := do(t, h, req{method: "POST", path: "/api/runs/order-1/cancel"})
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	_, code, _ := apiErr(t, w)
	require.Equal(t, "run_ended", code)
	w = do(t, h, req{method: "POST", path: "/api/runs/broken-1/signal", body: `{"name":"x"}`})
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	_, code, _ = apiErr(t, w)
	require.Equal(t, "run_blocked", code)
}

// A closed engine is 503.
func TestEngineClosed(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*1e9)
	defer cancel()
	require.NoError(t, f.eng.Close(ctx))
	for _, r := range []req{{path: "/api/runs"}, {path: "/api/runs/order-1"}, {method: "POST", path: "/api/runs/approval-1/cancel"}} {
		w := do(t, h, r)
		require.Equal(t, http.StatusServiceUnavailable, w.Code, r.path+": "+w.Body.String())
		_, code, _ := apiErr(t, w)
		require.Equal(t, "engine_closed", code)
	}
}

// With actions switched off the routes answer 403 and pages show no
// buttons; over a database file they say why.
func TestActionsOff(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{ReadOnly: true})
	page := do(t, h, req{path: "/runs/approval-1", html: true}).Body.String()
	require.NotContains(t, page, `name="cancel"`)
	require.Contains(t, page, "actions are switched off for this dashboard (read-only)")
	w := do(t, h, req{method: "POST", path: "/api/runs/approval-1/cancel"})
	require.Equal(t, http.StatusForbidden, w.Code)
	_, code, _ := apiErr(t, w)
	require.Equal(t, "actions_disabled", code)

	st, err := sqlite.OpenReadOnly(context.Background(), f.path, nil)
	require.NoError(t, err)
	defer st.Close()
	fh, err := ui.StoreHandler(st, nil)
	require.NoError(t, err)
	page = do(t, fh, req{path: "/runs/approval-1", html: true}).Body.String()
	require.NotContains(t, page, `name="cancel"`)
	require.Contains(t, page, "which has one writer, the application that owns it")
	require.Contains(t, page, ">read-only<")
	require.Equal(t, http.StatusForbidden, do(t, fh, req{method: "POST", path: "/api/runs/approval-1/terminate"}).Code)
}

// Options are checked.
func TestOptionsChecked(t *testing.T) {
	f := newFixture(t)
	for _, o := range []*ui.Options{
		{Auth: ui.BearerToken("")}, {Prefix: "chorus"}, {Prefix: "/chorus/"}, {SessionKey: []byte("short")}, {PageSize: -1},
	} {
		_, err := ui.Handler(f.eng, o)
		require.Error(t, err, "%+v", o)
	}
	_, err := ui.Handler(nil, nil)
	require.Error(t, err)
}

// Mounted under a prefix, links, forms and the cookie use it.
func TestPrefix(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{Prefix: "/ops/chorus", Auth: ui.BearerToken(token)})
	mux := http.NewServeMux()
	mux.Handle("/ops/chorus/", h)
	w := do(t, mux, req{method: "POST", path: "/ops/chorus/login", form: url.Values{"token": {token}, "next": {"/runs/order-1"}}, html: true})
	require.Equal(t, http.StatusSeeOther, w.Code)
	require.Equal(t, "/ops/chorus/runs/order-1", w.Header().Get("Location"))
	c := w.Result().Cookies()[0]
	require.Equal(t, "/ops/chorus/", c.Path)
	page := do(t, mux, req{path: "/ops/chorus/", cookie: c, html: true}).Body.String()
	require.Contains(t, page, `href="/ops/chorus/runs/order-1"`)
	require.Contains(t, page, `href="/ops/chorus/static/style.css"`)
}

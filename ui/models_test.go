package ui_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/ui"
)

// modelDoc is a model of GET /api/models and GET /api/models/{name}.
type modelDoc struct {
	Model          string
	RunID          string `json:"run_id"`
	Enabled        bool
	LastSwitch     *decide.Switch `json:"last_switch"`
	Watch          decide.Watch
	Cases          int
	Agreement      float64
	Counters       decide.Counters
	AutomatedShare float64 `json:"automated_share"`
	ManualShare    float64 `json:"manual_share"`
	AgreementRate  float64 `json:"agreement_rate"`
	Source         string
	Switches       []decide.Switch
}

func (f *modelsFixture) live(t *testing.T, opts *ui.Options) http.Handler {
	t.Helper()
	h, err := ui.Handler(f.eng, opts)
	require.NoError(t, err)
	return h
}

// file is the dashboard of `chorus serve`: over the database file, read
// only.
func (f *modelsFixture) file(t *testing.T) http.Handler {
	t.Helper()
	st, err := sqlite.OpenReadOnly(context.Background(), f.path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	h, err := ui.StoreHandler(st, nil)
	require.NoError(t, err)
	return h
}

// switches returns the switch markers of the model's watch, read from the
// journal.
func (f *modelsFixture) switches(t *testing.T, model string) []decide.Switch {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenReadOnly(ctx, f.path, nil)
	require.NoError(t, err)
	defer st.Close()
	evs, err := st.Events(ctx, decide.WatchID(model), 0)
	require.NoError(t, err)
	var out []decide.Switch
	for _, e := range evs {
		if e.Type == history.EventMarker && e.Name == decide.SwitchMarker {
			var sw decide.Switch
			require.NoError(t, json.Unmarshal(e.Payload, &sw))
			out = append(out, sw)
		}
	}
	return out
}

var modelCSRFRe = regexp.MustCompile(`name="(enable|disable)"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"`)

// modelCSRF returns the CSRF token of the model page's form name.
func modelCSRF(t *testing.T, page, name string) string {
	t.Helper()
	for _, m := range modelCSRFRe.FindAllStringSubmatch(page, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	t.Fatalf("no form %q with a CSRF token on the page", name)
	return ""
}

// The models page and API show each watched model: credit-score switched
// off by its watch (by whom, when, why, the agreement and cases at the
// switch), the window's agreement, the automated and manual shares and the
// fallbacks; fraud-check on. Over the database file, the same figures come
// from the watch's journal, and there are no actions, saying why.
func TestModelsContent(t *testing.T) {
	f := newModelsFixture(t)
	for _, mode := range []string{"live", "file"} {
		t.Run(mode, func(t *testing.T) {
			h := f.live(t, nil)
			source := "watch"
			if mode == "file" {
				h, source = f.file(t), "journal"
			}
			w := do(t, h, req{path: "/api/models"})
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var doc struct {
				Models   []modelDoc
				Actions  bool
				NoAction string `json:"no_action"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
			require.Len(t, doc.Models, 2)
			credit, fraud := doc.Models[0], doc.Models[1]
			require.Equal(t, "credit-score", credit.Model)
			require.Equal(t, "decide-watch:credit-score", credit.RunID)
			require.Equal(t, source, credit.Source)
			require.False(t, credit.Enabled)
			require.NotNil(t, credit.LastSwitch)
			require.Equal(t, "watch", credit.LastSwitch.By)
			require.False(t, credit.LastSwitch.Enabled)
			require.Equal(t, t0.Add(3*60e9), credit.LastSwitch.At)
			require.Equal(t, 3, credit.LastSwitch.Cases)
			require.InDelta(t, 1.0/3, credit.LastSwitch.Agreement, 1e-9)
			require.Contains(t, credit.LastSwitch.Reason, "agreement 0.333 below 0.800 over the last 3 cases")
			require.Equal(t, decide.Watch{Window: 3, MinAgreement: 0.8}, credit.Watch)
			require.Equal(t, 3, credit.Cases)
			require.InDelta(t, 1.0/3, credit.Agreement, 1e-9)
			require.Equal(t, decide.Counters{Decisions: 5, Automated: 1, Manual: 4,
				Fallbacks: map[decide.Fallback]int{decide.FallbackLowConfidence: 1, decide.FallbackModelOff: 1},
				Compared:  4, Agreed: 2}, credit.Counters)
			require.InDelta(t, 0.2, credit.AutomatedShare, 1e-9)
			require.InDelta(t, 0.8, credit.ManualShare, 1e-9)
			require.InDelta(t, 0.5, credit.AgreementRate, 1e-9)
			require.Empty(t, credit.Switches, "the list leaves the switch history to the model's document")

			require.Equal(t, "fraud-check", fraud.Model)
			require.True(t, fraud.Enabled)
			require.Nil(t, fraud.LastSwitch)
			require.Equal(t, decide.Counters{Decisions: 1, Automated: 1}, fraud.Counters)

			page := do(t, h, req{path: "/models/", html: true}).Body.String()
			require.Contains(t, page, `<table id="models" class="kpis">`)
			require.Contains(t, page, `class="current">Models</a>`)
			row := regexp.MustCompile(`(?s)<tr data-model="credit-score" data-enabled="false">.*?</tr>`).FindString(page)
			require.NotEmpty(t, row, page)
			require.Contains(t, row, "switched off")
			require.Contains(t, row, "off by <b>watch</b> at 2026-03-02 09:03:00.000: agreement 0.333 below 0.800 over the last 3 cases (agreement 33.3% over 3 case(s))")
			require.Contains(t, row, `<td class="num model-window">33.3% of 3 / 3</td>`)
			require.Contains(t, row, `<td class="num model-decisions">5</td>`)
			require.Contains(t, row, `<td class="num model-automated">20% (1)</td>`)
			require.Contains(t, row, `<td class="num model-manual">80% (4)</td>`)
			require.Contains(t, row, `<td class="num model-agreement">50% (2/4)</td>`)
			require.Contains(t, row, `<span data-fallback="low-confidence">low-confidence=1</span>`)
			require.Contains(t, row, `<span data-fallback="model-off">model-off=1</span>`)
			require.Contains(t, page, `<tr data-model="fraud-check" data-enabled="true">`)

			w = do(t, h, req{path: "/api/models/credit-score"})
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var one modelDoc
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &one))
			require.Len(t, one.Switches, 1)
			require.Equal(t, *credit.LastSwitch, one.Switches[0])
			require.Equal(t, credit.Counters, one.Counters)

			page = do(t, h, req{path: "/models/credit-score", html: true}).Body.String()
			require.Contains(t, page, `<dd id="model-status" data-enabled="false">`)
			require.Contains(t, page, `<tr data-enabled="false" data-by="watch">`)
			require.Contains(t, page, `<dd id="model-window">33.3% agreement over 3 case(s)</dd>`)
			require.NotContains(t, page, `name="disable"`)
			if mode == "live" {
				require.True(t, doc.Actions)
				require.Contains(t, page, `<form method="post" action="/models/credit-score/enable" name="enable"`)
				require.Contains(t, do(t, h, req{path: "/models/fraud-check", html: true}).Body.String(),
					`<form method="post" action="/models/fraud-check/disable" name="disable"`)
			} else {
				require.False(t, doc.Actions)
				require.Contains(t, doc.NoAction, "this dashboard only reads the journal")
				require.NotContains(t, page, `name="enable"`)
				require.Contains(t, page, `id="actions-disabled"`)
				require.Contains(t, page, "this dashboard only reads the journal")
				w = do(t, h, req{method: "POST", path: "/api/models/credit-score/enable"})
				require.Equal(t, http.StatusForbidden, w.Code)
				_, code, _ := apiErr(t, w)
				require.Equal(t, "actions_disabled", code)
			}
		})
	}
}

// modelRoutes are the models routes, with a valid request each.
var modelRoutes = []req{
	{path: "/models/", html: true},
	{path: "/models/credit-score", html: true},
	{path: "/api/models"},
	{path: "/api/models/credit-score"},
	{method: "POST", path: "/api/models/fraud-check/disable", body: `{"reason":"audit"}`},
	{method: "POST", path: "/api/models/fraud-check/enable"},
}

// With a token configured, the models routes answer 401 without
// credentials or with a wrong token, and serve with the right one.
func TestModelRoutesNeedCredentials(t *testing.T) {
	f := newModelsFixture(t)
	h := f.live(t, &ui.Options{Auth: ui.BearerToken(token)})
	for _, r := range append(modelRoutes, req{method: "POST", path: "/models/credit-score/enable", form: url.Values{"csrf": {"x"}}, html: true}) {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			w := do(t, h, r)
			require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			if r.html {
				require.Contains(t, w.Body.String(), `name="token"`)
			} else {
				_, code, _ := apiErr(t, w)
				require.Equal(t, "unauthorized", code)
			}
			r2 := r
			r2.bearer = "wrong-token"
			require.Equal(t, http.StatusUnauthorized, do(t, h, r2).Code)
			if r.form != nil {
				return // a form POST with a bearer token is TestModelSwitchThroughForm's
			}
			r2.bearer = token
			w = do(t, h, r2)
			require.Less(t, w.Code, 400, w.Body.String())
		})
	}
}

// The switch forms need the session's CSRF token, as does a
// cookie-authenticated API call; a bearer API call needs none.
func TestModelSwitchCSRF(t *testing.T) {
	f := newModelsFixture(t)
	h := f.live(t, &ui.Options{Auth: ui.BearerToken(token)})
	c := signIn(t, h)
	for _, tok := range []string{"", "forged"} {
		w := do(t, h, req{method: "POST", path: "/models/credit-score/enable", cookie: c, form: url.Values{"csrf": {tok}}, html: true})
		require.Equal(t, http.StatusForbidden, w.Code)
		require.Contains(t, w.Body.String(), "CSRF token missing or invalid")
		w = do(t, h, req{method: "POST", path: "/api/models/credit-score/enable", cookie: c, header: map[string]string{"X-CSRF-Token": tok}})
		require.Equal(t, http.StatusForbidden, w.Code)
		_, code, field := apiErr(t, w)
		require.Equal(t, "csrf", code)
		require.Equal(t, "csrf", field)
	}
	// Another session's token does not pass.
	other := signIn(t, h)
	page := do(t, h, req{path: "/models/credit-score", cookie: other, html: true}).Body.String()
	w := do(t, h, req{method: "POST", path: "/models/credit-score/enable", cookie: c, form: url.Values{"csrf": {modelCSRF(t, page, "enable")}}, html: true})
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Len(t, f.switches(t, "credit-score"), 1, "nothing was switched")
}

// An operator enables the model through the page's form, and switches it
// off again through the API: each switch is journaled in the watch's run
// with who did it, as the authenticator named them.
func TestModelSwitchThroughForm(t *testing.T) {
	f := newModelsFixture(t)
	h := f.live(t, &ui.Options{Auth: ui.LabeledBearerToken("ops:ann", token)})
	c := signIn(t, h)
	page := do(t, h, req{path: "/models/credit-score", cookie: c, html: true}).Body.String()
	w := do(t, h, req{method: "POST", path: "/models/credit-score/enable", cookie: c,
		form: url.Values{"csrf": {modelCSRF(t, page, "enable")}}, html: true})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	require.Equal(t, "/models/credit-score?done=enable", w.Header().Get("Location"))
	sws := f.switches(t, "credit-score")
	require.Len(t, sws, 2)
	require.True(t, sws[1].Enabled)
	require.Equal(t, "ops:ann", sws[1].By)

	page = do(t, h, req{path: "/models/credit-score?done=enable", cookie: c, html: true}).Body.String()
	require.Contains(t, page, "Model enabled.")
	require.Contains(t, page, `<dd id="model-status" data-enabled="true">`)
	require.Contains(t, page, `<tr data-enabled="true" data-by="ops:ann">`)
	require.Contains(t, page, `<dd id="model-window">empty</dd>`, "the window starts afresh")
	require.Contains(t, page, `name="disable"`)
	// chorus serve reads the same from the journal.
	page = do(t, f.file(t), req{path: "/models/credit-score", html: true}).Body.String()
	require.Contains(t, page, `<dd id="model-status" data-enabled="true">`)
	require.Contains(t, page, `<tr data-enabled="true" data-by="ops:ann">`)
	require.Contains(t, page, `<dd id="model-window">empty</dd>`)

	w = do(t, h, req{method: "POST", path: "/api/models/credit-score/disable", bearer: token, body: `{"reason":"vendor incident"}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var got struct {
		Model, Action, Identity string
		Status                  decide.Status
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, "disable", got.Action)
	require.Equal(t, "ops:ann", got.Identity)
	require.False(t, got.Status.Enabled)
	sws = f.switches(t, "credit-score")
	require.Len(t, sws, 3)
	require.Equal(t, decide.Switch{Enabled: false, By: "ops:ann", At: sws[2].At, Reason: "vendor incident"}, sws[2])

	// The form's reason, and a default one when left empty.
	page = do(t, h, req{path: "/models/fraud-check", cookie: c, html: true}).Body.String()
	w = do(t, h, req{method: "POST", path: "/models/fraud-check/disable", cookie: c,
		form: url.Values{"csrf": {modelCSRF(t, page, "disable")}}, html: true})
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	sws = f.switches(t, "fraud-check")
	require.Len(t, sws, 1)
	require.Equal(t, "ops:ann", sws[0].By)
	require.Equal(t, "switched off by ops:ann from the dashboard", sws[0].Reason)
}

// Unknown models are 404, and switching one starts no watch; an unknown
// action is 404, a GET of an action 405; bad bodies are 400 naming the
// field; read-only dashboards refuse switches with 403.
func TestModelRoutesErrors(t *testing.T) {
	f := newModelsFixture(t)
	h := f.live(t, nil)
	for _, r := range []req{
		{path: "/api/models/nope"},
		{method: "POST", path: "/api/models/nope/enable"},
		{method: "POST", path: "/api/models/nope/disable", body: `{"reason":"x"}`},
		{method: "POST", path: "/api/models/credit-score/frobnicate"},
		{path: "/api/models/order-1"},
	} {
		w := do(t, h, r)
		require.Equal(t, http.StatusNotFound, w.Code, r.path+": "+w.Body.String())
		_, code, _ := apiErr(t, w)
		require.Equal(t, "not_found", code)
	}
	w := do(t, h, req{path: "/api/models/nope"})
	msg, _, _ := apiErr(t, w)
	require.Contains(t, msg, `no drift watch for model "nope"`)
	w = do(t, h, req{path: "/models/nope", html: true})
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), `no drift watch for model &#34;nope&#34;`)
	_, err := f.eng.Describe(context.Background(), decide.WatchID("nope"))
	require.Error(t, err, "no watch was started for an unknown model")

	w = do(t, h, req{path: "/api/models/credit-score/enable"})
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "POST", w.Header().Get("Allow"))

	for _, c := range []struct{ body, field string }{
		{`{"reason":42}`, "reason"},
		{`{"colour":1}`, "colour"},
		{`{"reason":`, "body"},
	} {
		w = do(t, h, req{method: "POST", path: "/api/models/credit-score/disable", body: c.body})
		require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
		_, code, field := apiErr(t, w)
		require.Equal(t, "bad_input", code)
		require.Equal(t, c.field, field)
	}

	ro := f.live(t, &ui.Options{ReadOnly: true})
	w = do(t, ro, req{method: "POST", path: "/api/models/credit-score/enable"})
	require.Equal(t, http.StatusForbidden, w.Code)
	_, code, _ := apiErr(t, w)
	require.Equal(t, "actions_disabled", code)
	page := do(t, ro, req{path: "/models/credit-score", html: true}).Body.String()
	require.NotContains(t, page, `name="enable"`)
	require.Contains(t, page, "read-only")
	require.Len(t, f.switches(t, "credit-score"), 1)
	require.False(t, strings.Contains(page, `name="disable"`))
}

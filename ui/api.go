package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
	"github.com/chorusdev/chorus/internal/inspect"
)

// apiError is the body of every API error.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	// Field names the parameter or body field that was wrong, for 400.
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, field, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code, Field: field})
}

// fail answers an error: JSON for the API, a page for a browser.
func (s *server) fail(w http.ResponseWriter, r *http.Request, status int, code, field, msg string) {
	if isAPI(r) || !wantsHTML(r) {
		writeError(w, status, code, field, msg)
		return
	}
	s.renderError(w, r, status, msg)
}

// inputError is bad input in a named field.
type inputError struct {
	field string
	err   error
}

func (e *inputError) Error() string { return e.field + ": " + e.err.Error() }

func badField(field, format string, args ...any) error {
	return &inputError{field: field, err: fmt.Errorf(format, args...)}
}

// failErr answers err with the status that fits it.
func (s *server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status, code := classify(err)
	var ie *inputError
	field := ""
	if errors.As(err, &ie) {
		field = ie.field
	}
	s.fail(w, r, status, code, field, err.Error())
}

func classify(err error) (int, string) {
	var ie *inputError
	var re *chorus.RunIDError
	switch {
	case errors.As(err, &ie):
		return http.StatusBadRequest, "bad_input"
	case errors.As(err, &re), errors.Is(err, chorus.ErrInvalidRunID), errors.Is(err, chorus.ErrInvalidSignalName):
		return http.StatusBadRequest, "bad_input"
	case errors.Is(err, history.ErrRunNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, chorus.ErrRunEnded):
		return http.StatusConflict, "run_ended"
	case errors.Is(err, chorus.ErrRunBlocked):
		return http.StatusConflict, "run_blocked"
	case errors.Is(err, chorus.ErrLimitExceeded), errors.Is(err, chorus.ErrPayload):
		return http.StatusRequestEntityTooLarge, "payload_too_large"
	case errors.Is(err, chorus.ErrInvalidIdentity):
		// The authenticator named the caller in a way the journal cannot
		// hold: a configuration error, not the caller's.
		return http.StatusInternalServerError, "invalid_identity"
	case errors.Is(err, chorus.ErrEngineClosed), errors.Is(err, history.ErrStoreClosed):
		return http.StatusServiceUnavailable, "engine_closed"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "canceled"
	}
	return http.StatusInternalServerError, "internal"
}

// listQuery is a run list request, from query parameters shared by the
// runs page and GET /api/runs.
type listQuery struct {
	Filter history.ListFilter
	// Limit is the page size.
	Limit int
	// Q is the search box: a run ID (or the start of one), or a search
	// attribute filter.
	Q      string
	prefix string
	// The raw values, to fill the form again.
	Status   []string
	Workflow string
	Attrs    []string
	Created  [2]string
	Closed   [2]string
	After    string
}

// parseList reads a run list request: status (repeatable or
// comma-separated), workflow, attr (repeatable, NAME[:KIND]OP VALUE),
// created_after, created_before, closed_after, closed_before (RFC 3339, or
// 2006-01-02T15:04 or 2006-01-02 in UTC), after (a run ID: the page after
// it), limit, q.
func (s *server) parseList(v url.Values) (*listQuery, error) {
	q := &listQuery{Limit: s.opts.PageSize, Workflow: strings.TrimSpace(v.Get("workflow")), After: v.Get("after"), Q: strings.TrimSpace(v.Get("q"))}
	f := &q.Filter
	f.Workflow, f.AfterID = q.Workflow, q.After
	for _, raw := range v["status"] {
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			st, err := history.ParseRunStatus(p)
			if err != nil {
				return nil, &inputError{"status", err}
			}
			q.Status = append(q.Status, p)
			f.Statuses = append(f.Statuses, st)
		}
	}
	for _, a := range v["attr"] {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		af, err := inspect.ParseAttrFilter(a)
		if err != nil {
			return nil, &inputError{"attr", err}
		}
		q.Attrs = append(q.Attrs, a)
		f.Attrs = append(f.Attrs, af)
	}
	for _, t := range []struct {
		name string
		raw  *string
		dst  *time.Time
	}{
		{"created_after", &q.Created[0], &f.CreatedFrom}, {"created_before", &q.Created[1], &f.CreatedTo},
		{"closed_after", &q.Closed[0], &f.ClosedFrom}, {"closed_before", &q.Closed[1], &f.ClosedTo},
	} {
		*t.raw = strings.TrimSpace(v.Get(t.name))
		tm, err := parseTime(*t.raw)
		if err != nil {
			return nil, &inputError{t.name, err}
		}
		*t.dst = tm
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPageSize {
			return nil, badField("limit", "%q is not a page size from 1 to %d", l, maxPageSize)
		}
		q.Limit = n
	}
	if q.Q != "" {
		if strings.ContainsRune(q.Q, '=') {
			af, err := inspect.ParseAttrFilter(q.Q)
			if err != nil {
				return nil, &inputError{"q", err}
			}
			f.Attrs = append(f.Attrs, af)
		} else {
			q.prefix = q.Q
		}
	}
	return q, nil
}

// parseTime reads a time filter; empty is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time such as 2026-03-02T09:00:00Z", s)
}

// list returns one page of runs and the ID of the next page's start
// ("" on the last page), and the count of matching runs when the store
// counts.
func (s *server) list(ctx context.Context, q *listQuery) (inspect.RunPage, error) {
	f := q.Filter
	if q.prefix != "" && f.AfterID == "" {
		f.AfterID = beforeID(q.prefix)
	}
	f.Limit = q.Limit + 1
	runs, err := s.st.ListRuns(ctx, f)
	if err != nil {
		return inspect.RunPage{}, err
	}
	page := inspect.RunPage{Runs: []inspect.RunRow{}}
	for _, r := range runs {
		if q.prefix != "" && !strings.HasPrefix(r.ID, q.prefix) {
			break
		}
		if len(page.Runs) == q.Limit {
			page.Next = page.Runs[len(page.Runs)-1].ID
			break
		}
		page.Runs = append(page.Runs, inspect.Row(r))
	}
	if as, ok := s.st.(history.AttrStore); ok && q.prefix == "" {
		n, err := as.CountRuns(ctx, q.Filter)
		if err != nil {
			return inspect.RunPage{}, err
		}
		page.Count = &n
	}
	return page, nil
}

// beforeID is an AfterID from which the list starts at id: IDs that
// start with id sort at or after it, and nothing sorts between id with
// its last byte lowered and that followed by the largest rune. (IDs hold
// no NUL byte.)
func beforeID(id string) string {
	b := []byte(id)
	b[len(b)-1]--
	return string(b) + "\U0010FFFF"
}

// apiRuns is GET /api/runs.
func (s *server) apiRuns(w http.ResponseWriter, r *http.Request) {
	q, err := s.parseList(r.URL.Query())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	page, err := s.list(r.Context(), q)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// runID reads the {id} of the path and checks it.
func runID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > 1000 || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return "", badField("id", "%q is not a run ID", id)
	}
	return id, nil
}

// apiRun is GET /api/runs/{id}: the run's summary, the document of
// `chorus runs show --json`.
func (s *server) apiRun(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	v, err := inspect.Describe(r.Context(), s.st, id, s.payloadCodec(r))
	if err != nil {
		s.failErr(w, r, notFound(err, id))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func notFound(err error, id string) error {
	if errors.Is(err, history.ErrRunNotFound) {
		return fmt.Errorf("no run with ID %q: %w", id, err)
	}
	return err
}

// apiHistory is GET /api/runs/{id}/history: the timeline, or with
// format=events the journal's events, or with format=export the
// chorus-history document that replay.Run reads.
func (s *server) apiHistory(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	ctx := r.Context()
	switch format := r.URL.Query().Get("format"); format {
	case "", "timeline":
		tl, err := inspect.BuildTimeline(ctx, s.st, id, s.payloadCodec(r))
		if err != nil {
			s.failErr(w, r, notFound(err, id))
			return
		}
		writeJSON(w, http.StatusOK, tl)
	case "events", "export":
		info, err := s.st.Run(ctx, id)
		if err != nil {
			s.failErr(w, r, notFound(err, id))
			return
		}
		events, err := s.st.Events(ctx, id, 0)
		if err != nil {
			s.failErr(w, r, notFound(err, id))
			return
		}
		for len(events) > 0 && events[len(events)-1].Seq > info.LastSeq {
			events = events[:len(events)-1]
		}
		if format == "events" {
			writeJSON(w, http.StatusOK, inspect.Events(inspect.DecodeEvents(s.payloadCodec(r), events)))
			return
		}
		if info.LastSeq > history.MaxExportEvents {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "too_large", "", fmt.Sprintf("export run %q: %d events, the limit is %d", id, info.LastSeq, history.MaxExportEvents))
			return
		}
		info.FirstSeq = max(info.FirstSeq, 1)
		x := &history.Export{Run: info, Events: events}
		if err := x.Validate(); err != nil {
			s.failErr(w, r, fmt.Errorf("export run %q: the stored journal is not consistent: %w", id, err))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "history-"+safeFile(id)+".json"))
		_ = x.Encode(w)
	default:
		s.failErr(w, r, badField("format", "%q: want timeline, events or export", format))
	}
}

func safeFile(id string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			return c
		}
		return '_'
	}, id)
}

// session is GET /api/session: who the caller is, the CSRF token their
// cookie-authenticated API calls send in X-CSRF-Token, and whether actions
// are available.
func (s *server) apiSession(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"identity": c.Identity, "csrf_token": s.csrfToken(c),
		"actions": s.opts.Actions != nil, "live": s.live,
	})
}

// signalBody is the body of POST /api/runs/{id}/signal.
type signalBody struct {
	Name    string          `json:"name"`
	Payload json.RawMessage `json:"payload"`
}

// terminateBody is the body of POST /api/runs/{id}/terminate.
type terminateBody struct {
	Reason string `json:"reason"`
}

// apiAction is POST /api/runs/{id}/{cancel,terminate,signal}.
func (s *server) apiAction(w http.ResponseWriter, r *http.Request) {
	s.action(w, r, false)
}

// formAction is POST /runs/{id}/{cancel,terminate,signal} from the run
// page's forms: CSRF-checked, and answered with a redirect to the run.
func (s *server) formAction(w http.ResponseWriter, r *http.Request) {
	s.action(w, r, true)
}

// admitPost readies a POST that acts: it caps the body and, for a form or an
// API call authenticated by a cookie, parses the form and checks that it
// comes from the dashboard's own pages (its CSRF token). It answers the
// request and reports false when the request may not go on.
func (s *server) admitPost(w http.ResponseWriter, r *http.Request, form bool) (caller, bool) {
	c := callerOf(r)
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if !c.Header && (form || s.opts.Auth != nil || c.Session != "") {
		if err := r.ParseForm(); err != nil {
			s.bodyErr(w, r, err)
			return c, false
		}
		if !s.checkCSRF(r, c) {
			s.fail(w, r, http.StatusForbidden, "csrf", "csrf", "CSRF token missing or invalid: reload the page and try again")
			return c, false
		}
	}
	return c, true
}

func (s *server) action(w http.ResponseWriter, r *http.Request, form bool) {
	action := r.PathValue("action")
	if action != "cancel" && action != "terminate" && action != "signal" {
		s.fail(w, r, http.StatusNotFound, "not_found", "", fmt.Sprintf("no action %q (want cancel, terminate or signal)", action))
		return
	}
	if s.opts.Actions == nil {
		s.fail(w, r, http.StatusForbidden, "actions_disabled", "", s.noActionsReason())
		return
	}
	c, ok := s.admitPost(w, r, form)
	if !ok {
		return
	}
	id, err := runID(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	ctx := withIdentity(r.Context(), c.Identity)
	switch action {
	case "cancel":
		err = s.opts.Actions.Cancel(ctx, id)
	case "terminate":
		var body terminateBody
		if form {
			body.Reason = r.PostFormValue("reason")
		} else if err = decodeBody(r, &body); err != nil {
			s.bodyErr(w, r, err)
			return
		}
		if body.Reason == "" {
			body.Reason = "terminated by " + c.Identity + " from the dashboard"
		}
		err = s.opts.Actions.Terminate(ctx, id, body.Reason)
	case "signal":
		var body signalBody
		if form {
			body.Name = strings.TrimSpace(r.PostFormValue("name"))
			if p := strings.TrimSpace(r.PostFormValue("payload")); p != "" {
				body.Payload = json.RawMessage(p)
			}
		} else if err = decodeBody(r, &body); err != nil {
			s.bodyErr(w, r, err)
			return
		}
		if body.Name == "" {
			s.failErr(w, r, badField("name", "the signal name is required"))
			return
		}
		if err := engine.CheckSignalName(body.Name); err != nil {
			s.failErr(w, r, badField("name", "%v", err))
			return
		}
		if body.Payload == nil {
			body.Payload = json.RawMessage("null")
		}
		if !json.Valid(body.Payload) {
			s.failErr(w, r, badField("payload", "not valid JSON"))
			return
		}
		err = s.opts.Actions.Signal(ctx, id, body.Name, body.Payload)
	}
	if err != nil {
		s.failErr(w, r, notFound(err, id))
		return
	}
	if form {
		http.Redirect(w, r, s.path("/runs/"+url.PathEscape(id)+"?done="+action), http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"run_id": id, "action": action, "identity": c.Identity})
}

// decodeBody reads a JSON body into v; an empty body leaves v alone.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badField(te.Field, "want a JSON %s, got %s", te.Type, te.Value)
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return badField(strings.Trim(f, `"`), "unknown field")
		}
		return badField("body", "not a JSON object: %v", err)
	}
	if dec.More() {
		return badField("body", "more than one JSON value")
	}
	return nil
}

// bodyErr answers an error reading the body: 413 when it was too large.
func (s *server) bodyErr(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		s.fail(w, r, http.StatusRequestEntityTooLarge, "payload_too_large", "body", fmt.Sprintf("the body is larger than %d bytes", mbe.Limit))
		return
	}
	var ie *inputError
	if !errors.As(err, &ie) {
		err = &inputError{"body", err}
	}
	s.failErr(w, r, err)
}

func (s *server) noActionsReason() string {
	if s.opts.ReadOnly {
		return "actions are switched off for this dashboard (read-only)"
	}
	return "actions are not available here: this dashboard only reads the journal, which has one writer, the application that owns it; act through the application's dashboard or API"
}

// apiNoRoute answers API paths that match no route.
func (s *server) apiNoRoute(w http.ResponseWriter, r *http.Request) {
	s.noRoute(w, r)
}

// noRoute answers a request that matches no route: 405 when the path has
// a route for another method, else 404.
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method || (m == http.MethodGet && r.Method == http.MethodHead) {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "/api/" {
			w.Header().Set("Allow", m)
			s.fail(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "", r.Method+" "+r.URL.Path+": use "+m)
			return
		}
	}
	if isAPI(r) {
		writeError(w, http.StatusNotFound, "not_found", "", "no API route "+r.URL.Path)
		return
	}
	s.fail(w, r, http.StatusNotFound, "not_found", "", "no page "+r.URL.Path)
}

package ui

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/internal/hook"
	"github.com/chorusdev/chorus/workflow"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure a dashboard handler. The zero value (or nil) serves
// every route without authentication, with the engine's actions on.
type Options struct {
	// Auth authenticates every request: pages, assets and API. Nil serves
	// everyone (bind to a loopback address, or mount behind your own
	// authentication). See [BearerToken] and [AuthFunc].
	Auth Authenticator
	// Prefix is the path the handler is mounted under, such as
	// "/chorus" for mux.Handle("/chorus/", h): links, forms and the
	// session cookie use it, and the handler strips it from the request.
	// Empty mounts at the root.
	Prefix string
	// ReadOnly switches the operator actions (cancel, terminate, signal)
	// off: their routes answer 403 and pages show no buttons.
	ReadOnly bool
	// Actions performs the operator actions. [Handler] sets it to the
	// engine's; [StoreHandler] leaves it nil unless given, and then the
	// dashboard explains that actions go through the process that owns
	// the journal.
	Actions Actions
	// SessionKey signs the session cookies and CSRF tokens; it must be at
	// least 32 bytes when set. Empty draws a random key per handler, which
	// signs everyone out when the process restarts; set it to share
	// sessions between processes.
	SessionKey []byte
	// SessionTTL is how long a browser session lasts after sign-in; 0
	// means 12 hours.
	SessionTTL time.Duration
	// MaxBodyBytes caps the body of an action request (a signal's
	// payload); 0 means 1 MiB. A larger body is answered 413.
	MaxBodyBytes int64
	// PageSize is how many runs a list page holds by default; 0 means 50.
	// A request asks for at most 1,000.
	PageSize int
	// Title heads every page; empty means "Chorus".
	Title string
	// Tables are pages that packages around the engine fill, such as the
	// events outbox and parked messages; see [Table].
	Tables []Table
	// Inbox, when set, serves the people's inbox (package human's tasks)
	// under /inbox/ and /api/inbox, acting as the authenticated identity:
	// see the package doc's Inbox section.
	Inbox *human.Inbox
	// Outcomes gives, by task kind (human.Task.Name), an example of the
	// kind's outcome, such as Verdict{Outcome: "approve"}: the task page
	// then offers a field per field of its JSON, filled with the
	// example's values, beside the JSON form. Its JSON must be an object
	// of strings, numbers and booleans.
	Outcomes map[string]any
	// Integrations returns the counters the Integrations page shows.
	// Defaults to integrate.Snapshot: the breakers, limiters and calls of
	// this process.
	Integrations func() []integrate.Stats
	// PayloadCodec decodes, for display, the payloads a payload codec
	// compressed or encrypted (chorus.Options.PayloadCodec; the package
	// chorus/codec). Without it such payloads show as "<encrypted: key K>"
	// (or "<encoded: ...>"), never as their bytes, even on a [Handler]
	// over an engine that has the codec: showing personal data is a
	// decision of its own. Defaults to none.
	PayloadCodec history.PayloadCodec
	// MayDecode, when set, decides per request whether PayloadCodec
	// decodes the payloads shown, from the identity Auth established (""
	// without Auth): a dashboard can show the contents to some people
	// and "encrypted" to others. Defaults to every request decoding.
	MayDecode func(r *http.Request, identity string) bool
}

// Actions performs operator actions on runs. Each call's context carries
// the identity of who asked (see chorus.WithIdentity). Errors that wrap
// chorus.ErrRunNotFound, ErrRunEnded, ErrRunBlocked, ErrEngineClosed or
// ErrLimitExceeded are answered 404, 409, 409, 503 and 413.
type Actions interface {
	Cancel(ctx context.Context, runID string) error
	Terminate(ctx context.Context, runID, reason string) error
	// Signal sends the signal name to the run with payload, JSON.
	Signal(ctx context.Context, runID, name string, payload json.RawMessage) error
}

// engineActions performs actions through a live engine.
type engineActions struct{ eng *chorus.Engine }

func (a engineActions) Cancel(ctx context.Context, id string) error { return a.eng.Cancel(ctx, id) }

func (a engineActions) Terminate(ctx context.Context, id, reason string) error {
	return a.eng.Terminate(ctx, id, reason)
}

func (a engineActions) Signal(ctx context.Context, id, name string, payload json.RawMessage) error {
	return chorus.Signal(ctx, a.eng, id, workflow.NewSignal[json.RawMessage](name), payload)
}

// Handler returns the dashboard over a live engine: it reads through the
// engine's store and performs actions through the engine (unless
// opts.ReadOnly). Mount it where the application serves HTTP.
func Handler(eng *chorus.Engine, opts *Options) (http.Handler, error) {
	if eng == nil {
		return nil, errors.New("ui: Handler needs an engine")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Actions == nil {
		o.Actions = engineActions{eng}
	}
	s, err := newServer(hook.Core(eng).Store(), o, true)
	if err != nil {
		return nil, err
	}
	s.codec = hook.Core(eng).Codec()
	s.eng = eng
	return s, nil
}

// StoreHandler returns the dashboard over a store, such as a database file
// opened with sqlite.OpenReadOnly while the application that owns it runs
// (what `chorus serve` does). Its actions are opts.Actions; when nil the
// pages say that actions are not available here, since the journal has
// one writer, and the action routes answer 403.
func StoreHandler(st history.Store, opts *Options) (http.Handler, error) {
	if st == nil {
		return nil, errors.New("ui: StoreHandler needs a store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	return newServer(st, o, false)
}

// server is the dashboard.
type server struct {
	st    history.Store
	codec history.Codec // decodes failures for the KPIs; nil is JSON
	opts  Options
	live  bool
	key   []byte
	pages *template.Template
	mux   *http.ServeMux
	cop   *http.CrossOriginProtection

	// eng switches models (package decide); nil over a store.
	eng *chorus.Engine
}

func newServer(st history.Store, o Options, live bool) (*server, error) {
	if o.Prefix != "" && (!strings.HasPrefix(o.Prefix, "/") || strings.HasSuffix(o.Prefix, "/")) {
		return nil, fmt.Errorf("ui: Options.Prefix %q: want a path such as /chorus (a leading slash, no trailing one)", o.Prefix)
	}
	if t, ok := o.Auth.(*tokenAuth); ok && t.token == "" {
		return nil, errors.New("ui: Options.Auth: BearerToken with an empty token")
	}
	if o.SessionKey != nil && len(o.SessionKey) < 32 {
		return nil, fmt.Errorf("ui: Options.SessionKey: %d bytes, want at least 32", len(o.SessionKey))
	}
	if o.SessionTTL < 0 || o.MaxBodyBytes < 0 || o.PageSize < 0 {
		return nil, errors.New("ui: Options.SessionTTL, MaxBodyBytes and PageSize must not be negative")
	}
	if err := checkOutcomes(o.Outcomes); err != nil {
		return nil, err
	}
	if err := checkTables(o.Tables); err != nil {
		return nil, err
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.PageSize == 0 {
		o.PageSize = 50
	}
	o.PageSize = min(o.PageSize, maxPageSize)
	if o.Title == "" {
		o.Title = "Chorus"
	}
	if o.ReadOnly {
		o.Actions = nil
	}
	s := &server{st: st, opts: o, live: live, key: o.SessionKey, cop: http.NewCrossOriginProtection()}
	if s.key == nil {
		s.key = make([]byte, 32)
		if _, err := rand.Read(s.key); err != nil {
			return nil, fmt.Errorf("ui: session key: %w", err)
		}
	}
	t, err := template.New("").Funcs(s.funcs()).Funcs(s.inboxFuncs()).Funcs(s.tableFuncs()).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: templates: %w", err)
	}
	s.pages = t
	s.routes()
	return s, nil
}

const maxPageSize = 1000

func (s *server) routes() {
	m := http.NewServeMux()
	// Pages.
	m.HandleFunc("GET /{$}", s.runsPage)
	m.HandleFunc("GET /runs/{id}", s.runPage)
	m.HandleFunc("POST /runs/{id}/{action}", s.formAction)
	m.HandleFunc("POST /runs/{id}/reset", s.formReset)
	m.HandleFunc("GET /workflows/{$}", s.workflowsPage)
	m.HandleFunc("GET /workflows/{name}", s.workflowPage)
	m.HandleFunc("GET /models/{$}", s.modelsPage)
	m.HandleFunc("GET /models/{name}", s.modelPage)
	m.HandleFunc("POST /models/{name}/{action}", s.formModelAction)
	m.HandleFunc("GET /integrations/{$}", s.integrationsPage)
	m.HandleFunc("GET /api/integrations", s.apiIntegrations)
	m.HandleFunc("GET /tables/{slug}/{$}", s.tablePage)
	m.HandleFunc("GET /api/tables/{slug}", s.apiTable)
	m.HandleFunc("GET /static/{file}", s.static)
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.logout)
	// API.
	m.HandleFunc("GET /api/runs", s.apiRuns)
	m.HandleFunc("GET /api/runs/{id}", s.apiRun)
	m.HandleFunc("GET /api/runs/{id}/history", s.apiHistory)
	m.HandleFunc("GET /api/stats", s.apiStats)
	m.HandleFunc("GET /api/session", s.apiSession)
	m.HandleFunc("POST /api/runs/{id}/{action}", s.apiAction)
	m.HandleFunc("POST /api/runs/{id}/reset", s.apiReset)
	m.HandleFunc("POST /api/batch", s.apiBatch)
	m.HandleFunc("GET /api/models", s.apiModels)
	m.HandleFunc("GET /api/models/{name}", s.apiModel)
	m.HandleFunc("POST /api/models/{name}/{action}", s.apiModelAction)
	s.inboxRoutes(m)
	m.HandleFunc("/api/", s.apiNoRoute)
	m.HandleFunc("/", s.noRoute)
	s.mux = m
}

// ServeHTTP strips the prefix, authenticates, applies the cross-origin
// check to unsafe methods, and routes.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if s.opts.Prefix != "" {
		p := strings.TrimPrefix(r.URL.Path, s.opts.Prefix)
		if p == r.URL.Path {
			s.fail(w, r, http.StatusNotFound, "not_found", "", fmt.Sprintf("%s is outside the dashboard (%s/)", r.URL.Path, s.opts.Prefix))
			return
		}
		if p == "" {
			http.Redirect(w, r, s.opts.Prefix+"/", http.StatusMovedPermanently)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = p
		u.RawPath = strings.TrimPrefix(r.URL.RawPath, s.opts.Prefix)
		r2.URL = &u
		r = r2
	}
	if err := s.cop.Check(r); err != nil {
		s.fail(w, r, http.StatusForbidden, "cross_origin", "", "cross-origin request refused: "+err.Error())
		return
	}
	who, err := s.authenticate(r)
	if err != nil {
		// Signing in is the one thing done without credentials; the form
		// itself is a 401 like every other page.
		if r.URL.Path == "/login" && r.Method == http.MethodPost {
			s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), whoKey{}, who)))
			return
		}
		if r.URL.Path == "/login" && r.Method == http.MethodGet {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chorus"`)
			s.renderLogin(w, http.StatusUnauthorized, r.URL.Query().Get("next"), "")
			return
		}
		s.unauthorized(w, r, err)
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), whoKey{}, who)))
}

type whoKey struct{}

// caller is who made a request, and how.
type caller struct {
	// Identity names them for the journal: the authenticator's identity,
	// or "anonymous" when the dashboard has no authentication.
	Identity string
	// Session is the nonce of their session cookie, empty when they did
	// not come with one.
	Session string
	// Header says they authenticated with the Authorization header.
	Header bool
}

// payloadCodec is the codec that decodes the payloads shown to the caller
// of r, nil for none (see Options.PayloadCodec and MayDecode).
func (s *server) payloadCodec(r *http.Request) history.PayloadCodec {
	if s.opts.PayloadCodec == nil || (s.opts.MayDecode != nil && !s.opts.MayDecode(r, callerOf(r).Identity)) {
		return nil
	}
	return s.opts.PayloadCodec
}

func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(whoKey{}).(caller)
	return c
}

// path is the link to a dashboard path.
func (s *server) path(p string) string { return s.opts.Prefix + p }

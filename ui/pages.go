package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/inspect"
)

// statuses are the run statuses, in the order the filters show them.
var statuses = []string{"queued", "running", "blocked", "completed", "failed", "canceled", "terminated", "timed-out"}

func (s *server) funcs() template.FuncMap {
	return template.FuncMap{
		"link": func(p string) string { return s.path(p) },
		"runLink": func(id string) string {
			return s.path("/runs/" + url.PathEscape(id))
		},
		"apiRunLink": func(id string) string {
			return s.path("/api/runs/" + url.PathEscape(id))
		},
		"workflowLink": func(name string) string {
			return s.path("/workflows/" + url.PathEscape(name))
		},
		"runsLink": func(k, v string) string {
			return s.path("/?" + url.Values{k: {v}}.Encode())
		},
		"time": func(s string) string {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return s
			}
			return t.UTC().Format("2006-01-02 15:04:05.000")
		},
		"json": func(b json.RawMessage) string {
			if len(b) == 0 {
				return ""
			}
			var out bytes.Buffer
			if json.Indent(&out, b, "", "  ") != nil {
				return string(b)
			}
			return out.String()
		},
		"short": func(b json.RawMessage) string {
			s := strings.Join(strings.Fields(string(b)), " ")
			if r := []rune(s); len(r) > 80 {
				s = string(r[:79]) + "…"
			}
			return s
		},
		"has": func(list []string, v string) bool {
			for _, x := range list {
				if x == v {
					return true
				}
			}
			return false
		},
		"dur": func(d time.Duration) string {
			switch {
			case d >= time.Second:
				return d.Round(10 * time.Millisecond).String()
			case d >= time.Millisecond:
				return d.Round(10 * time.Microsecond).String()
			}
			return d.String()
		},
		"pct": func(f *float64) string {
			if f == nil {
				return "–"
			}
			return percent(*f)
		},
		"statuses":  func() []string { return statuses },
		"printable": inspect.Printable,

		// The models pages.
		"share":        percent,
		"when":         func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") },
		"modelLink":    func(name string) string { return s.path("/models/" + url.PathEscape(name)) },
		"apiModelLink": func(name string) string { return s.path("/api/models/" + url.PathEscape(name)) },
	}
}

// percent prints a share from 0 to 1 as a percentage, cut to one
// decimal: 0.2 is "20%", 1/3 "33.3%".
func percent(f float64) string {
	return strconv.FormatFloat(math.Trunc(f*1000+1e-9)/10, 'f', -1, 64) + "%"
}

// page is what every page template gets.
type page struct {
	Title    string
	Heading  string
	Who      string
	SignedIn bool // by session cookie: offer to sign out
	CSRF     string
	Live     bool
	Actions  bool
	NoAction string // why there are no action buttons
	Nav      string
	Data     any
}

func (s *server) newPage(r *http.Request, heading, nav string, data any) *page {
	c := callerOf(r)
	p := &page{Title: s.opts.Title, Heading: heading, Who: c.Identity, SignedIn: c.Session != "" && s.opts.Auth != nil,
		CSRF: s.csrfToken(c), Live: s.live, Actions: s.opts.Actions != nil, Nav: nav, Data: data}
	if !p.Actions {
		p.NoAction = s.noActionsReason()
	}
	if s.opts.Auth == nil {
		p.Who = ""
	}
	return p
}

func (s *server) render(w http.ResponseWriter, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, p); err != nil {
		http.Error(w, "template "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, status, "error.html", s.newPage(r, http.StatusText(status), "", map[string]any{"Status": status, "Message": msg}))
}

func (s *server) renderLogin(w http.ResponseWriter, status int, next, msg string) {
	// The sign-in page is served before authentication, so it carries its
	// style inline rather than linking the stylesheet (which needs it).
	css, _ := fs.ReadFile(assets, "static/style.css")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	p := &page{Title: s.opts.Title, Heading: "Sign in", Data: map[string]any{
		"Next": safeNext(next), "Message": msg, "CSS": template.CSS(css), "Action": s.path("/login")}}
	s.render(w, status, "login.html", p)
}

func (s *server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(assets, "static/"+name)
	if err != nil || strings.Contains(name, "/") {
		s.noRoute(w, r)
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	w.Header().Set("Cache-Control", "private, max-age=300")
	_, _ = w.Write(b)
}

// runsData is the runs page.
type runsData struct {
	Q       *listQuery
	Page    inspect.RunPage
	Error   string
	NextURL string
	Filters bool
}

// runsPage is GET /: the runs list with its filters.
func (s *server) runsPage(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := s.parseList(v)
	if err != nil {
		var ie *inputError
		errors.As(err, &ie)
		d := &runsData{Q: &listQuery{}, Error: err.Error(), Page: inspect.RunPage{Runs: []inspect.RunRow{}}}
		s.render(w, http.StatusBadRequest, "runs.html", s.newPage(r, "Runs", "runs", d))
		return
	}
	// An exact run ID in the search box goes to the run.
	if q.prefix != "" && q.After == "" {
		if _, err := s.st.Run(r.Context(), q.prefix); err == nil {
			http.Redirect(w, r, s.path("/runs/"+url.PathEscape(q.prefix)), http.StatusSeeOther)
			return
		}
	}
	pg, err := s.list(r.Context(), q)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	d := &runsData{Q: q, Page: pg}
	if pg.Next != "" {
		nv := url.Values{}
		for k, vs := range v {
			nv[k] = vs
		}
		nv.Set("after", pg.Next)
		d.NextURL = s.path("/?" + nv.Encode())
	}
	d.Filters = len(v) > 0
	s.render(w, http.StatusOK, "runs.html", s.newPage(r, "Runs", "runs", d))
}

// maxTimelineRows caps the timeline a run page shows; the API serves it
// whole.
const maxTimelineRows = 2000

// runData is the run page.
type runData struct {
	Run      *inspect.Run
	Timeline *inspect.Timeline
	// Cut is how many timeline items the page leaves out.
	Cut  int
	Done string
	Memo []memoEntry
	// LastFailure is, per pending activity's step, how its latest attempt
	// failed.
	LastFailure map[int64]*inspect.Failure
	// Events is the raw journal, at most maxTimelineRows of it; EventsCut
	// how many events it leaves out.
	Events    []inspect.EventRow
	EventsCut int
	// Retry offers the retry form: the run failed and the dashboard's
	// actions reset runs (see reset.go).
	Retry bool
}

type memoEntry struct {
	Key   string
	Value json.RawMessage
}

// runPage is GET /runs/{id}.
func (s *server) runPage(w http.ResponseWriter, r *http.Request) {
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
	tl, err := inspect.BuildTimeline(r.Context(), s.st, id, s.payloadCodec(r))
	if err != nil {
		s.failErr(w, r, notFound(err, id))
		return
	}
	d := &runData{Run: v, Timeline: tl, LastFailure: map[int64]*inspect.Failure{}}
	for _, it := range tl.Items {
		if it.Kind == "activity" && it.LastFailure != nil && it.EndSeq == 0 {
			d.LastFailure[it.Seq] = it.LastFailure
		}
	}
	events, err := s.st.Events(r.Context(), id, 0)
	if err != nil {
		s.failErr(w, r, notFound(err, id))
		return
	}
	if n := len(events); n > maxTimelineRows {
		d.EventsCut = n - maxTimelineRows
		events = events[:maxTimelineRows]
	}
	d.Events = inspect.Events(inspect.DecodeEvents(s.payloadCodec(r), events))
	if n := len(tl.Items); n > maxTimelineRows {
		// The start and the end say the most: keep both.
		d.Cut = n - maxTimelineRows
		tl.Items = append(tl.Items[:maxTimelineRows/2:maxTimelineRows/2], tl.Items[n-maxTimelineRows/2:]...)
	}
	switch done := r.URL.Query().Get("done"); done {
	case "cancel":
		d.Done = "Cancellation requested."
	case "terminate":
		d.Done = "Run terminated."
	case "signal":
		d.Done = "Signal sent."
	case "reset":
		d.Done = "Run reset: it goes on from the step that failed."
	}
	d.Retry = s.offersRetry(v.Status)
	for k, m := range v.Memo {
		d.Memo = append(d.Memo, memoEntry{k, m})
	}
	sort.Slice(d.Memo, func(i, j int) bool { return d.Memo[i].Key < d.Memo[j].Key })
	p := s.newPage(r, "Run "+id, "runs", d)
	if v.Status != history.StatusRunning.String() && v.Status != history.StatusBlocked.String() {
		p.Actions = false
		p.NoAction = "The run has ended: nothing to act on."
	}
	s.render(w, http.StatusOK, "run.html", p)
}

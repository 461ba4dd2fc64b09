package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chorusdev/chorus/human"
	"github.com/chorusdev/chorus/internal/inspect"
)

// inboxActions are the actions a person takes on a task, in the order the
// task page offers them.
var inboxActions = []string{"claim", "release", "complete", "reassign", "comment"}

// The inbox: people's human tasks (package human) in the dashboard. See
// the package doc's Inbox section for the routes and their documents.

// inboxRoutes registers the inbox's pages and API when the dashboard has
// an inbox; without one they are unknown routes (404).
func (s *server) inboxRoutes(m *http.ServeMux) {
	if s.opts.Inbox == nil {
		return
	}
	m.HandleFunc("GET /inbox/{$}", s.inboxPage)
	m.HandleFunc("GET /inbox/{run}/{task}", s.taskPage)
	m.HandleFunc("POST /inbox/{run}/{task}/{action}", s.taskForm)
	m.HandleFunc("GET /api/inbox", s.apiInbox)
	m.HandleFunc("GET /api/inbox/{run}/{task}", s.apiTask)
	m.HandleFunc("POST /api/inbox/{run}/{task}/{action}", s.apiTaskAction)
}

// inboxFuncs are the templates' functions for the inbox.
func (s *server) inboxFuncs() template.FuncMap {
	return template.FuncMap{
		"inboxOn": func() bool { return s.opts.Inbox != nil },
		"taskLink": func(run, task string) string {
			return s.path("/inbox/" + url.PathEscape(run) + "/" + url.PathEscape(task))
		},
		"stamp": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"contextSummary": contextSummary,
		"contextHTML":    contextHTML,
		"runTasks":       runTasks,
	}
}

// taskIDs reads the {run} and {task} of the path and checks them.
func taskIDs(r *http.Request) (run, task string, err error) {
	run, task = r.PathValue("run"), r.PathValue("task")
	for _, v := range []struct{ field, value string }{{"run", run}, {"task", task}} {
		if v.value == "" || len(v.value) > 1000 || !utf8.ValidString(v.value) || strings.ContainsRune(v.value, 0) {
			return "", "", badField(v.field, "%q is not a %s ID", v.value, v.field)
		}
	}
	return run, task, nil
}

// taskFailure is how the dashboard answers a refused or failed task
// action: a status, a code and the field at fault.
func taskFailure(action string, err error) (status int, code, field string) {
	var ie *inputError
	switch {
	case errors.As(err, &ie):
		return http.StatusBadRequest, "bad_input", ie.field
	case errors.Is(err, human.ErrUnknownTask):
		return http.StatusNotFound, "not_found", ""
	case errors.Is(err, human.ErrNotAuthorized):
		return http.StatusForbidden, "not_authorized", ""
	case errors.Is(err, human.ErrAlreadyClaimed):
		return http.StatusConflict, "already_claimed", ""
	case errors.Is(err, human.ErrNotClaimed):
		return http.StatusConflict, "not_claimed", ""
	case errors.Is(err, human.ErrTaskClosed):
		return http.StatusConflict, "task_closed", ""
	case errors.Is(err, human.ErrInvalidOutcome):
		return http.StatusBadRequest, "bad_input", "outcome"
	case errors.Is(err, human.ErrBadRequest):
		switch action {
		case "comment":
			return http.StatusBadRequest, "bad_input", "text"
		case "reassign":
			return http.StatusBadRequest, "bad_input", "to_user"
		}
		return http.StatusBadRequest, "bad_input", ""
	case errors.Is(err, human.ErrUnknownUser):
		// The authenticated identity is not one of the directory's people.
		return http.StatusForbidden, "unknown_user", ""
	}
	status, code = classify(err)
	return status, code, ""
}

// plain is an error as a person reads it: the refusal's reason, without
// the package prefixes.
func plain(err error) string {
	var te *human.TaskError
	if errors.As(err, &te) {
		err = te.Err
	}
	msg := err.Error()
	for {
		m, ok := strings.CutPrefix(msg, "human: ")
		if !ok {
			break
		}
		msg = m
	}
	msg = strings.ReplaceAll(msg, ": human: ", ": ")
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return msg
}

// failTask answers a failed task request in JSON.
func (s *server) failTask(w http.ResponseWriter, action string, err error) {
	status, code, field := taskFailure(action, err)
	writeError(w, status, code, field, err.Error())
}

// inboxData is the inbox page.
type inboxData struct {
	User  string
	Tasks []human.TaskView
	Error string
}

// inboxPage is GET /inbox/: the signed-in user's open tasks.
func (s *server) inboxPage(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	d := &inboxData{User: c.Identity}
	status := http.StatusOK
	tasks, err := s.opts.Inbox.List(r.Context(), c.Identity)
	if err != nil {
		status, _, _ = taskFailure("list", err)
		if status >= 500 {
			s.failErr(w, r, err)
			return
		}
		d.Error = plain(err)
	}
	d.Tasks = tasks
	s.render(w, status, "inbox.html", s.newPage(r, "Inbox", "inbox", d))
}

// apiInbox is GET /api/inbox: the caller's open tasks.
func (s *server) apiInbox(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	tasks, err := s.opts.Inbox.List(r.Context(), c.Identity)
	if err != nil {
		s.failTask(w, "list", err)
		return
	}
	if tasks == nil {
		tasks = []human.TaskView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"identity": c.Identity, "tasks": tasks})
}

// apiTask is GET /api/inbox/{run}/{task}: the whole task.
func (s *server) apiTask(w http.ResponseWriter, r *http.Request) {
	run, task, err := taskIDs(r)
	if err != nil {
		s.failTask(w, "read", err)
		return
	}
	v, err := s.opts.Inbox.Task(r.Context(), run, task)
	if err != nil {
		s.failTask(w, "read", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// taskData is the task page.
type taskData struct {
	Task human.TaskView
	// User is who looks at the task.
	User string
	// Done says which action just succeeded; Error why one was refused,
	// and Code its code.
	Done, Error, Code string
	// Outcome fills the completion form again after a refusal.
	Outcome string
	// Actions says whether the forms are offered.
	Actions bool
	// Fields are the inputs of the completion form generated from the
	// task kind's example outcome ([Options].Outcomes), if any.
	Fields []outcomeField
}

// taskPage is GET /inbox/{run}/{task}: the task's context, audit and
// forms.
func (s *server) taskPage(w http.ResponseWriter, r *http.Request) {
	d := &taskData{}
	if done := r.URL.Query().Get("done"); contains(inboxActions, done) {
		d.Done = done
	}
	s.renderTask(w, r, http.StatusOK, d)
}

// renderTask reads the task again and renders its page with d.
func (s *server) renderTask(w http.ResponseWriter, r *http.Request, status int, d *taskData) {
	run, task, err := taskIDs(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	v, err := s.opts.Inbox.Task(r.Context(), run, task)
	if err != nil {
		st, _, _ := taskFailure("read", err)
		if st < 500 {
			s.renderError(w, r, st, plain(err))
			return
		}
		s.failErr(w, r, err)
		return
	}
	c := callerOf(r)
	d.Task, d.User = v, c.Identity
	d.Actions = !s.opts.ReadOnly && !v.State.Closed()
	if ex, ok := s.opts.Outcomes[v.Name]; ok {
		d.Fields, _ = outcomeFields(ex) // checked by newServer
	}
	p := s.newPage(r, v.Title, "inbox", d)
	s.render(w, status, "inbox_task.html", p)
}

// Bodies of the API's task actions. Claim and release take none (or {}).
type (
	completeBody struct {
		Outcome json.RawMessage `json:"outcome"`
	}
	reassignBody struct {
		ToUser  string `json:"to_user"`
		ToGroup string `json:"to_group"`
	}
	commentBody struct {
		Text string `json:"text"`
	}
)

// taskForm is POST /inbox/{run}/{task}/{action} from the task page's
// forms: CSRF-checked, answered with a redirect to the task, or with the
// task page and the reason when the action is refused.
func (s *server) taskForm(w http.ResponseWriter, r *http.Request) { s.taskAction(w, r, true) }

// apiTaskAction is POST /api/inbox/{run}/{task}/{action}.
func (s *server) apiTaskAction(w http.ResponseWriter, r *http.Request) { s.taskAction(w, r, false) }

func (s *server) taskAction(w http.ResponseWriter, r *http.Request, form bool) {
	action := r.PathValue("action")
	if !contains(inboxActions, action) {
		s.fail(w, r, http.StatusNotFound, "not_found", "", fmt.Sprintf("no task action %q (want claim, release, complete, reassign or comment)", action))
		return
	}
	if s.opts.ReadOnly {
		s.fail(w, r, http.StatusForbidden, "actions_disabled", "", s.noActionsReason())
		return
	}
	c, ok := s.admitPost(w, r, form)
	if !ok {
		return
	}
	run, task, err := taskIDs(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	// The user is the authenticated identity, never a field of the
	// request: a person acts as themselves.
	user, in, ctx := c.Identity, s.opts.Inbox, r.Context()
	var (
		v       human.TaskView
		outcome string
	)
	switch action {
	case "claim", "release":
		if !form {
			var body struct{}
			if err := decodeBody(r, &body); err != nil {
				s.bodyErr(w, r, err)
				return
			}
		}
		if action == "claim" {
			v, err = in.Claim(ctx, user, run, task)
		} else {
			v, err = in.Release(ctx, user, run, task)
		}
	case "complete":
		var body completeBody
		if form && r.PostFormValue("form") == "fields" {
			body.Outcome, err = outcomeFromFields(r.PostForm)
			if err != nil {
				break
			}
		} else if form {
			outcome = r.PostFormValue("outcome")
			if o := strings.TrimSpace(outcome); o != "" {
				var v any
				if jerr := json.Unmarshal([]byte(o), &v); jerr != nil {
					err = badField("outcome", "the outcome is not valid JSON: %v", jerr)
					break
				}
				body.Outcome = json.RawMessage(o)
			}
		} else if err := decodeBody(r, &body); err != nil {
			s.bodyErr(w, r, err)
			return
		}
		if body.Outcome == nil {
			err = badField("outcome", "the outcome is required (JSON)")
			break
		}
		v, err = in.Complete(ctx, user, run, task, body.Outcome)
	case "reassign":
		var body reassignBody
		if form {
			body.ToUser, body.ToGroup = strings.TrimSpace(r.PostFormValue("to_user")), strings.TrimSpace(r.PostFormValue("to_group"))
		} else if err := decodeBody(r, &body); err != nil {
			s.bodyErr(w, r, err)
			return
		}
		if body.ToUser == "" && body.ToGroup == "" {
			err = badField("to_user", "name a user (to_user) or a group (to_group) to reassign the task to")
			break
		}
		v, err = in.Reassign(ctx, user, run, task, body.ToUser, body.ToGroup)
		if errors.Is(err, human.ErrUnknownUser) || errors.Is(err, human.ErrUnavailable) {
			field := "to_user"
			if body.ToUser == "" {
				field = "to_group"
			}
			err = &inputError{field, err}
		}
	case "comment":
		var body commentBody
		if form {
			body.Text = r.PostFormValue("text")
		} else if err := decodeBody(r, &body); err != nil {
			s.bodyErr(w, r, err)
			return
		}
		if strings.TrimSpace(body.Text) == "" {
			err = badField("text", "the comment is empty")
			break
		}
		v, err = in.Comment(ctx, user, run, task, body.Text)
	}
	if err != nil {
		if !form {
			s.failTask(w, action, err)
			return
		}
		status, code, _ := taskFailure(action, err)
		if status >= 500 && status != http.StatusServiceUnavailable {
			s.failErr(w, r, err)
			return
		}
		var ie *inputError
		msg := plain(err)
		if errors.As(err, &ie) {
			msg = plain(ie.err)
		}
		s.renderTask(w, r, status, &taskData{Error: msg, Code: code, Outcome: outcome})
		return
	}
	if form {
		http.Redirect(w, r, s.path("/inbox/"+url.PathEscape(run)+"/"+url.PathEscape(task)+"?done="+action), http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": action, "identity": user, "task": v})
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// contextSummary is a line about a task's context for the inbox's list:
// the top-level fields that are plain values, as "name: value", or the
// JSON itself.
func contextSummary(raw json.RawMessage) string {
	const max = 120
	var fields []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err == nil && tok == json.Delim('{') {
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				break
			}
			var v any
			if dec.Decode(&v) != nil {
				break
			}
			switch v := v.(type) {
			case string, json.Number, bool:
				fields = append(fields, fmt.Sprintf("%v: %v", k, v))
			}
		}
	}
	s := strings.Join(fields, " · ")
	if s == "" {
		s = strings.Join(strings.Fields(string(raw)), " ")
	}
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// maxContextDepth is how deep contextHTML renders nested values as
// lists; deeper ones are shown as JSON.
const maxContextDepth = 12

// contextHTML renders a task's context readably: an object as a list of
// names and values, an array as a numbered list, nested as deep as it
// goes. Anything that is not JSON is shown as it is.
func contextHTML(raw json.RawMessage) template.HTML {
	if len(bytes.TrimSpace(raw)) == 0 {
		return `<p class="hint">No context.</p>`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b strings.Builder
	if err := writeValue(&b, dec, 0); err != nil || dec.More() {
		return template.HTML("<pre>" + template.HTMLEscapeString(string(raw)) + "</pre>")
	}
	return template.HTML(b.String())
}

// writeValue writes the next JSON value of dec as HTML, keeping the
// order of an object's fields.
func writeValue(b *strings.Builder, dec *json.Decoder, depth int) error {
	if depth >= maxContextDepth {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		b.WriteString("<code>" + template.HTMLEscapeString(string(raw)) + "</code>")
		return nil
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		open, end := `<dl class="kv ctx">`, "</dl>"
		if t == '[' {
			open, end = `<ol class="ctx">`, "</ol>"
		}
		if !dec.More() {
			_, err := dec.Token()
			b.WriteString(`<span class="hint">none</span>`)
			return err
		}
		b.WriteString(open)
		for dec.More() {
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				b.WriteString("<dt>" + template.HTMLEscapeString(fmt.Sprint(k)) + "</dt><dd>")
			} else {
				b.WriteString("<li>")
			}
			if err := writeValue(b, dec, depth+1); err != nil {
				return err
			}
			if t == '{' {
				b.WriteString("</dd>")
			} else {
				b.WriteString("</li>")
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteString(end)
	case string:
		if strings.Contains(t, "\n") {
			b.WriteString(`<pre class="text">` + template.HTMLEscapeString(t) + "</pre>")
		} else {
			b.WriteString(template.HTMLEscapeString(t))
		}
	case nil:
		b.WriteString(`<span class="hint">none</span>`)
	default: // json.Number, bool
		b.WriteString(template.HTMLEscapeString(fmt.Sprint(t)))
	}
	return nil
}

// runTask is a human task a run's journal shows.
type runTask struct {
	ID, Detail string
}

// runTasks lists the human tasks a run created, from the audit markers of
// its journal (see human.AuditMarkerPrefix).
func runTasks(events []inspect.EventRow) []runTask {
	var out []runTask
	for _, e := range events {
		if e.Type != "Marker" || e.Name != human.AuditMarkerPrefix+"created" {
			continue
		}
		var m human.AuditMarker
		if json.Unmarshal(e.Payload, &m) != nil || m.Task == "" {
			continue
		}
		out = append(out, runTask{ID: m.Task, Detail: m.Detail})
	}
	return out
}

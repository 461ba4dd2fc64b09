package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/chorusdev/chorus/decide"
	"github.com/chorusdev/chorus/history"
)

// reportSignal is the name of the signal through which decisions report to
// their model's drift watch; its payload is the decision and the watch's
// configuration.
const reportSignal = "decide.report"

// report is the payload of a reportSignal.
type report struct {
	Decision decide.Decision `json:"decision"`
	Watch    decide.Watch    `json:"watch"`
}

// modelView is one watched model: the drift watch of package decide, run
// "decide-watch:<model>". GET /api/models lists them, GET
// /api/models/{name} answers one with its switches.
type modelView struct {
	Model string `json:"model"`
	// RunID is the watch's run; RunStatus its status.
	RunID     string `json:"run_id"`
	RunStatus string `json:"run_status"`
	// Enabled says the model may decide; LastSwitch is the latest time
	// it was switched off or on, absent when it never was.
	Enabled    bool           `json:"enabled"`
	LastSwitch *decide.Switch `json:"last_switch,omitempty"`
	// Watch is the configuration the latest decision reported.
	Watch decide.Watch `json:"watch"`
	// Cases is how many comparisons the window holds, Agreement the share
	// that agreed.
	Cases     int     `json:"cases"`
	Agreement float64 `json:"agreement"`
	// Counters count every decision reported to the watch; the shares and
	// the agreement rate are worked out from them.
	Counters       decide.Counters `json:"counters"`
	AutomatedShare float64         `json:"automated_share"`
	ManualShare    float64         `json:"manual_share"`
	AgreementRate  float64         `json:"agreement_rate"`
	// Source says where the figures come from: "watch" (the live
	// watch's state, through a query) or "journal" (the watch's journal:
	// its switch markers and the reports it received).
	Source string `json:"source"`
	// Switches are every switch the journal holds, oldest first (model
	// detail only).
	Switches []decide.Switch `json:"switches,omitempty"`
}

// modelsDoc is GET /api/models.
type modelsDoc struct {
	Models []*modelView `json:"models"`
	// Actions says whether models can be switched from here; NoAction
	// says why not.
	Actions  bool   `json:"actions"`
	NoAction string `json:"no_action,omitempty"`
}

// modelActions reports whether models can be switched from here: over a
// live engine, with actions on.
func (s *server) modelActions() bool { return s.eng != nil && !s.opts.ReadOnly }

func (s *server) noModelActionsReason() string {
	if s.opts.ReadOnly {
		return s.noActionsReason()
	}
	return "models cannot be switched here: a model's drift watch is a workflow of the application that owns the journal, and this dashboard only reads the journal; switch it through the application (decide.Enable, decide.Disable) or its dashboard"
}

// watchRuns lists the drift watches of the store, sorted by model.
func (s *server) watchRuns(ctx context.Context) ([]history.RunInfo, error) {
	var out []history.RunInfo
	f := history.ListFilter{Workflow: decide.WatchWorkflowName, Limit: 1000}
	for {
		runs, err := s.st.ListRuns(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if r.Damaged == nil && strings.HasPrefix(r.ID, decide.WatchPrefix) {
				out = append(out, r)
			}
		}
		if len(runs) < f.Limit {
			break
		}
		f.AfterID = runs[len(runs)-1].ID
	}
	slices.SortFunc(out, func(a, b history.RunInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// modelOf reads one model's watch: over a live engine from the watch
// itself, else (or when the watch cannot answer: it ended, it is blocked)
// from its journal. withSwitches reads every switch from the journal.
func (s *server) modelOf(ctx context.Context, r history.RunInfo, withSwitches bool) (*modelView, error) {
	v := &modelView{Model: strings.TrimPrefix(r.ID, decide.WatchPrefix), RunID: r.ID, RunStatus: r.Status.String(),
		Enabled: true, Source: "journal"}
	live := false
	if s.eng != nil && r.Status == history.StatusRunning {
		// The live watch knows best (the window it judges by).
		if st, err := decide.WatchStatus(ctx, s.eng, v.Model); err == nil {
			v.Enabled, v.Watch, v.Cases, v.Agreement, v.Counters = st.Enabled, st.Watch, st.Cases, st.Agreement, st.Counters
			v.Source, live = "watch", true
			if n := len(st.Switches); n > 0 {
				v.LastSwitch = &st.Switches[n-1]
			}
		}
	}
	if !live || withSwitches {
		j, err := s.watchJournal(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		v.Switches = j.switches
		if n := len(j.switches); n > 0 {
			v.LastSwitch = &j.switches[n-1]
		}
		if !live {
			v.Enabled, v.Watch, v.Counters, v.Cases = j.enabled, j.watch, j.counters, len(j.window)
			agreed := 0
			for _, a := range j.window {
				if a {
					agreed++
				}
			}
			if v.Cases > 0 {
				v.Agreement = float64(agreed) / float64(v.Cases)
			}
		}
	}
	v.AutomatedShare, v.ManualShare, v.AgreementRate = v.Counters.AutomatedShare(), v.Counters.ManualShare(), v.Counters.AgreementRate()
	return v, nil
}

// watchState is what a watch's journal says.
type watchState struct {
	enabled  bool
	watch    decide.Watch
	counters decide.Counters
	window   []bool // agreed, per comparison in the window
	switches []decide.Switch
}

// watchJournal reads the watch's journal (every generation) and does the
// watch's bookkeeping over it: each report counted once, the window kept
// to the last Watch.Window comparisons and emptied when the model is
// switched back on.
func (s *server) watchJournal(ctx context.Context, id string) (*watchState, error) {
	evs, err := s.st.Events(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	codec := s.codec
	if codec == nil {
		codec = history.JSONCodec{}
	}
	j := &watchState{enabled: true}
	seen := map[string]bool{}
	for _, e := range evs {
		switch {
		case e.Type == history.EventSignalReceived && e.Name == reportSignal:
			var rep report
			if codec.Unmarshal(e.Payload, &rep) != nil || seen[rep.Decision.Key] {
				continue
			}
			seen[rep.Decision.Key] = true
			if rep.Watch.Window > 0 {
				j.watch = rep.Watch
			}
			j.counters.Add(rep.Decision)
			if rep.Decision.Compared {
				j.window = append(j.window, rep.Decision.Agreed)
				if over := len(j.window) - j.watch.Window; j.watch.Window > 0 && over > 0 {
					j.window = j.window[over:]
				}
			}
		case e.Type == history.EventMarker && e.Name == decide.SwitchMarker:
			var sw decide.Switch
			if codec.Unmarshal(e.Payload, &sw) != nil {
				continue
			}
			j.switches = append(j.switches, sw)
			j.enabled = sw.Enabled
			if sw.Enabled {
				j.window = nil
			}
		}
	}
	return j, nil
}

// models reads every watched model, without their switch lists.
func (s *server) models(ctx context.Context) (*modelsDoc, error) {
	runs, err := s.watchRuns(ctx)
	if err != nil {
		return nil, err
	}
	d := &modelsDoc{Models: []*modelView{}, Actions: s.modelActions()}
	if !d.Actions {
		d.NoAction = s.noModelActionsReason()
	}
	for _, r := range runs {
		v, err := s.modelOf(ctx, r, false)
		if errors.Is(err, history.ErrRunNotFound) {
			continue // purged since it was listed
		}
		if err != nil {
			return nil, err
		}
		v.Switches = nil
		d.Models = append(d.Models, v)
	}
	return d, nil
}

// modelName reads the {name} of the path and checks it.
func modelName(r *http.Request) (string, error) {
	n := r.PathValue("name")
	if n == "" || len(n) > 900 || !utf8.ValidString(n) || strings.ContainsRune(n, 0) {
		return "", badField("name", "%q is not a model name", n)
	}
	return n, nil
}

// watchRun returns the run of the named model's watch; an error wrapping
// history.ErrRunNotFound when no watch is kept on it.
func (s *server) watchRun(ctx context.Context, name string) (history.RunInfo, error) {
	id := decide.WatchID(name)
	info, err := s.st.Run(ctx, id)
	if err == nil && info.Workflow != decide.WatchWorkflowName {
		err = history.ErrRunNotFound
	}
	if errors.Is(err, history.ErrRunNotFound) {
		return info, fmt.Errorf("no drift watch for model %q (run %q): %w", name, id, err)
	}
	return info, err
}

// model reads the named model with its switches.
func (s *server) model(ctx context.Context, name string) (*modelView, error) {
	info, err := s.watchRun(ctx, name)
	if err != nil {
		return nil, err
	}
	v, err := s.modelOf(ctx, info, true)
	if errors.Is(err, history.ErrRunNotFound) {
		return nil, fmt.Errorf("no drift watch for model %q: %w", name, err)
	}
	return v, err
}

// apiModels is GET /api/models.
func (s *server) apiModels(w http.ResponseWriter, r *http.Request) {
	d, err := s.models(r.Context())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// apiModel is GET /api/models/{name}.
func (s *server) apiModel(w http.ResponseWriter, r *http.Request) {
	name, err := modelName(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	v, err := s.model(r.Context(), name)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// modelsPage is GET /models/.
func (s *server) modelsPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.models(r.Context())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "models.html", s.newPage(r, "Models", "models", d))
}

// modelData is the model page.
type modelData struct {
	Model *modelView
	Done  string
}

// modelPage is GET /models/{name}.
func (s *server) modelPage(w http.ResponseWriter, r *http.Request) {
	name, err := modelName(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	v, err := s.model(r.Context(), name)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	d := &modelData{Model: v}
	switch r.URL.Query().Get("done") {
	case "enable":
		d.Done = "Model enabled."
	case "disable":
		d.Done = "Model switched off."
	}
	p := s.newPage(r, "Model "+name, "models", d)
	p.Actions = s.modelActions()
	p.NoAction = ""
	if !p.Actions {
		p.NoAction = s.noModelActionsReason()
	}
	s.render(w, http.StatusOK, "model.html", p)
}

// switchBody is the body of POST /api/models/{name}/enable and /disable.
type switchBody struct {
	Reason string `json:"reason"`
}

// apiModelAction is POST /api/models/{name}/{enable,disable}.
func (s *server) apiModelAction(w http.ResponseWriter, r *http.Request) {
	s.modelAction(w, r, false)
}

// formModelAction is POST /models/{name}/{enable,disable} from the model
// page's forms: CSRF-checked, and answered with a redirect to the model.
func (s *server) formModelAction(w http.ResponseWriter, r *http.Request) {
	s.modelAction(w, r, true)
}

func (s *server) modelAction(w http.ResponseWriter, r *http.Request, form bool) {
	action := r.PathValue("action")
	if action != "enable" && action != "disable" {
		s.fail(w, r, http.StatusNotFound, "not_found", "", fmt.Sprintf("no action %q (want enable or disable)", action))
		return
	}
	if !s.modelActions() {
		s.fail(w, r, http.StatusForbidden, "actions_disabled", "", s.noModelActionsReason())
		return
	}
	c, ok := s.admitPost(w, r, form)
	if !ok {
		return
	}
	name, err := modelName(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	var body switchBody
	if form {
		body.Reason = strings.TrimSpace(r.PostFormValue("reason"))
	} else if err := decodeBody(r, &body); err != nil {
		s.bodyErr(w, r, err)
		return
	}
	// A model without a watch is unknown here: switching it would start
	// a watch for a name that may be a typo.
	if _, err := s.watchRun(r.Context(), name); err != nil {
		s.failErr(w, r, err)
		return
	}
	ctx := withIdentity(r.Context(), c.Identity)
	var st decide.Status
	if action == "enable" {
		st, err = decide.Enable(ctx, s.eng, name, c.Identity)
	} else {
		if body.Reason == "" {
			body.Reason = "switched off by " + c.Identity + " from the dashboard"
		}
		st, err = decide.Disable(ctx, s.eng, name, c.Identity, body.Reason)
	}
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if form {
		http.Redirect(w, r, s.path("/models/"+url.PathEscape(name)+"?done="+action), http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": name, "action": action, "identity": c.Identity, "status": st})
}

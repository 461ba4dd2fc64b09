package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/chorusdev/chorus/internal/inspect"
	"github.com/chorusdev/chorus/internal/kpi"
)

// statsQuery reads the KPI filter: workflow, from and to (created range),
// limit (runs measured, the most recent).
func statsQuery(v url.Values) (kpi.Filter, error) {
	f := kpi.Filter{Workflow: v.Get("workflow")}
	if f.Workflow != "" && len(f.Workflow) > 1000 {
		return f, badField("workflow", "longer than 1000 bytes")
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		tm, err := parseTime(v.Get(t.name))
		if err != nil {
			return f, &inputError{t.name, err}
		}
		*t.dst = tm
	}
	if l := v.Get("limit"); l != "" {
		n, err := parsePositive(l)
		if err != nil {
			return f, &inputError{"limit", err}
		}
		f.Limit = n
	}
	return f, nil
}

// statsDoc is what the workflow pages show; GET /api/stats answers the
// same report as `chorus stats --json` prints (inspect.Stats).
type statsDoc struct {
	Workflows []kpi.Workflow
	Runs      int64
	Limit     int
	Truncated bool
	report    kpi.Report
}

func (s *server) measure(r *http.Request, workflow string) (*statsDoc, error) {
	f, err := statsQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	if workflow != "" {
		f.Workflow = workflow
	}
	f.Codec = s.codec
	rep, err := kpi.Measure(r.Context(), s.st, f)
	if errors.Is(err, kpi.ErrInvalidFilter) {
		return nil, badField("to", "%v", err)
	}
	if err != nil {
		return nil, err
	}
	d := &statsDoc{Workflows: rep.Workflows, Runs: rep.Runs, Limit: rep.Limit, Truncated: rep.Truncated, report: rep}
	if d.Workflows == nil {
		d.Workflows = []kpi.Workflow{}
	}
	return d, nil
}

// apiStats is GET /api/stats: the KPIs of every workflow (or of
// ?workflow=NAME) over the runs created in [from, to).
func (s *server) apiStats(w http.ResponseWriter, r *http.Request) {
	d, err := s.measure(r, "")
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inspect.StatsOf(d.report))
}

// workflowsPage is GET /workflows/: every workflow's KPIs.
func (s *server) workflowsPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.measure(r, "")
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "workflows.html", s.newPage(r, "Workflows", "workflows", d))
}

// workflowPage is GET /workflows/{name}: one workflow's KPIs.
func (s *server) workflowPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d, err := s.measure(r, name)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if len(d.Workflows) == 0 {
		s.fail(w, r, http.StatusNotFound, "not_found", "", "no run of workflow "+name+" in the selection")
		return
	}
	s.render(w, http.StatusOK, "workflow.html", s.newPage(r, "Workflow "+name, "workflows", d.Workflows[0]))
}

// parsePositive reads a positive integer.
func parsePositive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a positive integer", s)
	}
	return n, nil
}

package ui_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/inspect"
)

// The workflow pages and GET /api/stats show the KPIs of the journal.
func TestKPIs(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, nil)

	w := do(t, h, req{path: "/api/stats"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	// The same document as `chorus stats --json`.
	var doc inspect.Stats
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
	require.Equal(t, 13, doc.Runs)
	byName := map[string]inspect.WorkflowStats{}
	for _, k := range doc.Workflows {
		byName[k.Workflow] = k
	}
	reserve := byName["reserve"]
	require.Equal(t, 1, reserve.ByStatus["failed"])
	require.EqualValues(t, 1, reserve.FailedSteps)
	require.EqualValues(t, 1, reserve.RetriedSteps)
	require.Equal(t, 1, reserve.TimeToDetect.N)
	require.Equal(t, 2, byName["upgrade"].ByStatus["blocked"]+byName["broken"].ByStatus["blocked"])

	w = do(t, h, req{path: "/api/stats?workflow=order"})
	doc = inspect.Stats{}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
	require.Len(t, doc.Workflows, 1)
	require.Equal(t, 1, doc.Workflows[0].Ended)

	page := do(t, h, req{path: "/workflows/", html: true}).Body.String()
	require.Contains(t, page, `<table id="kpis" class="kpis">`)
	rows := regexp.MustCompile(`<tr data-workflow="([^"]+)">`).FindAllStringSubmatch(page, -1)
	require.Len(t, rows, len(byName))

	w = do(t, h, req{path: "/workflows/reserve", html: true})
	require.Equal(t, http.StatusOK, w.Code)
	page = w.Body.String()
	require.Contains(t, page, `<div id="workflow" data-workflow="reserve">`)
	require.Contains(t, page, `<dd id="kpi-failed">1</dd>`)
	require.Contains(t, page, `<dd id="kpi-failed-steps">1</dd>`)
	require.Contains(t, page, `<dd id="kpi-retried-steps">1</dd>`)
	require.Regexp(t, `<tr data-kpi="time-to-detect">.*?<td class="num">1</td><td class="num">\d`, page)

	w = do(t, h, req{path: "/workflows/nosuch", html: true})
	require.Equal(t, http.StatusNotFound, w.Code)
	w = do(t, h, req{path: "/api/stats?from=2026-03-03&to=2026-03-02"})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	_, _, field := apiErr(t, w)
	require.Equal(t, "to", field)
}

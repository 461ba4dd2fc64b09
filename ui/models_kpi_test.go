package ui_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/inspect"
)

// The KPI page and GET /api/stats give the automated and manual share of
// a workflow's model-scored decisions and the agreement rate, exactly, and
// leave them out for a workflow that made none; `chorus stats --json`
// gives the same document.
func TestDecisionKPIs(t *testing.T) {
	f := newModelsFixture(t)
	h := f.live(t, nil)

	w := do(t, h, req{path: "/api/stats?workflow=loan"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var doc inspect.Stats
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
	require.Len(t, doc.Workflows, 1)
	half := 0.5
	require.Equal(t, &inspect.DecisionStats{Decisions: 5, Automated: 1, Manual: 4, AutomatedShare: 0.2, ManualShare: 0.8,
		Fallbacks: map[string]int64{"low-confidence": 1, "model-off": 1}, Compared: 4, Agreed: 2, AgreementRate: &half},
		doc.Workflows[0].Decisions)
	var cli inspect.Stats
	require.NoError(t, json.Unmarshal(cliOut(t, "stats", f.path, "--workflow", "loan", "--json"), &cli))
	require.Equal(t, doc.Workflows[0].Decisions, cli.Workflows[0].Decisions)

	w = do(t, h, req{path: "/api/stats?workflow=order"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.NotContains(t, w.Body.String(), `"decisions"`)

	page := do(t, h, req{path: "/workflows/loan", html: true}).Body.String()
	require.Contains(t, page, `<dl class="kv" id="kpi-decisions">`)
	require.Contains(t, page, `<dd id="kpi-decision-count">5</dd>`)
	require.Contains(t, page, `<dd id="kpi-automated-share">20% (1)</dd>`)
	require.Contains(t, page, `<dd id="kpi-manual-share">80% (4)</dd>`)
	require.Contains(t, page, `<dd id="kpi-agreement-rate">50% (2 of 4 compared)</dd>`)
	require.Contains(t, page, `<span data-fallback="model-off">model-off=1</span>`)
	page = do(t, h, req{path: "/workflows/order", html: true}).Body.String()
	require.NotContains(t, page, `id="kpi-decisions"`)
}

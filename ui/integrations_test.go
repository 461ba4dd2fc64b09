package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/integrate"
	"github.com/chorusdev/chorus/ui"
)

func TestIntegrationsPage(t *testing.T) {
	t.Parallel()
	eng, err := chorus.Open(context.Background(), filepath.Join(t.TempDir(), "chorus.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close(context.Background())) })

	// The default: this process's breakers and limiters.
	b, err := integrate.NewBreaker("ui-test-shipping", &integrate.BreakerOptions{FailureThreshold: 1, OpenTimeout: time.Hour})
	require.NoError(t, err)
	done, err := b.Allow()
	require.NoError(t, err)
	done(false) // opens it
	_, err = b.Allow()
	require.ErrorIs(t, err, integrate.ErrCircuitOpen)
	h, err := ui.Handler(eng, nil)
	require.NoError(t, err)

	page := integrationsGet(t, h, "/integrations/")
	require.Contains(t, page, `data-integration="ui-test-shipping" data-breaker="open"`)
	require.Contains(t, page, `>Integrations</a>`)

	var doc struct {
		Integrations []integrate.Stats `json:"integrations"`
	}
	require.NoError(t, json.Unmarshal([]byte(integrationsGet(t, h, "/api/integrations")), &doc))
	var found *integrate.Stats
	for i := range doc.Integrations {
		if doc.Integrations[i].Name == "ui-test-shipping" {
			found = &doc.Integrations[i]
		}
	}
	require.NotNil(t, found)
	require.Equal(t, "open", found.BreakerState)
	require.EqualValues(t, 1, found.Opened)
	require.EqualValues(t, 1, found.Rejected)

	// Counters from elsewhere, and none at all.
	h, err = ui.Handler(eng, &ui.Options{Integrations: func() []integrate.Stats {
		return []integrate.Stats{{Name: "payments", Kind: "limiter", LimiterWaits: 12, LimiterDenials: 3}}
	}})
	require.NoError(t, err)
	page = integrationsGet(t, h, "/integrations/")
	require.Contains(t, page, `data-integration="payments"`)
	require.NotContains(t, page, "ui-test-shipping")
	h, err = ui.Handler(eng, &ui.Options{Integrations: func() []integrate.Stats { return nil }})
	require.NoError(t, err)
	require.Contains(t, integrationsGet(t, h, "/integrations/"), "No API call was made")
	require.Contains(t, integrationsGet(t, h, "/api/integrations"), `"integrations": []`)
}

func integrationsGet(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return strings.TrimSpace(rec.Body.String())
}

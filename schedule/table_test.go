package schedule_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/schedule"
	"github.com/chorusdev/chorus/ui"
)

// TestDashboardTable mounts the Schedules page in the dashboard and reads
// it as a browser and as a script would.
func TestDashboardTable(t *testing.T) {
	t.Parallel()
	e := setup(t)
	require.NoError(t, schedule.Create(e.ctx, e.eng, "nightly", schedule.Spec{Cron: "0 2 * * *", TimeZone: "Europe/Paris", Overlap: schedule.OverlapBufferOne}, job, false))
	require.NoError(t, schedule.Create(e.ctx, e.eng, "minutely", schedule.Spec{Every: time.Minute, Paused: true}, job, false))
	e.waitIdle("nightly", time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC))
	e.waitFor("minutely", "the paused schedule's memo", func(d schedule.Description) bool { return d.Paused })
	h, err := ui.Handler(e.eng, &ui.Options{Tables: []ui.Table{{Name: "Schedules", Intro: schedule.TableIntro,
		Empty: schedule.TableEmpty, RunColumn: "Run", Rows: schedule.Table(e.eng)}}})
	require.NoError(t, err)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/tables/schedules", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var got struct {
		Header []string   `json:"header"`
		Rows   [][]string `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, []string{"Schedule", "Run", "Workflow", "When", "Overlap", "State", "Next", "Last run", "Started", "Skipped", "Missed"}, got.Header)
	require.Equal(t, [][]string{
		{"minutely", "schedule:minutely", "job", "every 1m0s", "skip", "paused", "", "", "0", "0", "0"},
		{"nightly", "schedule:nightly", "job", "cron 0 2 * * * (Europe/Paris)", "buffer-one", "active", "2026-03-01T01:00:00Z", "", "0", "0", "0"},
	}, got.Rows)

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/tables/schedules/", nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "cron 0 2 * * * (Europe/Paris)")
	require.Contains(t, w.Body.String(), `/runs/schedule:nightly`, "the run column links to the schedule's run")
}

package cli_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// purge deletes exactly the ended runs before the cutoff, refuses to run
// while a process holds the file, and reports bad flags as usage errors.
func TestPurge(t *testing.T) {
	f := newFixture(t)

	// While the engine holds the file, purge refuses and changes nothing.
	code, out := f.run("purge", f.path, "--finished-before", "2100-01-01T00:00:00Z")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "held by a running process")

	for _, bad := range [][]string{
		{"purge", f.path},
		{"purge", f.path, "--finished-before", "yesterday"},
		{"purge", f.path, "--finished-before", "2100-01-01T00:00:00Z", "--limit", "-1"},
		{"purge"},
	} {
		code, out := f.run(bad...)
		require.Equal(t, 2, code, "%v: %s", bad, out)
	}
	f.close(t)

	statuses := func() map[string]string {
		code, out := f.run("runs", "list", f.path, "--json")
		require.Equal(t, 0, code, out)
		var page struct {
			Runs []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"runs"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &page), out)
		m := map[string]string{}
		for _, r := range page.Runs {
			m[r.ID] = r.Status
		}
		return m
	}
	before := statuses()
	ended, live := 0, 0
	for _, st := range before {
		switch st {
		case "running", "blocked":
			live++
		default:
			ended++
		}
	}
	require.Positive(t, ended)
	require.Positive(t, live)

	// A cutoff before every run: nothing goes.
	code, out = f.run("purge", f.path, "--finished-before", "2000-01-01T00:00:00Z")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "purged 0 run(s)")
	require.Equal(t, before, statuses())

	code, out = f.run("purge", f.path, "--finished-before", "2100-01-01T00:00:00Z", "--json")
	require.Equal(t, 0, code, out)
	var res struct {
		Purged int `json:"purged"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	after := statuses()
	require.Equal(t, len(before)-res.Purged, len(after))
	for id, st := range after {
		require.Equal(t, before[id], st, "run %s", id)
		if st != "running" && st != "blocked" {
			// Kept only if the engine still owes it work (a child whose
			// parent has not recorded its end, a parent of a live child).
			t.Logf("ended run %s kept: %s", id, st)
		}
	}
	for id, st := range before {
		if st == "running" || st == "blocked" {
			require.Contains(t, after, id, "a run in flight is never purged")
		}
	}
	require.Positive(t, res.Purged)
}

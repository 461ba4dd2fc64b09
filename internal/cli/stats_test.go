package cli_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// stats selects runs by workflow, creation time and limit, and refuses bad
// flag values with a usage error.
func TestStatsFilters(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name string
		code int
		args []string
	}{
		{"stats-workflow", 0, []string{"stats", "@", "--workflow", "trip"}},
		// order-2, order-3, broken-1, pay-1 and trip-1.
		{"stats-created", 0, []string{"stats", "@", "--created-after", "2026-03-02T09:00:02Z", "--created-before", "2026-03-02T09:01:08Z"}},
		{"stats-created-json", 0, []string{"stats", "@", "--workflow", "order", "--created-after", "2026-03-02T09:00:02Z", "--json"}},
		// approval-1, then parent-1-child and parent-1 (created at the same
		// time as broken-1, pay-1 and trip-1, which sort before them).
		{"stats-limit", 0, []string{"stats", "@", "--limit", "3"}},
		{"stats-limit-json", 0, []string{"stats", "@", "--limit", "3", "--json"}},
		{"stats-none", 0, []string{"stats", "@", "--workflow", "no-such-workflow"}},
		{"err-stats-limit", 2, []string{"stats", "@", "--limit", "-5"}},
		{"err-stats-created", 2, []string{"stats", "@", "--created-before", "noon"}},
		{"err-stats-range", 2, []string{"stats", "@", "--created-after", "2026-03-02T10:00:00Z", "--created-before", "2026-03-02T09:00:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "@", f.path)
			}
			code, out := f.run(args...)
			require.Equal(t, c.code, code, out)
			golden(t, c.name, out)
		})
	}
}

// stats counts a damaged run row and skips it, and counts a run whose
// journal is damaged while leaving its steps out; the other runs are
// measured.
func TestStatsDamage(t *testing.T) {
	f := newFixture(t)
	f.close(t)
	db, err := sql.Open("sqlite", f.path)
	require.NoError(t, err)
	for _, q := range []string{
		`UPDATE events SET payload = CAST('99' AS BLOB) WHERE run_id = 'trip-1' AND seq = 3`,
		`UPDATE runs SET workflow = 'forged' WHERE id = 'pay-1'`,
	} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())
	code, out := f.run("stats", f.path)
	require.Equal(t, 0, code, out)
	golden(t, "stats-damaged", out)
	code, out = f.run("stats", f.path, "--json", "--workflow", "trip")
	require.Equal(t, 0, code, out)
	golden(t, "stats-damaged-json", out)
}

package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ticks returns the first n ticks of spec after from, in UTC.
func ticks(t *testing.T, spec Spec, from time.Time, n int) []time.Time {
	t.Helper()
	c, err := spec.compile()
	require.NoError(t, err)
	var out []time.Time
	for range n {
		from = c.next(from)
		out = append(out, from)
	}
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// In Paris the clocks go forward at 02:00 on 2026-03-29 and back at 03:00
// on 2026-10-25: a 02:30 schedule runs once each of those nights.
func TestCronAcrossDaylightSavingTime(t *testing.T) {
	t.Parallel()
	paris := Spec{Cron: "30 2 * * *", TimeZone: "Europe/Paris"}
	require.Equal(t, []time.Time{
		utc("2026-03-28T01:30:00Z"), // 02:30 CET
		utc("2026-03-29T01:00:00Z"), // 02:30 does not exist: at the jump, 03:00 CEST
		utc("2026-03-30T00:30:00Z"), // 02:30 CEST
	}, ticks(t, paris, utc("2026-03-27T12:00:00Z"), 3))
	require.Equal(t, []time.Time{
		utc("2026-10-24T00:30:00Z"), // 02:30 CEST
		utc("2026-10-25T00:30:00Z"), // 02:30 CEST, the first of the two
		utc("2026-10-26T01:30:00Z"), // 02:30 CET
	}, ticks(t, paris, utc("2026-10-23T12:00:00Z"), 3))

	// Times away from the jumps are untouched, and a tick that falls on
	// the jump's far side is not doubled.
	require.Equal(t, []time.Time{
		utc("2026-03-29T00:00:00Z"), // 01:00 CET
		utc("2026-03-29T01:00:00Z"), // 03:00 CEST
		utc("2026-03-29T23:00:00Z"), // 01:00 CEST
	}, ticks(t, Spec{Cron: "0 1,3 * * *", TimeZone: "Europe/Paris"}, utc("2026-03-28T12:00:00Z"), 3))
	require.Equal(t, []time.Time{
		utc("2026-03-29T00:00:00Z"), // 01:00 CET
		utc("2026-03-29T01:00:00Z"), // 02:00 and 03:00 are one moment
		utc("2026-03-29T23:00:00Z"), // 01:00 CEST
	}, ticks(t, Spec{Cron: "0 1,2,3 * * *", TimeZone: "Europe/Paris"}, utc("2026-03-28T12:00:00Z"), 3))

	// Every minute through the night the clocks go back: each wall-clock
	// minute once, so the hour from 02:00 to 03:00 is not run twice.
	c, err := Spec{Cron: "* * * * *", TimeZone: "Europe/Paris"}.compile()
	require.NoError(t, err)
	seen := map[string]bool{}
	for at := utc("2026-10-24T23:30:00Z"); at.Before(utc("2026-10-25T03:00:00Z")); {
		at = c.next(at)
		w := at.In(c.loc).Format("15:04")
		require.False(t, seen[w], "%s ran twice", w)
		seen[w] = true
	}

	// "@every" counts real time: every hour, whatever the clocks say.
	every := ticks(t, Spec{Cron: "@every 1h", TimeZone: "Europe/Paris"}, utc("2026-10-24T23:00:00Z"), 4)
	for i := 1; i < len(every); i++ {
		require.Equal(t, time.Hour, every[i].Sub(every[i-1]))
	}
}

package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTracingExample runs the example and checks its span tree and
// metrics: every span of the run under the caller's, the retried charge
// with its gateway call as a child of each attempt.
func TestTracingExample(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out, false))
	text := out.String()
	require.Contains(t, text, "result: TRK-2\n")
	_, tree, ok := strings.Cut(text, "):\n")
	require.True(t, ok, text)
	tree, _, ok = strings.Cut(tree, "\n\nmetrics:")
	require.True(t, ok, text)
	var names []string
	for l := range strings.Lines(tree) {
		names = append(names, strings.TrimRight(l[:28], " ")) // the name column
	}
	require.Equal(t, []string{
		"checkout",
		"  workflow checkout",
		"  activity reserve",
		"  activity charge",
		"    card-gateway",
		"  activity charge",
		"    card-gateway",
		"  timer",
		"  activity ship",
	}, names, text)
	require.Contains(t, text, "chorus.retry=true")
	require.Contains(t, text, "error: card gateway timed out")
	require.Regexp(t, `chorus.runs.completed +chorus.workflow=checkout += 1`, text)
	require.Regexp(t, `chorus.activity.retries +chorus.activity=charge += 1`, text)
}

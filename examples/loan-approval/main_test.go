package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/internal/testutil"
)

// The test runs the program as a child process, exactly as a user would:
// the test binary re-executes itself and runs main() instead of the tests
// when this variable is set.
const childEnv = "CHORUS_LOAN_APPROVAL_MAIN"

func TestMain(m *testing.M) {
	testutil.RunMainIfChild(childEnv, main)
	os.Exit(m.Run())
}

var requireInOrder = testutil.RequireInOrder

// The program tells the story of every scenario, in order.
func TestStory(t *testing.T) {
	t.Parallel()
	out, err := testutil.RunProgram(t, childEnv, "-db", filepath.Join(t.TempDir(), "loans.db"))
	require.NoError(t, err, out)
	requireInOrder(t, out,
		// 1. The model approves a low risk by itself.
		"== 1. ada",
		"[activity] reserve-funds: reserved $10000.00 for ada (RSV-ada)",
		"[model] credit-score debt-ratio v1.4: ada risk 0.083 (confidence 0.90)",
		"[workflow] ada: approved by the model: paying out",
		"[activity] pay-out: paid $10000.00 to ada from RSV-ada",
		"result: ada approved by model; model debt-ratio v1.4, risk 0.083, band low",

		// 2. An underwriter approves a medium risk, as suggested.
		"== 2. ben",
		"[workflow] ben: to the underwriters (risk 0.375, band medium, the model suggests to approve)",
		"[notify] ben's task underwriting-1 assigned to group underwriters (uma, ravi), priority 1, due Sat 06 Jun 09:00",
		`[uma] inbox: "Ben asks for $25000.00", risk 0.375, band medium, the model suggests to approve, due Sat 06 Jun 09:00`,
		"[uma] claims it and decides approve",
		"[activity] pay-out: paid $25000.00 to ben",
		"result: ben approved by person uma; model debt-ratio v1.4, risk 0.375, band medium, agreed with its suggestion: true",

		// 3. An underwriter declines: the saga releases the funds.
		"== 3. cleo",
		"[activity] reserve-funds: reserved $20000.00 for cleo (RSV-cleo)",
		`[ravi] decides "maybe": human: complete of task "underwriting-1" in run "cleo" by "ravi" refused: human: invalid outcome`,
		"[ravi] claims it and decides decline",
		"[workflow] cleo: declined by ravi: releasing the reservation",
		"[activity] release-funds: released $20000.00 (RSV-cleo)",
		"result: cleo declined by person ravi; model debt-ratio v1.4, risk 0.500, band medium, agreed with its suggestion: false",

		// 4. A high risk goes to a senior underwriter; an underwriter may not take it.
		"== 4. dev",
		"[workflow] dev: to the senior-underwriters (risk 0.800, band high, the model suggests to decline)",
		"[notify] dev's task underwriting-1 assigned to group senior-underwriters (sofia)",
		"[uma] claims dev's case: human: claim of task \"underwriting-1\" in run \"dev\" by \"uma\" refused: human: not authorized for this task",
		"[sofia] claims it and decides decline",
		"[activity] release-funds: released $30000.00 (RSV-dev)",
		"result: dev declined by person sofia; model debt-ratio v1.4, risk 0.800, band high, agreed with its suggestion: true",

		// 5. The 48-hour SLA passes: escalated to the senior underwriters.
		"== 5. eve",
		"[notify] eve's task underwriting-1 assigned to group underwriters (uma, ravi), priority 1, due Sat 06 Jun 09:00",
		"[clock] moving the fake clock 48h0m0s ahead, to Wed 03 Jun 09:00",
		"[notify] eve's task underwriting-1 escalated to group senior-underwriters (sofia), priority 5, due Sat 06 Jun 09:00",
		"[clock] moving the fake clock 2h0m0s ahead, to Wed 03 Jun 11:00",
		"[sofia] claims it and decides approve",
		"[workflow] eve: sofia decided 50h0m0s after the case was asked, after 1 escalation(s)",
		"result: eve approved by person sofia",
		"[audit]   Mon 01 Jun 09:00 created         assign group underwriters",
		"[audit]   Mon 01 Jun 09:00 assigned        group underwriters",
		"[audit]   Wed 03 Jun 09:00 escalated       step 1 after 48h0m0s, priority 5 to group senior-underwriters",
		"[audit]   Wed 03 Jun 09:00 assigned        group senior-underwriters",
		"[audit]   Wed 03 Jun 11:00 claimed   sofia",
		`[audit]   Wed 03 Jun 11:00 completed sofia {"Decision":"approve"}`,

		// 6. The scoring call times out: an underwriter decides without a score.
		"== 6. finn",
		"[bureau] northcredit does not answer; the scoring service waits",
		"[clock] moving the fake clock 2s ahead",
		"[workflow] finn: to the underwriters (no score, fallback: timeout)",
		"[uma] claims it and decides approve",
		"result: finn approved by person uma, fallback timeout",

		// 7. Drift: underwriters keep disagreeing; the watch switches the model off.
		"== 7. gus, hana, ivan",
		"result: gus declined by person ravi",
		"[watch] credit-score on: 3 of the last 5 suggestions agreed with people (60%, minimum 50%)",
		"result: hana declined by person ravi",
		"[watch] credit-score on: 3 of the last 6 suggestions agreed with people (50%, minimum 50%)",
		"result: ivan declined by person ravi",
		"[watch] credit-score OFF: 2 of the last 6 suggestions agreed with people (33%, minimum 50%)",
		"[watch] switched off by the watch at Wed 03 Jun 11:00: agreement 0.333 below 0.500 over the last 6 cases",

		// 8. Switched off, the model no longer approves a low risk.
		"== 8. jo",
		"[workflow] jo: to the underwriters (risk 0.094, band low, fallback: model-off)",
		"[uma] claims it and decides approve",
		"result: jo approved by person uma; model debt-ratio v1.4, risk 0.094, band low, fallback model-off",

		// 9. Re-enabled, it does again.
		"== 9. kim",
		"[olga] re-enables credit-score: on=true, by olga (risk operations)",
		"[workflow] kim: approved by the model: paying out",
		"result: kim approved by model",

		"[summary] 11 decisions: 2 by the model, 9 by people (1 after a timeout, 1 with the model off); people agreed with 4 of the model's 8 suggestions",
	)
	// Money moves once per application: reserved by each, then paid out
	// or released, never both.
	require.Equal(t, 11, strings.Count(out, "[activity] reserve-funds:"), out)
	require.Equal(t, 6, strings.Count(out, "[activity] pay-out:"), out)
	require.Equal(t, 5, strings.Count(out, "[activity] release-funds:"), out)
	require.Equal(t, 0, strings.Count(out, "[model] credit-score debt-ratio v1.4: finn"), "the bureau never answered for finn")
}

package chorusvet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/chorusdev/chorus/chorusvet"
)

// TestMistakes covers each kind of finding in workflow code, in the
// workflow's package and across packages.
func TestMistakes(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), chorusvet.Analyzer, "example.com/shop", "example.com/helper")
}

// TestTrueNegatives checks that activities, the escape hatches, pure
// helpers, sorted map keys and code no workflow reaches are not reported
// (the facts of unreached functions are expected, the diagnostics not).
func TestTrueNegatives(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), chorusvet.Analyzer, "example.com/clean")
}

// TestIgnore checks that a reasoned ignore comment accepts a finding, on
// its line, on the line before or in a function's doc comment, and that one
// without a reason is reported and accepts nothing.
func TestIgnore(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), chorusvet.Analyzer, "example.com/ignore")
}

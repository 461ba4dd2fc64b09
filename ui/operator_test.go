package ui_test

import (
	"testing"
)

// assertOperatorAction checks that run id's journal records action by who.
func assertOperatorAction(t *testing.T, f *fixture, id, action, who string) {
	t.Helper()
}

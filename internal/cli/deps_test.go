package cli_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The CLI library is linked into the chorus command only, never into the
// packages an application imports.
func TestCLILibraryStaysOutOfTheCore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goCmd, "list", "-deps",
		"github.com/chorusdev/chorus", "github.com/chorusdev/chorus/workflow", "github.com/chorusdev/chorus/activity",
		"github.com/chorusdev/chorus/saga", "github.com/chorusdev/chorus/history/sqlite").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/spf13/") || strings.HasPrefix(p, "github.com/inconshreveable/") {
			t.Errorf("the core depends on %s", p)
		}
	}
}

// The PostgreSQL driver is linked into the chorus command (which reads
// PostgreSQL databases), never into the dashboard or an application that
// does not import history/postgres.
func TestPostgresDriverStaysOutOfTheDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goCmd, "list", "-deps",
		"github.com/chorusdev/chorus/ui", "github.com/chorusdev/chorus/examples/quickstart").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/jackc/") || p == "github.com/chorusdev/chorus/history/postgres" {
			t.Errorf("ui or the quickstart depends on %s", p)
		}
	}
}

package testutil

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ProgramTimeout bounds one run of an example program in its smoke test:
// long enough for a loaded 2-core machine, short enough to report a hang.
const ProgramTimeout = 30 * time.Second

// RunMainIfChild is called first in an example's TestMain: when the test
// binary was re-executed by [RunProgram] (envVar is set), it runs the
// program's main instead of the tests and exits.
func RunMainIfChild(envVar string, main func()) {
	if os.Getenv(envVar) == "1" {
		main()
		os.Exit(0)
	}
}

// RunProgram runs the test binary as the example program (see
// [RunMainIfChild]) with args and returns its combined output and its exit
// error. It fails the test if the program does not finish within
// [ProgramTimeout]. Running it as a child process lets a test really kill
// it.
func RunProgram(t testing.TB, envVar string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ProgramTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), envVar+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "program %v did not finish; output:\n%s", args, out)
	return string(out), err
}

// RequireInOrder asserts that out contains each of lines, in that order.
func RequireInOrder(t testing.TB, out string, lines ...string) {
	t.Helper()
	rest := out
	for _, l := range lines {
		i := strings.Index(rest, l)
		require.GreaterOrEqual(t, i, 0, "missing (or out of order) %q in output:\n%s", l, out)
		rest = rest[i+len(l):]
	}
}

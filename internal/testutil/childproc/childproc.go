// Package childproc is the child's side of the tests that re-execute their
// own binary as a child process in order to SIGKILL it at a chosen moment
// (the parent's side is testutil.Child): it picks the child mode, reports
// to the parent line by line, fails loudly, and counts events in files that
// outlive the process. It imports no testing package, so that a command
// (cmd/chorus-torture) can use it too.
package childproc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// ModeEnv is the environment variable that selects the child mode a
// re-executed test binary runs instead of its tests.
const ModeEnv = "CHORUS_TEST_CHILD"

// RunMode is called first in a TestMain: when ModeEnv is set, it runs that
// mode's function, which must end the process with os.Exit, and never
// returns; otherwise it returns at once and the tests run. An unknown mode,
// or a function that returns, exits with status 2.
func RunMode(modes map[string]func()) {
	mode := os.Getenv(ModeEnv)
	if mode == "" {
		return
	}
	f, ok := modes[mode]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown %s mode %q\n", ModeEnv, mode)
		os.Exit(2)
	}
	f()
	fmt.Fprintf(os.Stderr, "child mode %q returned without exiting\n", mode)
	os.Exit(2)
}

// Proc is a child process: how it reads its settings from the environment,
// reports to its parent on standard output and fails. It is safe for
// concurrent use.
type Proc struct {
	name string
	mu   sync.Mutex // one line at a time on stdout
}

// New returns the Proc of a child that names itself name in its failures.
func New(name string) *Proc { return &Proc{name: name} }

// Fail writes the failure to standard error and exits with status 3, which
// the parent reports as a failure of the child.
func (p *Proc) Fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, p.name+": "+format+"\n", args...)
	os.Exit(3)
}

// Say writes one line to standard output, in one write(2), so that a line
// is either wholly in the pipe when the process dies, or not at all. A
// write that fails fails the child.
func (p *Proc) Say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(os.Stdout, format+"\n", args...); err != nil {
		p.Fail("write stdout: %v", err)
	}
}

// Require fails the child unless every one of the environment variables
// names is set to something.
func (p *Proc) Require(names ...string) {
	for _, name := range names {
		if os.Getenv(name) == "" {
			p.Fail("%s must be set (all of %v)", name, names)
		}
	}
}

// Num returns the integer in the environment variable name; one that is
// unset or not an integer fails the child.
func (p *Proc) Num(name string) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		p.Fail("%s=%q: %v", name, os.Getenv(name), err)
	}
	return n
}

// NumOr is Num with def for an unset variable.
func (p *Proc) NumOr(name string, def int) int {
	if os.Getenv(name) == "" {
		return def
	}
	return p.Num(name)
}

// AppendLine appends line and a newline to the file at path, creating it,
// in one write(2) on a descriptor opened with O_APPEND, so that lines
// written by several goroutines or processes never interleave. Once it
// returns the line survives the death of the calling process (it is in the
// kernel's page cache), which is all crash tests that SIGKILL a process
// need; it does not survive a power loss.
func AppendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	return errors.Join(err, f.Close())
}

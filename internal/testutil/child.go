// Package testutil holds small helpers for Chorus's own tests: child
// processes that a test can SIGKILL at a chosen moment, and files that count
// events outside the journal. It is not part of the public API.
package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chorusdev/chorus/internal/testutil/childproc"
)

// ChildEnv is the environment variable that selects the child mode a
// re-executed test binary runs instead of its tests (see
// [childproc.RunMode]).
const ChildEnv = childproc.ModeEnv

// Child is the test binary re-executed as a child process in one mode. The
// test reads the lines the child writes to its standard output one by one
// with [Child.Next], and ends it with [Child.Kill] or [Child.Wait].
type Child struct {
	t    testing.TB
	mode string
	cmd  *exec.Cmd

	stderr bytes.Buffer // written by exec's copier; read only after Wait

	mu      sync.Mutex
	lines   []string
	eof     bool
	readErr error
	changed chan struct{} // closed and replaced whenever lines or eof change
	next    int           // index of the line Next returns next

	readerDone chan struct{}
	waitOnce   sync.Once
	waitDone   chan struct{} // closed once the child was waited for; then state and waitErr are set
	state      *os.ProcessState
	waitErr    error
}

// StartChild re-executes the running test binary in child mode mode (see
// [ChildEnv]) with the extra environment variables env ("NAME=value"). The
// child runs no tests. A cleanup kills it if the test did not end it.
func StartChild(t testing.TB, mode string, env ...string) *Child {
	t.Helper()
	c := &Child{t: t, mode: mode, changed: make(chan struct{}), readerDone: make(chan struct{}), waitDone: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(append(os.Environ(), ChildEnv+"="+mode), env...)
	c.cmd.Stderr = &c.stderr
	// A pipe of our own rather than StdoutPipe: the reader may run until the
	// child's end of the pipe closes, independently of Wait.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("child %s: pipe: %v", mode, err)
	}
	c.cmd.Stdout = w
	if err := c.cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		t.Fatalf("child %s: start: %v", mode, err)
	}
	_ = w.Close()
	go c.read(r)
	t.Cleanup(func() { c.Kill() })
	return c
}

func (c *Child) read(r io.ReadCloser) {
	defer close(c.readerDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		c.mu.Lock()
		c.lines = append(c.lines, sc.Text())
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.eof, c.readErr = true, sc.Err()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// Next returns the next line the child wrote to its standard output,
// waiting for it until deadline. ok is false when the child closed its
// output (it exited) before writing another line. A deadline that passes
// fails the test, reporting what the child wrote.
func (c *Child) Next(deadline time.Time) (line string, ok bool) {
	c.t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.next < len(c.lines) {
			line = c.lines[c.next]
			c.next++
			c.mu.Unlock()
			return line, true
		}
		if c.eof {
			c.mu.Unlock()
			return "", false
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			c.Kill()
			c.t.Fatalf("child %s: no output line within the deadline\n%s", c.mode, c.Report())
		}
	}
}

// Lines returns every line the child has written so far.
func (c *Child) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

func (c *Child) wait() {
	c.waitOnce.Do(func() {
		c.waitErr = c.cmd.Wait()
		c.state = c.cmd.ProcessState
		<-c.readerDone
		close(c.waitDone)
	})
}

// Kill sends SIGKILL to the child and waits until it is gone and its output
// is read to the end. It reports whether the signal is what ended it (false
// when the child had exited on its own before).
func (c *Child) Kill() (killed bool) {
	_ = c.cmd.Process.Signal(syscall.SIGKILL) // fails harmlessly if it is gone already
	c.wait()
	if c.state == nil {
		return false
	}
	ws, ok := c.state.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// KillWhen feeds each line the child writes to stop and SIGKILLs the child
// as soon as stop returns true. It reports whether the kill is what ended
// the child; a child that ended by itself (before the kill point, or just
// before the signal) must have exited 0, else the test fails. Waits end at
// deadline, which fails the test.
func (c *Child) KillWhen(deadline time.Time, stop func(line string) bool) (killed bool) {
	c.t.Helper()
	for {
		line, ok := c.Next(deadline)
		if !ok {
			if code := c.Wait(deadline); code != 0 {
				c.t.Fatalf("child %s: ended before the kill point with exit status %d\n%s", c.mode, code, c.Report())
			}
			return false
		}
		if stop(line) {
			if c.Kill() {
				return true
			}
			if code := c.Wait(deadline); code != 0 {
				c.t.Fatalf("child %s: did not end by SIGKILL but with exit status %d\n%s", c.mode, code, c.Report())
			}
			return false
		}
	}
}

// Wait waits until the child exits on its own (or the deadline passes,
// which fails the test) and returns its exit code, -1 if a signal ended it.
func (c *Child) Wait(deadline time.Time) int {
	c.t.Helper()
	done := make(chan struct{})
	go func() { c.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
		c.Kill()
		<-done
		c.t.Fatalf("child %s: did not exit within the deadline\n%s", c.mode, c.Report())
	}
	if c.state == nil {
		c.t.Fatalf("child %s: wait: %v\n%s", c.mode, c.waitErr, c.Report())
	}
	return c.state.ExitCode()
}

// Report describes the child for a failure message: how it ended, the last
// lines of its output and its standard error. Call it after the child ended
// to see its complete standard error.
func (c *Child) Report() string {
	var b strings.Builder
	ended := false
	select {
	case <-c.waitDone:
		ended = true
	default:
	}
	fmt.Fprintf(&b, "--- child %q", c.mode)
	switch {
	case !ended:
		b.WriteString(" still running")
	case c.state != nil:
		fmt.Fprintf(&b, " ended: %v", c.state)
	default:
		fmt.Fprintf(&b, " wait failed: %v", c.waitErr)
	}
	lines := c.Lines()
	const keep = 40
	fmt.Fprintf(&b, "\n--- its stdout (%d lines", len(lines))
	if len(lines) > keep {
		fmt.Fprintf(&b, ", last %d", keep)
		lines = lines[len(lines)-keep:]
	}
	b.WriteString("):\n")
	for _, l := range lines {
		b.WriteString("    " + l + "\n")
	}
	c.mu.Lock()
	if c.readErr != nil {
		fmt.Fprintf(&b, "--- stdout read error: %v\n", c.readErr)
	}
	c.mu.Unlock()
	if ended {
		fmt.Fprintf(&b, "--- its stderr:\n%s", c.stderr.String())
	}
	return b.String()
}

// AppendLine is [childproc.AppendLine]: it appends line to the file at
// path in one write(2) on an O_APPEND descriptor, so that lines of
// concurrent writers never interleave and a line survives the death of the
// writing process.
func AppendLine(path, line string) error { return childproc.AppendLine(path, line) }

// ReadLines returns the lines of the file at path, none if it does not
// exist.
func ReadLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// CopyDatabase copies the SQLite database at path, with its -wal and -shm
// files when they exist, into dir under the same base name and returns the
// copy's path. Reading a copy taken right after a process was killed shows
// what that process had committed, without opening (and so recovering) the
// original before the code under test does.
func CopyDatabase(path, dir string) (string, error) {
	dst := filepath.Join(dir, filepath.Base(path))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(dst+suffix, b, 0o644); err != nil {
			return "", err
		}
	}
	return dst, nil
}

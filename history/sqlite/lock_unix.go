//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/chorusdev/chorus/history"
)

// lockFile takes an exclusive advisory lock (flock) on the database file, so
// that a second engine, in this process or another, is refused with
// history.ErrLocked instead of racing the first one for the same runs. flock
// locks are independent of the POSIX record locks SQLite uses, and the
// descriptor stays open until Close, after SQLite's own connections closed
// (closing a descriptor of the file would drop the process's POSIX locks).
//
// A lock that is busy is tried again for up to wait: a process that forks
// (to run a command) shares the lock's open file until its child execs, so
// a lock just released can stay held for a moment.
//
// A database file that does not exist is created here, with permission
// mode whatever the umask; SQLite later gives its -wal and -shm files the
// same permission.
func lockFile(path string, wait time.Duration, mode os.FileMode) (*os.File, error) {
	return lockFileBusy(path, wait, mode, nil)
}

// lockFileBusy is lockFile calling busy, when not nil, each time it finds
// the lock held and is about to try again (tests wait on it).
func lockFileBusy(path string, wait time.Duration, mode os.FileMode, busy func()) (*os.File, error) {
	f, err := createOrOpen(path, mode)
	if err != nil {
		return nil, fmt.Errorf("%sopen %q: %v", errPrefix, path, err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		if busy != nil {
			busy()
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("%sopen %q: %w (close the other engine first)", errPrefix, path, history.ErrLocked)
	}
	return nil, fmt.Errorf("%sopen %q: lock: %v", errPrefix, path, err)
}

// createOrOpen opens the file at path for reading and writing, creating it
// with permission mode, exactly, when it does not exist. An existing file
// keeps its permission.
func createOrOpen(path string, mode os.FileMode) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
		if err == nil {
			// The umask narrowed the mode OpenFile asked for.
			if err := f.Chmod(mode); err != nil {
				_ = f.Close()
				_ = os.Remove(path)
				return nil, err
			}
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		f, err = os.OpenFile(path, os.O_RDWR, 0)
		if !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
		// Removed between the two calls: try again.
	}
}

package lazyfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// dirOp is a directory change that no fsync of its directories made
// durable yet.
type dirOp struct {
	kind  string   // "create", "remove" or "rename"
	path  string   // the entry created or removed; the old name renamed
	to    string   // rename: the new name
	dirs  []string // the directories whose fsync makes it durable
	saved *entry   // remove: what was removed; rename: what was replaced
}

// entry is the durable content of a removed directory entry.
type entry struct {
	mode os.FileMode
	data []byte // regular file
	link string // symbolic link
}

func (o *dirOp) String() string {
	if o.kind == "rename" {
		return fmt.Sprintf("rename %s -> %s", o.path, o.to)
	}
	return o.kind + " " + o.path
}

// undo reverts the change in the backing directory.
func (o *dirOp) undo() error {
	var err error
	switch o.kind {
	case "create":
		err = os.RemoveAll(o.path)
	case "remove":
		err = o.saved.restore(o.path)
	case "rename":
		if err = os.Rename(o.to, o.path); err == nil && o.saved != nil {
			err = o.saved.restore(o.to)
		}
	}
	if err != nil {
		return fmt.Errorf("lazyfs: forget %v: %w", o, err)
	}
	return nil
}

// save reads what the entry at path durably holds.
func save(path string) (*entry, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	e := &entry{mode: fi.Mode()}
	switch {
	case fi.Mode().IsRegular():
		// The backing file holds exactly the synced content.
		e.data, err = os.ReadFile(path)
	case fi.Mode()&os.ModeSymlink != 0:
		e.link, err = os.Readlink(path)
	}
	return e, err
}

// restore puts the entry back at path.
func (e *entry) restore(path string) error {
	switch {
	case e.mode.IsDir():
		return os.Mkdir(path, e.mode.Perm())
	case e.mode&os.ModeSymlink != 0:
		return os.Symlink(e.link, path)
	case e.mode.IsRegular():
		return os.WriteFile(path, e.data, e.mode.Perm())
	}
	return nil // a device or fifo: not restored
}

// logCreate records that path was created.
func (l *FS) logCreate(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, &dirOp{kind: "create", path: path, dirs: []string{filepath.Dir(path)}})
}

// remove unlinks (or, with dir, removes the empty directory) path, logged
// with its durable content.
func (l *FS) remove(path string, dir bool) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return err
	}
	e, err := save(path)
	if err != nil {
		return err
	}
	if dir {
		err = syscall.Rmdir(path)
	} else {
		err = syscall.Unlink(path)
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forget(&st)
	l.log = append(l.log, &dirOp{kind: "remove", path: path, saved: e, dirs: []string{filepath.Dir(path)}})
	return nil
}

// rename renames from to to, logged with what to held.
func (l *FS) rename(from, to string, noReplace bool) error {
	var old *entry
	var st syscall.Stat_t
	err := syscall.Lstat(to, &st)
	switch {
	case err == nil && noReplace:
		return syscall.EEXIST
	case err == nil:
		if old, err = save(to); err != nil {
			return err
		}
	case !errors.Is(err, syscall.ENOENT):
		return err
	}
	if err := syscall.Rename(from, to); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if old != nil {
		l.forget(&st)
	}
	dirs := []string{filepath.Dir(from)}
	if d := filepath.Dir(to); d != dirs[0] {
		dirs = append(dirs, d)
	}
	l.log = append(l.log, &dirOp{kind: "rename", path: from, to: to, saved: old, dirs: dirs})
	return nil
}

// syncDir makes the changes logged in directory dir durable there; a
// change is durable once every directory it touched was synced.
func (l *FS) syncDir(dir string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = slices.DeleteFunc(l.log, func(o *dirOp) bool {
		o.dirs = slices.DeleteFunc(o.dirs, func(d string) bool { return d == dir })
		return len(o.dirs) == 0
	})
}

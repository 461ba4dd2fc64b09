package lazyfs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Mode is what a power cut leaves of the writes that were not fsynced.
type Mode int

const (
	// DropAll loses every unsynced write: each file is as of its last
	// fsync.
	DropAll Mode = iota
	// KeepSome writes a seeded random half of the unsynced pages (in no
	// particular order, as a disk's cache may) and drops the rest; a
	// pending truncation happens or not at random.
	KeepSome
	// TearLast writes every unsynced page except the one written last in
	// each file, of which only a random whole number of leading 512-byte
	// sectors (maybe none) reaches the disk.
	TearLast
)

// Modes lists every Mode.
var Modes = []Mode{DropAll, KeepSome, TearLast}

func (m Mode) String() string {
	switch m {
	case DropAll:
		return "drop-all"
	case KeepSome:
		return "keep-some"
	case TearLast:
		return "tear-last"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode returns the Mode whose String is s.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("lazyfs: unknown mode %q (want drop-all, keep-some or tear-last)", s)
}

// Options tunes Mount. A nil *Options is the default.
type Options struct {
	// Debug logs every FUSE request to standard error.
	Debug bool
}

// ErrUnavailable is wrapped by the error of Available and of Mount when
// this machine cannot mount a FUSE file system (no /dev/fuse, or no right
// to mount).
var ErrUnavailable = errors.New("lazyfs: FUSE is not available")

// ErrUnmounted is returned by PowerCut and Unmount once the file system is
// no longer mounted.
var ErrUnmounted = errors.New("lazyfs: not mounted")

// Available reports, with an error wrapping ErrUnavailable, why FUSE file
// systems cannot be mounted here, or nil if /dev/fuse can be opened (Mount
// may still fail without the right to mount).
func Available() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return f.Close()
}

// FS is a mounted lazy file system.
type FS struct {
	backing, mountpoint string
	server              *fuse.Server

	mu      sync.Mutex
	mounted bool
	files   map[uint64]*file // by backing inode
	orphans []*file          // removed while known; closed at the end
	log     []*dirOp         // directory changes no fsync made durable
}

// CutReport says what a power cut did.
type CutReport struct {
	Mode Mode
	// Files is how many files had unsynced writes; PagesKept and
	// PagesDropped count their unsynced pages that reached the disk (a
	// torn page counts as kept) and those lost.
	Files, PagesKept, PagesDropped int
	// EntriesForgotten counts the directory changes undone.
	EntriesForgotten int
}

func (r CutReport) String() string {
	return fmt.Sprintf("%s: %d files with unsynced writes, %d pages kept, %d dropped, %d directory changes forgotten",
		r.Mode, r.Files, r.PagesKept, r.PagesDropped, r.EntriesForgotten)
}

// Mount mounts a lazy view of the directory backing at mountpoint, an
// existing empty directory. Both must be on a local file system; backing
// should not be changed by anyone else while mounted.
func Mount(backing, mountpoint string, opts *Options) (*FS, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := Available(); err != nil {
		return nil, err
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("lazyfs: backing directory: %w", err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil, fmt.Errorf("lazyfs: backing %s is not a directory", backing)
	}
	l := &FS{backing: backing, mountpoint: mountpoint, files: map[uint64]*file{}}
	loop, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: %w", err)
	}
	rootNode := &node{LoopbackNode: loop.(*fs.LoopbackNode), lfs: l}
	zero := time.Duration(0)
	server, err := fs.Mount(mountpoint, rootNode, &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName: "lazyfs", Name: "lazyfs", DirectMount: true, Debug: opts.Debug,
			// Every write reaches the file system at once; the kernel
			// keeps no dirty pages of its own (except mmap's, which it
			// writes back before unmounting).
		},
		// Sizes change under the kernel only through this mount, but keep
		// no stale entries across the directory log's undo.
		EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero,
	})
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: mount %s: %v", ErrUnavailable, mountpoint, err)
		}
		return nil, fmt.Errorf("lazyfs: mount %s: %w", mountpoint, err)
	}
	l.server = server
	l.mounted = true
	return l, nil
}

// Mountpoint is where the file system is mounted.
func (l *FS) Mountpoint() string { return l.mountpoint }

// Backing is the backing directory.
func (l *FS) Backing() string { return l.backing }

// lookupFile returns the state of the backing inode ino, or nil.
func (l *FS) lookupFile(ino uint64) *file {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.files[ino]
}

// openFile returns the state of the backing file at path, made on its
// first open.
func (l *FS) openFile(path string) (*file, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.files[st.Ino]; s != nil {
		f.Close()
		return s, nil
	}
	s, err := newFile(f, st.Ino)
	if err != nil {
		f.Close()
		return nil, err
	}
	l.files[st.Ino] = s
	return s, nil
}

// syncFile makes a file's content durable.
func (l *FS) syncFile(s *file) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sync()
}

// forget drops the state of the backing file at path if path is its last
// link: the inode number may be reused. Callers hold l.mu.
func (l *FS) forget(st *syscall.Stat_t) {
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Nlink > 1 {
		return
	}
	if s := l.files[st.Ino]; s != nil {
		delete(l.files, st.Ino)
		l.orphans = append(l.orphans, s)
	}
}

// PowerCut unmounts the file system and leaves in the backing directory
// what a power loss would: the unsynced writes of every file, by mode
// (rand seeded with seed), and no directory change that a directory fsync
// did not make durable. Every process using the mount must have closed its
// files (or died) first, or the unmount fails with EBUSY.
func (l *FS) PowerCut(mode Mode, seed uint64) (CutReport, error) {
	rep := CutReport{Mode: mode}
	if mode < DropAll || mode > TearLast {
		return rep, fmt.Errorf("lazyfs: PowerCut: unknown %v", mode)
	}
	if err := l.unmount(); err != nil {
		return rep, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rng := rand.New(rand.NewPCG(seed, 0x6c617a79))
	inos := make([]uint64, 0, len(l.files))
	for ino := range l.files {
		inos = append(inos, ino)
	}
	slices.Sort(inos) // the same seed cuts the same way
	var errs []error
	for _, ino := range inos {
		s := l.files[ino]
		s.mu.Lock()
		if s.dirty() {
			rep.Files++
		}
		kept, dropped, err := s.cut(mode, rng)
		s.mu.Unlock()
		rep.PagesKept += kept
		rep.PagesDropped += dropped
		if err != nil {
			errs = append(errs, fmt.Errorf("lazyfs: cut inode %d: %w", ino, err))
		}
	}
	for i := len(l.log) - 1; i >= 0; i-- {
		if err := l.log[i].undo(); err != nil {
			errs = append(errs, err)
		}
		rep.EntriesForgotten++
	}
	l.log = nil
	l.closeFiles()
	return rep, errors.Join(errs...)
}

// Unmount is the clean shutdown: every unsynced write reaches the backing
// directory (and is fsynced), every directory change is kept, and the
// file system is unmounted. Processes using it must have closed their
// files.
func (l *FS) Unmount() error {
	if err := l.unmount(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, s := range l.files {
		s.mu.Lock()
		if err := s.sync(); err != nil {
			errs = append(errs, err)
		}
		s.mu.Unlock()
	}
	l.log = nil
	l.closeFiles()
	return errors.Join(errs...)
}

// unmount detaches the mount and waits for the server to stop.
func (l *FS) unmount() error {
	l.mu.Lock()
	mounted := l.mounted
	l.mu.Unlock()
	if !mounted {
		return ErrUnmounted
	}
	var err error
	for i := 0; i < 50; i++ {
		// A process that just died may still hold the mount for a
		// moment while the kernel closes its files.
		if err = l.server.Unmount(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("lazyfs: unmount %s: %w", l.mountpoint, err)
	}
	l.server.Wait()
	l.mu.Lock()
	l.mounted = false
	l.mu.Unlock()
	return nil
}

// closeFiles closes every backing file. Callers hold l.mu.
func (l *FS) closeFiles() {
	for _, s := range l.files {
		s.f.Close()
	}
	for _, s := range l.orphans {
		s.f.Close()
	}
	l.files, l.orphans = map[uint64]*file{}, nil
}

// Dirty reports how many files have unsynced writes and how many
// directory changes no fsync made durable.
func (l *FS) Dirty() (files, entries int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.files {
		s.mu.Lock()
		if s.dirty() {
			files++
		}
		s.mu.Unlock()
	}
	return files, len(l.log)
}

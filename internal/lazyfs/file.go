package lazyfs

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
)

// PageSize is the unit in which unsynced writes are kept, and dropped.
const PageSize = 4096

// sectorSize is the unit in which TearLast tears a page.
const sectorSize = 512

// file is the state of one backing file (one inode): the unsynced writes
// over the durable content the backing file holds.
type file struct {
	mu  sync.Mutex
	ino uint64
	f   *os.File // the backing file, read-write

	size   int64 // the size readers see
	synced int64 // the size of the backing file
	// floor is the smallest size since the last sync: backing bytes at or
	// beyond it were truncated away and read as zeros (unless a dirty
	// page covers them).
	floor int64
	pages map[int64][]byte // page index -> PageSize bytes, unsynced
	last  int64            // the page written last, -1 if none
}

func newFile(f *os.File, ino uint64) (*file, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return &file{ino: ino, f: f, size: fi.Size(), synced: fi.Size(), floor: fi.Size(), pages: map[int64][]byte{}, last: -1}, nil
}

// dirty reports whether the file has anything unsynced. Callers hold mu.
func (s *file) dirty() bool {
	return len(s.pages) > 0 || s.size != s.synced || s.floor != s.synced
}

// readBacking reads the durable bytes of page idx as the reader sees them
// without dirty pages: backing bytes below min(floor, synced), zeros after.
// Callers hold mu.
func (s *file) readBacking(idx int64, buf []byte) error {
	clear(buf)
	off := idx * PageSize
	limit := min(s.floor, s.synced)
	if off >= limit {
		return nil
	}
	n := min(int64(len(buf)), limit-off)
	_, err := s.f.ReadAt(buf[:n], off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}

// readAt reads what a reader sees at off. Callers hold mu.
func (s *file) readAt(dst []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, nil
	}
	n := int(min(int64(len(dst)), s.size-off))
	page := make([]byte, PageSize)
	for done := 0; done < n; {
		pos := off + int64(done)
		idx, in := pos/PageSize, int(pos%PageSize)
		src := s.pages[idx]
		if src == nil {
			if err := s.readBacking(idx, page); err != nil {
				return done, err
			}
			src = page
		}
		done += copy(dst[done:n], src[in:])
	}
	return n, nil
}

// page returns dirty page idx, materialized from what readers see if it
// was clean. Callers hold mu.
func (s *file) page(idx int64) ([]byte, error) {
	if p := s.pages[idx]; p != nil {
		return p, nil
	}
	p := make([]byte, PageSize)
	if err := s.readBacking(idx, p); err != nil {
		return nil, err
	}
	// Bytes beyond the visible size read as zeros even if the backing
	// file still has them.
	if end := s.size - idx*PageSize; end < PageSize {
		clear(p[max(end, 0):])
	}
	s.pages[idx] = p
	return p, nil
}

// writeAt keeps data, written at off, in memory. Callers hold mu.
func (s *file) writeAt(data []byte, off int64) error {
	if off > s.size {
		// The gap reads as zeros: a page straddling the old end must
		// not show backing bytes past it.
		if err := s.truncate(s.size); err != nil {
			return err
		}
	}
	for done := 0; done < len(data); {
		pos := off + int64(done)
		idx, in := pos/PageSize, int(pos%PageSize)
		p, err := s.page(idx)
		if err != nil {
			return err
		}
		done += copy(p[in:], data[done:])
		s.last = idx
	}
	s.size = max(s.size, off+int64(len(data)))
	return nil
}

// truncate sets the visible size. Callers hold mu.
func (s *file) truncate(size int64) error {
	if size < s.size {
		for idx := range s.pages {
			if idx*PageSize >= size {
				delete(s.pages, idx)
			}
		}
		if in := size % PageSize; in != 0 {
			p, err := s.page(size / PageSize)
			if err != nil {
				return err
			}
			clear(p[in:])
		}
	} else if s.size%PageSize != 0 && size > s.size {
		// Growing: the bytes between the old end and the end of its page
		// must read as zeros.
		if s.pages[s.size/PageSize] == nil && s.size < min(s.floor, s.synced) {
			if _, err := s.page(s.size / PageSize); err != nil {
				return err
			}
		}
	}
	s.floor = min(s.floor, size)
	s.size = size
	return nil
}

// sync makes everything durable: the backing file gets the visible
// content, then fsync. Callers hold mu.
func (s *file) sync() error {
	if !s.dirty() {
		return s.f.Sync()
	}
	if s.floor < s.synced {
		if err := s.f.Truncate(s.floor); err != nil {
			return err
		}
	}
	for idx, p := range s.pages {
		off := idx * PageSize
		n := min(int64(PageSize), s.size-off)
		if n <= 0 {
			continue
		}
		if _, err := s.f.WriteAt(p[:n], off); err != nil {
			return err
		}
	}
	if err := s.f.Truncate(s.size); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.reset(s.size)
	return nil
}

// reset forgets the unsynced state: the backing file holds size bytes.
func (s *file) reset(size int64) {
	s.pages = map[int64][]byte{}
	s.size, s.synced, s.floor, s.last = size, size, size, -1
}

// cut applies what a power loss leaves of the unsynced writes to the
// backing file, by mode, and forgets them. It returns the pages that
// reached the disk (a torn page counts) and those dropped. Callers hold
// mu.
func (s *file) cut(mode Mode, rng *rand.Rand) (kept, dropped int, err error) {
	if !s.dirty() {
		return 0, 0, nil
	}
	if mode == DropAll {
		dropped = len(s.pages)
		s.reset(s.synced)
		return 0, dropped, nil
	}
	// The truncation, if any, reached the disk or not; in TearLast mode
	// everything but the last page did.
	if s.floor < s.synced && (mode == TearLast || rng.IntN(2) == 0) {
		if err := s.f.Truncate(s.floor); err != nil {
			return 0, 0, err
		}
	}
	end := int64(0) // the end of the last page that reached the disk
	for idx, p := range s.pages {
		off := idx * PageSize
		n := min(int64(PageSize), s.size-off)
		write := n > 0
		switch {
		case !write:
		case mode == KeepSome:
			write = rng.IntN(2) == 0
		case mode == TearLast && idx == s.last:
			n = min(n, int64(rng.IntN(PageSize/sectorSize))*sectorSize)
			write = n > 0
		}
		if !write {
			dropped++
			continue
		}
		kept++
		if _, err := s.f.WriteAt(p[:n], off); err != nil {
			return kept, dropped, err
		}
		end = max(end, off+n)
	}
	// The size grew (or the file was truncated and grew again) as far as
	// the pages that reached the disk, or, in TearLast mode, completely.
	fi, err := s.f.Stat()
	if err != nil {
		return kept, dropped, err
	}
	size := fi.Size()
	if mode == TearLast && s.size > size {
		size = s.size
	}
	if end > size {
		size = end
	}
	if size != fi.Size() {
		if err := s.f.Truncate(size); err != nil {
			return kept, dropped, err
		}
	}
	s.reset(size)
	return kept, dropped, nil
}

// stat fixes the size of a stat of the backing file to the visible one.
func (s *file) visibleSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// errno converts an error to the errno FUSE replies with.
func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

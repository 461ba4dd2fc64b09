package lazyfs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chorusdev/chorus/internal/lazyfs"
)

// mount mounts a lazy file system over a new backing directory, or skips
// the test where FUSE is unavailable. It returns the FS, the mount point
// and the backing directory.
func mount(t *testing.T) (*lazyfs.FS, string, string) {
	t.Helper()
	dir := t.TempDir()
	backing, mnt := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := lazyfs.Mount(backing, mnt, nil)
	if errors.Is(err, lazyfs.ErrUnavailable) {
		t.Skipf("needs FUSE (/dev/fuse and the right to mount, as root in CI): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Unmount() })
	return l, mnt, backing
}

func write(t *testing.T, path string, data []byte, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func syncDir(t *testing.T, dir string) {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatalf("fsync directory %s: %v", dir, err)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cut(t *testing.T, l *lazyfs.FS, mode lazyfs.Mode, seed uint64) lazyfs.CutReport {
	t.Helper()
	rep, err := l.PowerCut(mode, seed)
	if err != nil {
		t.Fatalf("PowerCut: %v", err)
	}
	t.Log(rep)
	return rep
}

func TestSyncedSurvives(t *testing.T) {
	l, mnt, backing := mount(t)
	write(t, filepath.Join(mnt, "a"), []byte("durable"), true)
	syncDir(t, mnt)
	cut(t, l, lazyfs.DropAll, 1)
	if got := read(t, filepath.Join(backing, "a")); string(got) != "durable" {
		t.Fatalf("after the cut a holds %q, want %q", got, "durable")
	}
}

func TestUnsyncedIsLost(t *testing.T) {
	l, mnt, backing := mount(t)
	p := filepath.Join(mnt, "a")
	write(t, p, []byte("version one"), true)
	syncDir(t, mnt)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("VERSION TWO, longer"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Readers see the unsynced write; the backing file does not hold it.
	if got := read(t, p); string(got) != "VERSION TWO, longer" {
		t.Fatalf("read through the mount: %q", got)
	}
	if got := read(t, filepath.Join(backing, "a")); string(got) != "version one" {
		t.Fatalf("the backing file holds %q before any sync", got)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != int64(len("VERSION TWO, longer")) {
		t.Fatalf("stat through the mount: %v, %v", fi, err)
	}
	// A file created and written, never synced, loses its entry too.
	write(t, filepath.Join(mnt, "b"), []byte("never synced"), false)
	rep := cut(t, l, lazyfs.DropAll, 1)
	if got := read(t, filepath.Join(backing, "a")); string(got) != "version one" {
		t.Fatalf("after the cut a holds %q, want the synced %q", got, "version one")
	}
	if _, err := os.Stat(filepath.Join(backing, "b")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("b was never synced, nor its directory, yet it exists after the cut: %v", err)
	}
	if rep.Files != 2 || rep.EntriesForgotten != 1 || rep.PagesKept != 0 {
		t.Fatalf("report %+v, want 2 files, 1 entry forgotten, 0 pages kept", rep)
	}
}

func TestTruncateWithoutSyncIsLost(t *testing.T) {
	l, mnt, backing := mount(t)
	p := filepath.Join(mnt, "a")
	data := bytes.Repeat([]byte("x"), 3*lazyfs.PageSize+100)
	write(t, p, data, true)
	syncDir(t, mnt)
	if err := os.Truncate(p, 10); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Grow again: the truncated bytes must read as zeros.
	if _, err := f.WriteAt([]byte("end"), 2*lazyfs.PageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := read(t, p)
	want := make([]byte, 2*lazyfs.PageSize+3)
	copy(want, data[:10])
	copy(want[2*lazyfs.PageSize:], "end")
	if !bytes.Equal(got, want) {
		t.Fatalf("after truncate and write: %d bytes, not the %d expected (zeros after the truncation)", len(got), len(want))
	}
	cut(t, l, lazyfs.DropAll, 1)
	if got := read(t, filepath.Join(backing, "a")); !bytes.Equal(got, data) {
		t.Fatalf("after the cut: %d bytes, want the synced %d", len(got), len(data))
	}
}

func TestRenameWithoutDirSyncIsForgotten(t *testing.T) {
	for _, synced := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-dir-sync", true: "dir-sync"}[synced], func(t *testing.T) {
			l, mnt, backing := mount(t)
			write(t, filepath.Join(mnt, "a"), []byte("old"), true)
			write(t, filepath.Join(mnt, "tmp"), []byte("new"), true)
			syncDir(t, mnt)
			if err := os.Rename(filepath.Join(mnt, "tmp"), filepath.Join(mnt, "a")); err != nil {
				t.Fatal(err)
			}
			if got := read(t, filepath.Join(mnt, "a")); string(got) != "new" {
				t.Fatalf("a reads %q after the rename", got)
			}
			if synced {
				syncDir(t, mnt)
			}
			cut(t, l, lazyfs.DropAll, 1)
			a := read(t, filepath.Join(backing, "a"))
			_, tmpErr := os.Stat(filepath.Join(backing, "tmp"))
			if synced {
				if string(a) != "new" || !errors.Is(tmpErr, os.ErrNotExist) {
					t.Fatalf("after a synced rename: a=%q, tmp: %v; want a=new and no tmp", a, tmpErr)
				}
				return
			}
			if string(a) != "old" || tmpErr != nil {
				t.Fatalf("after an unsynced rename: a=%q, tmp: %v; want a=old and tmp back", a, tmpErr)
			}
			if got := read(t, filepath.Join(backing, "tmp")); string(got) != "new" {
				t.Fatalf("tmp holds %q, want its synced content", got)
			}
		})
	}
}

func TestUnlinkWithoutDirSyncIsForgotten(t *testing.T) {
	l, mnt, backing := mount(t)
	write(t, filepath.Join(mnt, "a"), []byte("keep me"), true)
	if err := os.Mkdir(filepath.Join(mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	syncDir(t, mnt)
	if err := os.Remove(filepath.Join(mnt, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mnt, "d")); err != nil {
		t.Fatal(err)
	}
	cut(t, l, lazyfs.DropAll, 1)
	if got := read(t, filepath.Join(backing, "a")); string(got) != "keep me" {
		t.Fatalf("a holds %q after an unsynced unlink", got)
	}
	if fi, err := os.Stat(filepath.Join(backing, "d")); err != nil || !fi.IsDir() {
		t.Fatalf("d after an unsynced rmdir: %v", err)
	}
}

// pages returns n pages, page i filled with byte b+i.
func pages(n int, b byte) []byte {
	out := make([]byte, 0, n*lazyfs.PageSize)
	for i := range n {
		out = append(out, bytes.Repeat([]byte{b + byte(i)}, lazyfs.PageSize)...)
	}
	return out
}

func TestTearLast(t *testing.T) {
	torn := 0
	for seed := range uint64(8) {
		l, mnt, backing := mount(t)
		p := filepath.Join(mnt, "a")
		old := pages(4, 'a')
		write(t, p, old, true)
		syncDir(t, mnt)
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		neu := pages(4, 'A')
		// Pages 0, 1, 2, then 3 last.
		for i := range 4 {
			if _, err := f.WriteAt(neu[i*lazyfs.PageSize:(i+1)*lazyfs.PageSize], int64(i*lazyfs.PageSize)); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		rep := cut(t, l, lazyfs.TearLast, seed)
		got := read(t, filepath.Join(backing, "a"))
		if !bytes.Equal(got[:3*lazyfs.PageSize], neu[:3*lazyfs.PageSize]) {
			t.Fatalf("seed %d: the pages before the last did not all reach the disk", seed)
		}
		last, oldLast, newLast := got[3*lazyfs.PageSize:], old[3*lazyfs.PageSize:], neu[3*lazyfs.PageSize:]
		k := 0
		for k < len(last) && last[k] == newLast[k] {
			k++
		}
		if k%512 != 0 || !bytes.Equal(last[k:], oldLast[k:]) {
			t.Fatalf("seed %d: the last page is not new sectors followed by old ones (new up to byte %d)", seed, k)
		}
		if k < lazyfs.PageSize {
			torn++
		}
		if rep.PagesKept+rep.PagesDropped != 4 {
			t.Fatalf("seed %d: report %+v counts %d pages, want 4", seed, rep, rep.PagesKept+rep.PagesDropped)
		}
	}
	if torn == 0 {
		t.Fatal("no seed tore the last page")
	}
}

func TestKeepSome(t *testing.T) {
	l, mnt, backing := mount(t)
	p := filepath.Join(mnt, "a")
	old := pages(32, 'a')
	write(t, p, old, true)
	syncDir(t, mnt)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	neu := pages(32, 'A')
	if _, err := f.WriteAt(neu, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rep := cut(t, l, lazyfs.KeepSome, 7)
	got := read(t, filepath.Join(backing, "a"))
	kept := 0
	for i := range 32 {
		pg := got[i*lazyfs.PageSize : (i+1)*lazyfs.PageSize]
		switch {
		case bytes.Equal(pg, neu[i*lazyfs.PageSize:(i+1)*lazyfs.PageSize]):
			kept++
		case bytes.Equal(pg, old[i*lazyfs.PageSize:(i+1)*lazyfs.PageSize]):
		default:
			t.Fatalf("page %d is neither the old nor the new one", i)
		}
	}
	if kept != rep.PagesKept || kept == 0 || kept == 32 {
		t.Fatalf("%d pages of 32 kept, report says %d; want some, not all", kept, rep.PagesKept)
	}
}

func TestUnmountKeepsEverything(t *testing.T) {
	l, mnt, backing := mount(t)
	write(t, filepath.Join(mnt, "a"), []byte("not synced"), false)
	if err := l.Unmount(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(backing, "a")); string(got) != "not synced" {
		t.Fatalf("after a clean unmount a holds %q", got)
	}
	if _, err := l.PowerCut(lazyfs.DropAll, 1); !errors.Is(err, lazyfs.ErrUnmounted) {
		t.Fatalf("PowerCut after Unmount: %v, want ErrUnmounted", err)
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range lazyfs.Modes {
		got, err := lazyfs.ParseMode(m.String())
		if err != nil || got != m {
			t.Fatalf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := lazyfs.ParseMode("bogus"); err == nil {
		t.Fatal("ParseMode accepted bogus")
	}
}

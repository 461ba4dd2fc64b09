package chorus_test

// Power cuts right after the database's files were created: a fresh
// database, and a write-ahead log that a clean Close deleted and the next
// Open created again. SQLite fsyncs the directory the first time it syncs
// a new -wal file; these tests check that, with synchronous=FULL, a start
// acknowledged on such new files survives the cut of every unsynced write
// and every directory entry no directory fsync made durable.

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/lazyfs"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/testutil/childproc"
	"github.com/chorusdev/chorus/internal/torture"
)

func init() {
	childModes["powercut-newfiles"] = powercutNewFilesChild
}

// powercutNewFilesChild opens the engine on CHORUS_DB (a new file), starts
// run 0, closes the engine (SQLite deletes the -wal file), opens it again,
// starts run 1, says "ready" and waits to be killed.
func powercutNewFilesChild() {
	p := childproc.New("powercut-newfiles child")
	p.Require("CHORUS_DB")
	ctx := context.Background()
	w := torture.New(torture.Hooks{})
	opts := &chorus.Options{Definitions: w.Definitions(), Synchronous: sqlite.SynchronousFull}
	for i := range 2 {
		eng, err := chorus.Open(ctx, os.Getenv("CHORUS_DB"), opts)
		if err != nil {
			p.Fail("open: %v", err)
		}
		id := torture.RunID(i)
		if _, err := w.Start(ctx, eng, id); err != nil {
			p.Fail("start %s: %v", id, err)
		}
		p.Say("started %s", id)
		if i == 0 {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := eng.Close(cctx); err != nil {
				p.Fail("close: %v", err)
			}
			cancel()
		}
	}
	p.Say("ready")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
	os.Exit(0)
}

func TestPowerCutNewFiles(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("needs FUSE (/dev/fuse, and root to mount): %v", err)
	}
	for _, mode := range lazyfs.Modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			backing, mnt := filepath.Join(dir, "disk"), filepath.Join(dir, "mnt")
			for _, d := range []string{backing, mnt} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			lfs, err := lazyfs.Mount(backing, mnt, nil)
			if errors.Is(err, lazyfs.ErrUnavailable) {
				t.Skipf("needs FUSE: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			c := testutil.StartChild(t, "powercut-newfiles", "CHORUS_DB="+filepath.Join(mnt, "chorus.db"))
			if line, ok := c.Next(time.Now().Add(time.Minute)); !ok || line != "started "+torture.RunID(0) {
				t.Fatalf("child: %q, %v\n%s", line, ok, c.Report())
			}
			if line, ok := c.Next(time.Now().Add(time.Minute)); !ok || line != "started "+torture.RunID(1) {
				t.Fatalf("child: %q, %v\n%s", line, ok, c.Report())
			}
			if line, ok := c.Next(time.Now().Add(time.Minute)); !ok || line != "ready" {
				t.Fatalf("child: %q, %v\n%s", line, ok, c.Report())
			}
			if !c.Kill() {
				t.Fatalf("the child was not killed\n%s", c.Report())
			}
			rep, err := lfs.PowerCut(mode, 1)
			if err != nil {
				t.Fatalf("power cut: %v", err)
			}
			t.Log(rep)
			st, err := sqlite.Open(context.Background(), filepath.Join(backing, "chorus.db"), nil)
			if err != nil {
				t.Fatalf("the database the cut left does not open: %v", err)
			}
			defer st.Close()
			if err := st.IntegrityCheck(context.Background()); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if _, err := st.Run(context.Background(), torture.RunID(i)); err != nil {
					t.Errorf("acknowledged start of %s lost to the power cut: %v", torture.RunID(i), err)
				}
			}
		})
	}
}

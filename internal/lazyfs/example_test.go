package lazyfs_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chorusdev/chorus/internal/lazyfs"
)

// A file written through the mount but never fsynced is gone after the
// power cut; the backing directory is the disk after the reboot.
func Example() {
	dir, err := os.MkdirTemp("", "lazyfs-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	backing, mnt := filepath.Join(dir, "disk"), filepath.Join(dir, "mnt")
	_ = os.Mkdir(backing, 0o755)
	_ = os.Mkdir(mnt, 0o755)
	l, err := lazyfs.Mount(backing, mnt, nil)
	if err != nil {
		fmt.Println("no FUSE here:", err)
		return
	}
	_ = os.WriteFile(filepath.Join(mnt, "note"), []byte("not synced"), 0o644)
	rep, err := l.PowerCut(lazyfs.DropAll, 1)
	if err != nil {
		log.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(backing, "note"))
	fmt.Println(rep.EntriesForgotten, "entry forgotten; note exists:", err == nil)
}

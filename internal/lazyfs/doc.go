// Package lazyfs is a FUSE file system for tests that forgets, on command,
// what a power loss would forget.
//
// [Mount] exposes a real directory (the backing directory) at a mount
// point. Everything passes through, with two exceptions that make the file
// system "lazy" the way a disk's volatile cache and an operating system's
// page cache are:
//
//   - A write, a truncation or an fallocate is kept in memory, per file and
//     per 4 KiB page, until the file is fsynced (fsync and fdatasync are
//     the same here). Reads see it. The backing file holds only what was
//     synced.
//   - Creating, removing or renaming a directory entry happens in the
//     backing directory at once, and is logged; an fsync of the directory
//     makes the entries it holds durable (drops them from the log).
//
// [FS.PowerCut] then simulates a power loss: it unmounts, and applies to
// the backing directory what a disk could have kept, by [Mode]: none of
// the unsynced writes ([DropAll]), a seeded random subset of their pages
// ([KeepSome]), or all but the last written page of each file, which is
// torn at a 512-byte sector ([TearLast]). Then it undoes, newest first,
// every logged directory change that no directory fsync made durable. The
// backing directory is left as the disk would be after the reboot; open it
// directly to check what survived. [FS.Unmount] is the clean shutdown:
// everything reaches the backing directory.
//
// SQLite works on it in WAL mode with its default shared-memory -shm file
// (mapped with mmap through FUSE's page cache): no locking_mode or store
// option is needed. POSIX and flock locks are the kernel's, local to the
// machine, which is what a single engine process needs.
//
// Serve the mount from one process and use it from another (a child the
// test starts and kills): the process that serves the mount must not mmap
// its files. A page fault that waits for the FUSE server blocks a thread
// the Go runtime cannot stop, so a garbage collection in the serving
// process waits for it forever, and the server never answers. SQLite maps
// its -shm file. (A SIGKILLed child is what a power-cut test wants anyway:
// nothing it wrote is flushed by a clean exit.)
//
// Limits: directories are tracked by path, so renaming a directory that
// holds unsynced changes confuses the log; hard links and symbolic links
// pass through, logged as creations; file metadata (mode, owner, times)
// passes through at once. Mounting needs /dev/fuse and the right to mount
// (root, or fusermount3 from Debian's fuse3 package); tests call
// [Available] and skip when it says no.
package lazyfs

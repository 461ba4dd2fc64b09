package lazyfs

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a file or directory of the mount: a loopback node whose data
// and directory changes go through the FS.
type node struct {
	*fs.LoopbackNode
	lfs *FS
}

// WrapChild makes every node under the root a node of this file system.
func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	if lb, ok := ops.(*fs.LoopbackNode); ok {
		return &node{LoopbackNode: lb, lfs: n.lfs}
	}
	return ops
}

var (
	_ fs.NodeLookuper       = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeGetattrer      = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeFsyncer        = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
	_ fs.NodeLinker         = (*node)(nil)
	_ fs.NodeSymlinker      = (*node)(nil)
	_ fs.NodeMknoder        = (*node)(nil)
	_ fs.NodeAllocater      = (*node)(nil)
	_ fs.FileReader         = (*handle)(nil)
	_ fs.FileWriter         = (*handle)(nil)
	_ fs.FileFsyncer        = (*handle)(nil)
	_ fs.FileReleaser       = (*handle)(nil)
	_ fs.FileGetattrer      = (*handle)(nil)
	_ fs.FileFsyncdirer     = (*dirHandle)(nil)
	_ fs.FileReaddirenter   = (*dirHandle)(nil)
	_ fs.FileReleasedirer   = (*dirHandle)(nil)
	_ fs.FileSeekdirer      = (*dirHandle)(nil)
	_ fs.NodeStatxer        = (*node)(nil)
)

// path is the node's path in the backing directory.
func (n *node) path() string {
	return filepath.Join(n.RootData.Path, n.Path(n.Root()))
}

func (n *node) child(name string) string { return filepath.Join(n.path(), name) }

// fixSize replaces the backing size in out with the visible one.
func (n *node) fixSize(out *fuse.Attr) {
	if s := n.lfs.lookupFile(out.Ino); s != nil && out.Mode&syscall.S_IFMT == syscall.S_IFREG {
		out.Size = uint64(s.visibleSize())
	}
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, e := n.LoopbackNode.Lookup(ctx, name, out)
	if e == 0 {
		n.fixSize(&out.Attr)
	}
	return ch, e
}

func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e := n.LoopbackNode.Getattr(ctx, nil, out); e != 0 {
		return e
	}
	n.fixSize(&out.Attr)
	return 0
}

func (n *node) Statx(ctx context.Context, f fs.FileHandle, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	if e := n.LoopbackNode.Statx(ctx, nil, flags, mask, out); e != 0 {
		return e
	}
	if s := n.lfs.lookupFile(out.Ino); s != nil && uint32(out.Mode)&syscall.S_IFMT == syscall.S_IFREG {
		out.Size = uint64(s.visibleSize())
	}
	return 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		s, err := n.file(f)
		if err != nil {
			return errno(err)
		}
		s.mu.Lock()
		err = s.truncate(int64(size))
		s.mu.Unlock()
		if err != nil {
			return errno(err)
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	if e := n.LoopbackNode.Setattr(ctx, nil, in, out); e != 0 {
		return e
	}
	n.fixSize(&out.Attr)
	return 0
}

// file returns the state of the node's file, by its handle or its path.
func (n *node) file(f fs.FileHandle) (*file, error) {
	if h, ok := f.(*handle); ok {
		return h.s, nil
	}
	return n.lfs.openFile(n.path())
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	s, err := n.lfs.openFile(n.path())
	if err != nil {
		return nil, 0, errno(err)
	}
	if flags&syscall.O_TRUNC != 0 {
		s.mu.Lock()
		err = s.truncate(0)
		s.mu.Unlock()
		if err != nil {
			return nil, 0, errno(err)
		}
	}
	return &handle{s: s}, 0, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	p := n.child(name)
	_, statErr := os.Lstat(p)
	ch, fh, _, e := n.LoopbackNode.Create(ctx, name, flags&^syscall.O_TRUNC, mode, out)
	if e != 0 {
		return nil, nil, 0, e
	}
	if r, ok := fh.(fs.FileReleaser); ok {
		r.Release(ctx)
	}
	if os.IsNotExist(statErr) {
		n.lfs.logCreate(p)
	}
	s, err := n.lfs.openFile(p)
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	if flags&syscall.O_TRUNC != 0 {
		s.mu.Lock()
		err = s.truncate(0)
		s.mu.Unlock()
		if err != nil {
			return nil, nil, 0, errno(err)
		}
	}
	n.fixSize(&out.Attr)
	return ch, &handle{s: s}, 0, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, e := n.LoopbackNode.Mkdir(ctx, name, mode, out)
	if e == 0 {
		n.lfs.logCreate(n.child(name))
	}
	return ch, e
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, e := n.LoopbackNode.Mknod(ctx, name, mode, rdev, out)
	if e == 0 {
		n.lfs.logCreate(n.child(name))
	}
	return ch, e
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, e := n.LoopbackNode.Symlink(ctx, target, name, out)
	if e == 0 {
		n.lfs.logCreate(n.child(name))
	}
	return ch, e
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, e := n.LoopbackNode.Link(ctx, target, name, out)
	if e == 0 {
		n.lfs.logCreate(n.child(name))
		n.fixSize(&out.Attr)
	}
	return ch, e
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return errno(n.lfs.remove(n.child(name), false))
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return errno(n.lfs.remove(n.child(name), true))
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok || np.lfs != n.lfs {
		return syscall.EXDEV
	}
	const renameNoReplace = 1 // RENAME_NOREPLACE; RENAME_EXCHANGE and others are refused
	if flags&^renameNoReplace != 0 {
		return syscall.EINVAL
	}
	return errno(n.lfs.rename(n.child(name), np.child(newName), flags&renameNoReplace != 0))
}

func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOTSUP // the kernel falls back to reads and writes
}

func (n *node) Allocate(ctx context.Context, f fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	const keepSize = 1 // FALLOC_FL_KEEP_SIZE
	if mode&^keepSize != 0 {
		return syscall.EOPNOTSUPP
	}
	s, err := n.file(f)
	if err != nil {
		return errno(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if end := int64(off + size); mode&keepSize == 0 && end > s.size {
		return errno(s.truncate(end))
	}
	return 0
}

func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if n.StableAttr().Mode&syscall.S_IFMT == syscall.S_IFDIR {
		n.lfs.syncDir(n.path())
		return 0
	}
	s, err := n.file(f)
	if err != nil {
		return errno(err)
	}
	return errno(n.lfs.syncFile(s))
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	ds, fl, e := n.LoopbackNode.OpendirHandle(ctx, flags)
	if e != 0 {
		return nil, 0, e
	}
	return &dirHandle{ds: ds, n: n}, fl, 0
}

// handle is an open file of the mount.
type handle struct {
	s *file
}

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	n, err := h.s.readAt(dest, off)
	if err != nil {
		return nil, errno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if err := h.s.writeAt(data, off); err != nil {
		return 0, errno(err)
	}
	return uint32(len(data)), 0
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return 0 // the node's Fsync is called instead
}

func (h *handle) Release(ctx context.Context) syscall.Errno { return 0 }

func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(h.s.f.Fd()), &st); err != nil {
		return errno(err)
	}
	out.FromStat(&st)
	out.Size = uint64(h.s.visibleSize())
	return 0
}

// dirHandle is an open directory: the loopback's, with fsync logged.
type dirHandle struct {
	ds fs.FileHandle
	n  *node
}

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	d.n.lfs.syncDir(d.n.path())
	return 0
}

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.ds.(fs.FileReaddirenter).Readdirent(ctx)
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	return d.ds.(fs.FileSeekdirer).Seekdir(ctx, off)
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	d.ds.(fs.FileReleasedirer).Releasedir(ctx, flags)
}

package storage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// snapshot takes the bytes of it.local for the upload, so that what goes up
// is what was put even if the engine rewrites the file (a playlist after
// every segment). Small files are copied: cheaper than the request that
// sends them. Large ones (recordings, written once) are hard-linked: O(1)
// and still immune to a writer that replaces the file; when the spool is on
// another filesystem they are read in place, and must not be rewritten.
func (u *Uploader) snapshot(ctx context.Context, it *item, num int) error {
	name := filepath.Join(u.spool, strconv.Itoa(num)+"-"+filepath.Base(it.local))
	it.size = it.info.Size()
	if it.size >= u.opts.MultipartThreshold {
		if err := os.Link(it.local, name); err == nil {
			it.snap, it.ownSnap = name, true
		} else {
			it.snap = it.local
		}
		return nil
	}
	n, err := copyFile(ctx, it.local, name)
	if err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("taking a copy for the upload: %w", err)
	}
	it.snap, it.ownSnap, it.size = name, true, n
	return nil
}

func copyFile(ctx context.Context, from, to string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	src, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// dropSnapshot removes the spool's copy or link of it, if any.
func (u *Uploader) dropSnapshot(it *item) {
	if it.ownSnap {
		_ = os.Remove(it.snap)
		it.ownSnap = false
	}
}

// unchanged reports whether path is still the file put: same inode, size
// and modification time. A rewritten playlist fails it, so the newer file is
// neither deleted nor reported as the backup of older bytes.
func unchanged(path string, was os.FileInfo) bool {
	now, err := os.Stat(path)
	return err == nil && os.SameFile(now, was) && now.Size() == was.Size() && now.ModTime().Equal(was.ModTime())
}

package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"roomcast/engine/request"
	"roomcast/engine/storage"
)

// flushTimeout bounds how long an egress's end waits for uploads; past it,
// what is not up stays on local disk and the result says where.
const flushTimeout = 2 * time.Minute

// uploads are an egress's S3 destinations: one uploader per output that has
// one. Outputs write into a local staging folder (named after the egress)
// and each finished piece is put as soon as it is complete.
type uploads struct {
	staging string // local folder mirroring the keys

	mu      sync.Mutex
	byField map[string]*storage.Uploader // "file_outputs[0].s3" -> its uploader
}

// newUploads checks every destination of the plan (the bucket exists, the
// credentials work) before anything starts.
func newUploads(ctx context.Context, plan *request.Plan, staging string, logf func(string, ...any)) (*uploads, error) {
	u := &uploads{staging: staging, byField: map[string]*storage.Uploader{}}
	// Checked in the request's order, so the first error is always the
	// same one.
	type dest struct {
		field  string
		upload *request.Upload
	}
	var dests []dest
	for i, f := range plan.Files {
		if f.Upload != nil {
			dests = append(dests, dest{fmt.Sprintf("file_outputs[%d].s3", i), f.Upload})
		}
	}
	for i, s := range plan.Segments {
		if s.Upload != nil {
			dests = append(dests, dest{fmt.Sprintf("segment_outputs[%d].s3", i), s.Upload})
		}
	}
	for i, im := range plan.Images {
		if im.Upload != nil {
			dests = append(dests, dest{fmt.Sprintf("image_outputs[%d].s3", i), im.Upload})
		}
	}
	for _, d := range dests {
		field := d.field
		up, err := storage.New(ctx, d.upload, storage.Options{Field: field, SpoolDir: filepath.Join(staging, ".spool"), Logf: logf})
		if err == nil {
			err = up.Check(ctx)
		}
		if err != nil {
			u.close()
			return nil, err
		}
		u.byField[field] = up
	}
	return u, nil
}

// local is where an output with an uploader writes key before it is put.
func (u *uploads) local(key string) string { return filepath.Join(u.staging, filepath.FromSlash(key)) }

func (u *uploads) get(field string) *storage.Uploader {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byField[field]
}

// put hands a finished local file to its destination's queue.
func (u *uploads) put(field, path, key string) error {
	up := u.get(field)
	if up == nil {
		return nil
	}
	return up.Put(context.Background(), path, key)
}

// flush waits for one destination's uploads and returns their results.
func (u *uploads) flush(field string) ([]storage.Result, error) {
	up := u.get(field)
	if up == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	return up.Flush(ctx)
}

func (u *uploads) location(field, key string) string {
	if up := u.get(field); up != nil {
		return up.Location(key)
	}
	return key
}

func (u *uploads) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, up := range u.byField {
		_ = up.Close()
	}
	u.byField = nil
	// The staging folder holds only what was uploaded (and removed) or
	// kept as a backup; an empty folder is not worth keeping.
	_ = removeEmptyDirs(u.staging)
}

// removeEmptyDirs removes dir and the empty folders below it, keeping any
// that hold a file.
func removeEmptyDirs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			_ = removeEmptyDirs(filepath.Join(dir, e.Name()))
		}
	}
	return os.Remove(dir) // fails, as it should, while a file is left
}

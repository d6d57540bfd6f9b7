// Package storage puts finished files, segments and images where they go: local disk or an S3 bucket, retried, with a local fallback.
package storage

// One Uploader per output destination:
//
//	engine ── Put(local, key) ──► snapshot (spool) ──► queue ──► worker ──► S3
//	                                                        FIFO    │ back-off while unreachable
//	engine ◄── Flush: []Result ◄── settled results ◄────────────────┘ permanent errors at once
//
// Lock order: Uploader.mu is the only lock; file removals that must agree with
// a result (delete the local file, report a backup path) happen under it.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"roomcast/engine/request"
)

// Defaults for Options.
const (
	// DefaultRetryFor covers an S3 endpoint's restart or a Wi-Fi reconnect,
	// while keeping the end of an egress bounded.
	DefaultRetryFor = time.Minute
	// DefaultStallTimeout is how long an attempt may make no progress (no
	// body byte read, no response header) before it counts as a timeout.
	DefaultStallTimeout = time.Minute
	// DefaultMultipartThreshold: below it a file (segment, image, playlist,
	// a short recording) goes up in one PutObject; at and above it in parts.
	// 16 MiB is the AWS transfer managers' threshold as well.
	DefaultMultipartThreshold = 16 << 20
	// DefaultPartSize is the part size of multipart uploads (8 MiB, as the
	// transfer managers; S3 needs at least 5 MiB).
	DefaultPartSize = 8 << 20
)

// Options configures an Uploader. The zero value works.
type Options struct {
	// Field is the request field of the destination, so that errors name
	// what to fix: "file_outputs[0].s3". Empty means "s3".
	Field string
	// SpoolDir holds the Uploader's snapshots of put files until they are
	// uploaded. Give a folder on the filesystem of the engine's files: large
	// files are then hard-linked, not copied. Empty means a private folder
	// in os.TempDir(), removed by Close unless a backup lives in it.
	SpoolDir string
	// KeepLocal keeps each local file after its upload is confirmed. By
	// default it is deleted then, as LiveKit Egress does for uploads. A file
	// is never deleted before the server confirmed it.
	KeepLocal bool
	// RetryFor is how long Flush waits on a server that stopped answering,
	// counted from its first failed request; then the files not uploaded are
	// given up and stay on local disk (Result.BackupPath). Before Flush
	// nothing is given up: the queue waits and drains when the server is
	// back. Zero means DefaultRetryFor.
	RetryFor time.Duration
	// StallTimeout: an attempt that makes no progress for this long fails
	// as a timeout (and is retried). Zero means DefaultStallTimeout.
	StallTimeout time.Duration
	// MultipartThreshold and PartSize tune big uploads; zero means the
	// defaults above. PartSize below 5 MiB is raised to 5 MiB (S3's minimum).
	MultipartThreshold int64
	PartSize           int64
	// Logf receives progress worth an operator's attention (outage begun and
	// ended, permanent errors, give-ups). It never receives a credential.
	// Nil means silent.
	Logf func(format string, args ...any)
	// OnResult, when set, is called from the upload goroutine with each
	// put's final result as soon as it is known (a permanent error at once).
	// It must return quickly and must not call Flush or Close.
	OnResult func(Result)
	// Clock times the back-off; nil means the real clock. For tests.
	Clock Clock
}

// Clock is the time source of the back-off.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Result is where one key's bytes ended up: the latest put of that key.
type Result struct {
	Key string
	// Location is where the bytes are: the object's URL when uploaded
	// (https://bucket.s3.region.amazonaws.com/key, or endpoint/bucket/key),
	// the local path for a local-disk destination, or BackupPath.
	Location string
	// Size is the number of bytes put.
	Size int64
	// BackupPath is set when the upload never succeeded: the local file
	// holding the bytes (LiveKit's backup_storage_used). Err says why.
	BackupPath string
	// Err is nil when uploaded, else an *Error naming the field to fix.
	Err error
	// Puts counts the puts of the key (a playlist is put again and again);
	// Attempts the requests made for the latest one.
	Puts, Attempts int
	// At is when the result became final.
	At time.Time
}

// Uploaded reports whether the bytes reached the server (or, for a local
// destination, are in place).
func (r Result) Uploaded() bool { return r.Err == nil && r.BackupPath == "" }

var (
	errClosed = errors.New("storage: uploader closed")
	errNoKey  = errors.New("storage: empty object key")
)

// Uploader stores the files of one destination. Its methods are safe for
// concurrent use.
type Uploader struct {
	dest   *request.Upload // nil: local disk only
	opts   Options
	field  string
	where  string // "http://host:port" or "AWS S3 (us-east-1)": never a credential
	region string
	clock  Clock

	client     *s3.Client
	tm         *transfermanager.Client
	secrets    []string // what scrub removes from every message
	privSpool  bool
	spool      string
	checkCreds func(context.Context) error // nil unless the default chain is used

	life    context.Context // ends at Close
	stop    context.CancelFunc
	done    chan struct{} // worker ended
	kick    chan struct{} // something queued
	nudge   chan struct{} // Flush began or gave up: stop waiting
	closeMu sync.Once

	mu          sync.Mutex
	closed      bool
	seq         int // puts queued
	names       int // snapshots named
	queue       []*item
	taking      map[string]int // local files a Put is taking a snapshot of
	busy        *item
	cancelBusy  context.CancelFunc
	unsettled   int
	flushing    int
	outageSince time.Time // zero while the server answers
	keys        []string  // in order of first put
	byKey       map[string]*keyState
	changed     chan struct{} // closed and replaced when something settles
	progress    atomic.Int64  // unix ns of the last byte sent or put settled
}

type keyState struct {
	res    Result
	resSeq int // seq of the put res describes
	lastAt int // seq of the latest put
}

// item is one put: a snapshot of a local file waiting for its upload.
type item struct {
	seq      int
	key      string
	local    string      // the caller's file
	info     os.FileInfo // its identity at Put, to tell whether it changed since
	snap     string      // what is uploaded: a copy or link in the spool, or local
	ownSnap  bool        // snap is the spool's, to remove
	size     int64
	attempts int
	settled  bool
}

// New returns the Uploader of one destination; dest nil means local disk
// (Put then only records where the file is). Credentials come from dest
// alone; only when dest has no access key and secret does it use the
// environment's AWS credentials (env variables, ~/.aws, instance role),
// as LiveKit Egress does. New makes no request; call Check for that.
// Close releases it.
func New(ctx context.Context, dest *request.Upload, opts Options) (*Uploader, error) {
	if opts.Field == "" {
		opts.Field = "s3"
	}
	if opts.RetryFor <= 0 {
		opts.RetryFor = DefaultRetryFor
	}
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	if opts.MultipartThreshold <= 0 {
		opts.MultipartThreshold = DefaultMultipartThreshold
	}
	if opts.PartSize <= 0 {
		opts.PartSize = DefaultPartSize
	}
	opts.PartSize = max(opts.PartSize, minPartSize)
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	u := &Uploader{
		opts:    opts,
		field:   opts.Field,
		clock:   opts.Clock,
		done:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
		nudge:   make(chan struct{}, 1),
		byKey:   map[string]*keyState{},
		taking:  map[string]int{},
		changed: make(chan struct{}),
	}
	if u.clock == nil {
		u.clock = realClock{}
	}
	u.life, u.stop = context.WithCancel(context.Background())
	if dest == nil {
		u.where = "local disk"
		close(u.done)
		return u, nil
	}
	d := *dest
	d.Metadata = cloneMap(dest.Metadata)
	u.dest = &d
	if err := u.connect(ctx); err != nil {
		u.stop()
		return nil, err
	}
	if opts.SpoolDir == "" {
		dir, err := os.MkdirTemp("", "roomcast-spool-")
		if err != nil {
			u.stop()
			return nil, fmt.Errorf("storage: spool folder: %w", err)
		}
		u.spool, u.privSpool = dir, true
	} else {
		if err := os.MkdirAll(opts.SpoolDir, 0o755); err != nil {
			u.stop()
			return nil, fmt.Errorf("storage: spool folder: %w", err)
		}
		u.spool = opts.SpoolDir
	}
	go u.loop()
	return u, nil
}

// String names the destination without credentials: "s3://bucket on
// http://127.0.0.1:9000", or "local disk".
func (u *Uploader) String() string {
	if u.dest == nil {
		return u.where
	}
	return "s3://" + u.dest.Bucket + " on " + u.where
}

// Location is the URL an object of this key has (or will have) once
// uploaded; for local disk, the key itself.
func (u *Uploader) Location(key string) string {
	if u.dest == nil {
		return key
	}
	return location(u.dest.Endpoint, u.region, u.dest.Bucket, key, u.dest.ForcePathStyle)
}

// Put hands a finished local file over for upload as key, and returns
// without waiting for the upload. The file's bytes are taken at once (a
// copy, or for files of MultipartThreshold and more a hard link when
// possible), so the engine may rewrite a small file such as a playlist and
// put it again; a large one it must not rewrite in place after Put. Puts
// are uploaded one after another in their order; a put of a key whose older
// version still waits replaces it, so a stale playlist never lands after a
// newer one. The local file is removed only after the server confirmed the
// upload, unless KeepLocal or it changed since Put. For a local-disk
// destination Put records the file's result and does nothing else.
func (u *Uploader) Put(ctx context.Context, localPath, key string) error {
	if key == "" {
		return errNoKey
	}
	// The file is looked at under u.mu and, for an upload, kept from
	// removal until its snapshot is taken: an earlier put's upload removing
	// it moves it aside for a moment (see removeUploadedLocked).
	u.mu.Lock()
	fi, err := os.Stat(localPath)
	switch {
	case err != nil:
		u.mu.Unlock()
		return fmt.Errorf("storage: put %q: %w", key, err)
	case !fi.Mode().IsRegular():
		u.mu.Unlock()
		return fmt.Errorf("storage: put %q: %s is not a regular file", key, localPath)
	case u.closed:
		u.mu.Unlock()
		return errClosed
	case u.dest == nil:
		defer u.mu.Unlock()
		abs, _ := filepath.Abs(localPath)
		u.seq++
		ks := u.keyLocked(key, u.seq)
		ks.res = Result{Key: key, Location: abs, Size: fi.Size(), Puts: ks.res.Puts + 1, At: u.clock.Now()}
		ks.resSeq = u.seq
		return nil
	}
	u.names++
	it := &item{key: key, local: localPath, info: fi}
	name := u.names
	u.taking[localPath]++
	u.mu.Unlock()

	err = u.snapshot(ctx, it, name)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.taking[localPath]--; u.taking[localPath] == 0 {
		delete(u.taking, localPath)
	}
	if err != nil {
		return fmt.Errorf("storage: put %q: %w", key, err)
	}
	if u.closed {
		u.dropSnapshot(it)
		return errClosed
	}
	u.seq++ // the queue's order, so taken with the append
	it.seq = u.seq
	// A waiting older version of the same file is replaced, and the new one
	// goes to the back: a playlist must not arrive before the segments it
	// lists, which were put before it.
	for i, q := range u.queue {
		if q.key == key && q.local == localPath {
			u.dropSnapshot(q)
			u.queue = append(u.queue[:i], u.queue[i+1:]...)
			u.unsettled--
			break
		}
	}
	u.queue = append(u.queue, it)
	u.unsettled++
	ks := u.keyLocked(key, it.seq)
	ks.res.Puts++
	select {
	case u.kick <- struct{}{}:
	default:
	}
	return nil
}

func (u *Uploader) keyLocked(key string, seq int) *keyState {
	ks := u.byKey[key]
	if ks == nil {
		ks = &keyState{res: Result{Key: key}}
		u.byKey[key] = ks
		u.keys = append(u.keys, key)
	}
	ks.lastAt = seq
	return ks
}

// Flush waits until every put is settled: uploaded, failed for good, or
// given up because the server has not answered for RetryFor. Then (or when
// ctx ends, giving up what is left) it returns one Result per key, in the
// order of their first put, and an error when some file was not uploaded.
// Flush may be called again after more puts.
func (u *Uploader) Flush(ctx context.Context) ([]Result, error) {
	u.mu.Lock()
	u.flushing++
	u.nudgeLocked() // a back-off sleep ends now: one more try, then the RetryFor rule
	for u.unsettled > 0 {
		ch := u.changed
		u.mu.Unlock()
		select {
		case <-ch:
			u.mu.Lock()
		case <-ctx.Done():
			u.mu.Lock()
			u.abandonLocked(fmt.Errorf("gave up waiting: %w", context.Cause(ctx)))
		}
	}
	u.flushing--
	res := u.resultsLocked()
	u.mu.Unlock()
	return res, summary(u.String(), res)
}

// EndStall is how long an ending recording's uploads may move nothing (no
// byte sent, no file settled) before what is left is given up and kept on
// local disk (see FlushMoving): a Stop ends within 10 s whatever a server
// does, while an upload that moves, however big, runs to its end.
const EndStall = 3 * time.Second

// FlushMoving is Flush for an ending recording: it also gives up what is
// left once nothing has moved for stall.
func (u *Uploader) FlushMoving(ctx context.Context, stall time.Duration) ([]Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	u.progress.Store(time.Now().UnixNano()) // the wait starts now
	go func() {
		t := time.NewTicker(max(stall/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if now.UnixNano()-u.progress.Load() > int64(stall) {
					cancel(fmt.Errorf("the server took nothing for %v", stall))
					return
				}
			}
		}
	}()
	return u.Flush(ctx)
}

func (u *Uploader) resultsLocked() []Result {
	out := make([]Result, 0, len(u.keys))
	for _, k := range u.keys {
		out = append(out, u.byKey[k].res)
	}
	return out
}

// summary is Flush's error: how many keys were not uploaded, wrapping the
// first reason.
func summary(where string, res []Result) error {
	var first error
	n := 0
	for _, r := range res {
		if !r.Uploaded() {
			if first == nil {
				first = r.Err
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("storage: %d of %d files not uploaded to %s, kept on local disk; first: %w", n, len(res), where, first)
}

// Close stops the uploads. Files still waiting are given up (they stay on
// local disk); call Flush first to wait for them. Close is idempotent and
// returns an error only when it gave files up.
func (u *Uploader) Close() error {
	var err error
	u.closeMu.Do(func() {
		u.mu.Lock()
		u.closed = true
		n := u.unsettled
		u.abandonLocked(errClosed)
		u.mu.Unlock()
		u.stop()
		<-u.done
		if u.privSpool {
			_ = os.Remove(u.spool) // fails, as it should, when a backup lives there
		}
		if n > 0 {
			err = fmt.Errorf("storage: closed with %d files not uploaded to %s; they stay on local disk", n, u.String())
		}
	})
	return err
}

// abandonLocked gives up every unsettled put: the waiting ones and the one
// in flight (whose request is cancelled).
func (u *Uploader) abandonLocked(why error) {
	if u.unsettled == 0 {
		return
	}
	q := u.queue
	u.queue = nil
	if b := u.busy; b != nil && !b.settled {
		q = append([]*item{b}, q...)
		if u.cancelBusy != nil {
			u.cancelBusy()
		}
	}
	for _, it := range q {
		u.settleBackupLocked(it, &Error{Field: u.field, Key: it.key, Reason: why.Error() + "; kept on local disk", cause: why})
	}
	u.nudgeLocked()
}

func (u *Uploader) nudgeLocked() {
	select {
	case u.nudge <- struct{}{}:
	default:
	}
}

// settleLocked records it's final result, wakes Flush and returns it.
func (u *Uploader) settleLocked(it *item, r Result) Result {
	u.progress.Store(time.Now().UnixNano())
	it.settled = true
	u.unsettled--
	r.Key, r.Puts, r.Attempts, r.At = it.key, u.byKey[it.key].res.Puts, it.attempts, u.clock.Now()
	if ks := u.byKey[it.key]; it.seq >= ks.resSeq {
		ks.res, ks.resSeq = r, it.seq
	}
	close(u.changed)
	u.changed = make(chan struct{})
	return r
}

// settleUploadedLocked: the server confirmed it; only now may files go.
func (u *Uploader) settleUploadedLocked(it *item) Result {
	u.dropSnapshot(it)
	if !u.opts.KeepLocal && !u.waitingLocked(it.local) {
		u.removeUploadedLocked(it)
	}
	return u.settleLocked(it, Result{Location: u.Location(it.key), Size: it.size})
}

// removeUploadedLocked removes it's local file if it still is the file
// put. A writer may replace the file at any moment (a manifest or a
// playlist is renamed into place), so it is moved aside before it is
// checked, and a newer one moved back; checked in place, then removed,
// the newer file that came in between was removed instead, and the Put
// taking its snapshot found nothing. Needs u.mu, which a Put takes before
// it looks at its file: none finds it moved aside.
func (u *Uploader) removeUploadedLocked(it *item) {
	aside := fmt.Sprintf("%s.uploaded-%d", it.local, it.seq)
	if err := os.Rename(it.local, aside); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			u.opts.Logf("storage: %s: uploaded %q but could not remove the local file: %v", u, it.key, err)
		}
		return
	}
	if !unchanged(aside, it.info) {
		// Newer bytes, back where they were, unless newer still are there.
		_ = os.Link(aside, it.local)
	}
	if err := os.Remove(aside); err != nil {
		u.opts.Logf("storage: %s: uploaded %q but could not remove the local file: %v", u, it.key, err)
	}
}

// settleBackupLocked: never uploaded. The backup is the caller's file when
// it still holds these bytes, else the spool's snapshot, which then stays.
func (u *Uploader) settleBackupLocked(it *item, e *Error) Result {
	backup := it.local
	switch {
	case unchanged(it.local, it.info) || !it.ownSnap:
		u.dropSnapshot(it)
	case u.byKey[it.key].lastAt > it.seq:
		// a newer version of the key follows; this one is of no use
		u.dropSnapshot(it)
	default:
		backup = it.snap
	}
	return u.settleLocked(it, Result{Location: backup, Size: it.size, BackupPath: backup, Err: e})
}

// waitingLocked reports whether a later put of the same local file waits,
// or is taking its snapshot.
func (u *Uploader) waitingLocked(local string) bool {
	if u.taking[local] > 0 {
		return true
	}
	for _, q := range u.queue {
		if q.local == local {
			return true
		}
	}
	return false
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"roomcast/engine/internal/atomicfile"
	"roomcast/engine/request"
	"roomcast/engine/waittest"
)

// bound is how long any Flush or Close in these tests may block.
const bound = 10 * time.Second

func TestLocation(t *testing.T) {
	cases := []struct {
		name, endpoint, region, bucket, key string
		pathStyle                           bool
		want                                string
	}{
		{"aws virtual host", "", "eu-west-1", "media", "rooms/a.mp4", false, "https://media.s3.eu-west-1.amazonaws.com/rooms/a.mp4"},
		{"aws default region", "", "", "media", "a.mp4", false, "https://media.s3.us-east-1.amazonaws.com/a.mp4"},
		{"aws path style", "", "us-east-2", "media", "a.mp4", true, "https://s3.us-east-2.amazonaws.com/media/a.mp4"},
		{"aws dotted bucket", "", "us-east-1", "my.media", "a.mp4", false, "https://s3.us-east-1.amazonaws.com/my.media/a.mp4"},
		{"endpoint path style", "http://127.0.0.1:9000", "us-east-1", "media", "hls/index.m3u8", true, "http://127.0.0.1:9000/media/hls/index.m3u8"},
		{"endpoint ip is path style", "http://127.0.0.1:9000/", "", "media", "a.ts", false, "http://127.0.0.1:9000/media/a.ts"},
		{"endpoint virtual host", "https://s3.example.com", "", "media", "a.ts", false, "https://media.s3.example.com/a.ts"},
		{"endpoint with base path", "https://gw.example.com/s3/", "", "media", "a.ts", true, "https://gw.example.com/s3/media/a.ts"},
		{"escaped key", "http://127.0.0.1:9000", "", "media", "my room/a b#1.mp4", true, "http://127.0.0.1:9000/media/my%20room/a%20b%231.mp4"},
		{"no userinfo leaks", "https://user:pw@s3.example.com", "", "media", "a.ts", true, "https://s3.example.com/media/a.ts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := location(c.endpoint, c.region, c.bucket, c.key, c.pathStyle)
			if got != c.want {
				t.Errorf("location = %q, want %q", got, c.want)
			}
		})
	}
}

func TestContentType(t *testing.T) {
	cases := map[string]string{
		"rooms/a.mp4":      "video/mp4",
		"a.ogg":            "audio/ogg",
		"hls/index.m3u8":   "application/x-mpegURL",
		"hls/seg_00001.ts": "video/MP2T",
		"img/x_00001.jpeg": "image/jpeg",
		"img/X.JPG":        "image/jpeg",
		"manifest.json":    "application/json",
		"noext":            "application/octet-stream",
		"a.bin":            "application/octet-stream",
	}
	for name, want := range cases {
		if got := contentType(name); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := backoff(1000); got != maxBackoff {
		t.Errorf("backoff(1000) = %s, want %s", got, maxBackoff)
	}
}

// apiErr is an error as the SDK returns it for an S3 answer.
func apiErr(status int, code string) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "message of " + code},
		},
	}}
}

func netErr(errno syscall.Errno) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject", Err: &smithyhttp.RequestSendError{
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)},
	}}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want kind
	}{
		{"connection refused", netErr(syscall.ECONNREFUSED), transient},
		{"connection reset", netErr(syscall.ECONNRESET), transient},
		{"dns", &net.DNSError{Err: "no such host", Name: "s3.nowhere", IsNotFound: true}, transient},
		{"timeout", fmt.Errorf("send: %w", context.DeadlineExceeded), transient},
		{"stalled", errStalled, transient},
		{"500", apiErr(500, "InternalError"), transient},
		{"503 slow down", apiErr(503, "SlowDown"), transient},
		{"502 no code", apiErr(502, ""), transient},
		{"429", apiErr(429, "TooManyRequests"), transient},
		{"400 request timeout", apiErr(400, "RequestTimeout"), transient},
		{"403 clock skew", apiErr(403, "RequestTimeTooSkewed"), transient},
		{"404 no such bucket", apiErr(404, "NoSuchBucket"), permanent},
		{"403 access denied", apiErr(403, "AccessDenied"), permanent},
		{"403 unknown key", apiErr(403, "InvalidAccessKeyId"), permanent},
		{"403 bad signature", apiErr(403, "SignatureDoesNotMatch"), permanent},
		{"400 expired token", apiErr(400, "ExpiredToken"), permanent},
		{"301 wrong region", apiErr(301, "PermanentRedirect"), permanent},
		{"400 entity too large", apiErr(400, "EntityTooLarge"), permanent},
		{"local file gone", &localError{os.ErrNotExist}, local},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, _, _ := classify(c.err); got != c.want {
				t.Errorf("classify(%v) = %s, want %s", c.err, got, c.want)
			}
		})
	}
}

// secretDest is a destination whose credentials tests look for in text.
func secretDest(endpoint string) *request.Upload {
	return &request.Upload{
		AccessKey: "AKIAUNITTESTKEY12345",
		Secret:    "unit/test+secret/0123456789abcdefXYZ",
		Endpoint:  endpoint,
		Bucket:    "media",
		Region:    "eu-west-1",
	}
}

func noSecrets(t *testing.T, text string, d *request.Upload) {
	t.Helper()
	for _, s := range []string{d.AccessKey, d.Secret, d.SessionToken} {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("text holds a credential %q: %s", s, text)
		}
	}
}

func TestExplain(t *testing.T) {
	d := secretDest("http://127.0.0.1:9000")
	u := newTestUploader(t, d, Options{Field: "file_outputs[0].s3"})
	echo := &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400, Header: http.Header{}}},
			Err:      &smithy.GenericAPIError{Code: "InvalidArgument", Message: "bad credential " + d.AccessKey + "/" + d.Secret},
		},
	}}
	cases := []struct {
		name, key string
		err       error
		field     string
		contains  string
		perm      bool
	}{
		{"no bucket", "a.mp4", apiErr(404, "NoSuchBucket"), "file_outputs[0].s3.bucket", `"a.mp4" not uploaded: bucket "media" does not exist on http://127.0.0.1:9000`, true},
		{"head 404", "", apiErr(404, "NotFound"), "file_outputs[0].s3.bucket", `file_outputs[0].s3.bucket: bucket "media" does not exist on http://127.0.0.1:9000`, true},
		{"bad secret", "", apiErr(403, "SignatureDoesNotMatch"), "file_outputs[0].s3.access_key/secret", "the server refused the credentials (SignatureDoesNotMatch)", true},
		{"bad key", "", apiErr(403, "InvalidAccessKeyId"), "file_outputs[0].s3.access_key", "does not know this access key", true},
		{"denied", "", apiErr(403, "AccessDenied"), "file_outputs[0].s3.access_key/secret", `may not use bucket "media"`, true},
		{"region", "", apiErr(301, "PermanentRedirect"), "file_outputs[0].s3.region", `not in region "eu-west-1"`, true},
		{"token", "", apiErr(400, "ExpiredToken"), "file_outputs[0].s3.session_token", "session token", true},
		{"refused", "a.ts", netErr(syscall.ECONNREFUSED), "file_outputs[0].s3.endpoint", "cannot reach http://127.0.0.1:9000 (connection refused)", false},
		{"server echoes credentials", "a.ts", echo, "file_outputs[0].s3", "bad credential {redacted}/{redacted}", true},
		{"5xx", "a.ts", apiErr(503, "ServiceUnavailable"), "file_outputs[0].s3", "answered 503 ServiceUnavailable", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := u.explain(c.key, c.err)
			if e.Field != c.field || e.Permanent != c.perm || !strings.Contains(e.Error(), c.contains) {
				t.Errorf("explain = {Field %q, Permanent %v} %q; want field %q, permanent %v, text with %q", e.Field, e.Permanent, e.Error(), c.field, c.perm, c.contains)
			}
			noSecrets(t, e.Error(), d)
			noSecrets(t, errors.Unwrap(e).Error(), d)
		})
	}
}

func TestLocalDisk(t *testing.T) {
	u := newTestUploader(t, nil, Options{})
	if err := u.Check(context.Background()); err != nil {
		t.Fatalf("Check of local disk: %v", err)
	}
	p := writeFile(t, t.TempDir(), "a.mp4", []byte("mp4 bytes"))
	if err := u.Put(context.Background(), p, "a.mp4"); err != nil {
		t.Fatal(err)
	}
	res, err := flushWithin(t, u, bound)
	if err != nil || len(res) != 1 || res[0].Location != p || res[0].Size != 9 || !res[0].Uploaded() {
		t.Fatalf("Flush = %+v, %v; want one result at %s", res, err, p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("local-disk file gone: %v", err)
	}
}

// fakeS3 answers PutObject from a script: each request takes the next
// answer (an HTTP status and S3 code), the last one repeating.
type fakeS3 struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	answers []answer
	got     []string // "key=body" per request that succeeded
	n       int
	hold    chan struct{} // when set, requests wait on it (or their end)
}

type answer struct {
	status int
	code   string
}

func newFakeS3(t *testing.T, answers ...answer) *fakeS3 {
	f := &fakeS3{t: t, answers: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeS3) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	a := answer{status: 200}
	if len(f.answers) > 0 {
		a = f.answers[min(f.n, len(f.answers)-1)]
	}
	f.n++
	if a.status == 200 {
		f.got = append(f.got, strings.TrimPrefix(r.URL.Path, "/media/")+"="+string(body))
	}
	f.mu.Unlock()
	if a.status == 200 {
		w.Header().Set("ETag", `"etag"`)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(a.status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>scripted</Message></Error>`, a.code)
}

func (f *fakeS3) requests() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, append([]string(nil), f.got...)
}

func (f *fakeS3) dest() *request.Upload {
	d := secretDest(f.srv.URL)
	d.ForcePathStyle = true
	return d
}

// fakeClock hands each back-off wait to the test, which fires it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan fakeWait
}

type fakeWait struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), waits: make(chan fakeWait, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- fakeWait{d, ch}
	return ch
}

// next is the next wait the uploader started; it fails the test if none
// comes within bound.
func (c *fakeClock) next(t *testing.T) fakeWait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(bound):
		t.Fatal("no back-off wait began")
		return fakeWait{}
	}
}

// elapse moves the clock past w and fires it.
func (c *fakeClock) elapse(w fakeWait) {
	c.mu.Lock()
	c.now = c.now.Add(w.d)
	now := c.now
	c.mu.Unlock()
	w.fire <- now
}

func TestBackoffSchedule(t *testing.T) {
	f := newFakeS3(t, answer{503, "SlowDown"}, answer{503, "SlowDown"}, answer{500, "InternalError"}, answer{502, ""},
		answer{503, "SlowDown"}, answer{503, "SlowDown"}, answer{200, ""})
	clock := newFakeClock()
	u := newTestUploader(t, f.dest(), Options{Clock: clock, SpoolDir: t.TempDir()})
	p := writeFile(t, t.TempDir(), "seg_00001.ts", []byte("segment"))
	if err := u.Put(context.Background(), p, "hls/seg_00001.ts"); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, d := range want {
		w := clock.next(t)
		if w.d != d {
			t.Fatalf("wait %d = %s, want %s", i+1, w.d, d)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("local file gone before the upload was confirmed: %v", err)
		}
		clock.elapse(w)
	}
	res, err := flushWithin(t, u, bound)
	if err != nil || len(res) != 1 || !res[0].Uploaded() || res[0].Attempts != 7 {
		t.Fatalf("Flush = %+v, %v; want one upload after 7 attempts", res, err)
	}
	if n, got := f.requests(); n != 7 || len(got) != 1 || got[0] != "hls/seg_00001.ts=segment" {
		t.Errorf("server saw %d requests, stored %q", n, got)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("local file not removed after the confirmed upload: %v", err)
	}
}

// TestRetryForDeadline: with Flush waiting, the server that keeps failing
// is tried until RetryFor after its first failure, the last try falling on
// the deadline, then the file is given up and stays where it was.
func TestRetryForDeadline(t *testing.T) {
	f := newFakeS3(t, answer{503, "ServiceUnavailable"})
	clock := newFakeClock()
	u := newTestUploader(t, f.dest(), Options{Clock: clock, RetryFor: 3 * time.Second})
	p := writeFile(t, t.TempDir(), "a.mp4", []byte("recording"))
	if err := u.Put(context.Background(), p, "a.mp4"); err != nil {
		t.Fatal(err)
	}
	first := clock.next(t) // after attempt 1; never fired: Flush wakes the worker
	if first.d != 500*time.Millisecond {
		t.Fatalf("first wait %s", first.d)
	}
	type flushed struct {
		res []Result
		err error
	}
	done := make(chan flushed, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		r, err := u.Flush(ctx)
		done <- flushed{r, err}
	}()
	for _, d := range []time.Duration{time.Second, 2 * time.Second} { // 2 s: cut to the deadline
		w := clock.next(t)
		if w.d != d {
			t.Fatalf("wait %s, want %s", w.d, d)
		}
		clock.elapse(w)
	}
	var fl flushed
	select {
	case fl = <-done:
	case <-time.After(bound):
		t.Fatal("Flush blocked")
	}
	if len(fl.res) != 1 || fl.err == nil {
		t.Fatalf("Flush = %+v, %v", fl.res, fl.err)
	}
	r := fl.res[0]
	var e *Error
	if r.BackupPath != p || r.Location != p || r.Attempts != 4 || !errors.As(r.Err, &e) || e.Permanent || e.Status != 503 {
		t.Fatalf("result %+v; want backup at %s after 4 attempts, transient 503", r, p)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "recording" {
		t.Errorf("backup %q, %v", b, err)
	}
	noSecrets(t, fl.err.Error(), f.dest())
}

func TestPermanentErrorAtOnce(t *testing.T) {
	f := newFakeS3(t, answer{403, "AccessDenied"})
	clock := newFakeClock()
	got := make(chan Result, 1)
	u := newTestUploader(t, f.dest(), Options{Clock: clock, Field: "image_outputs[0].s3", OnResult: func(r Result) { got <- r }})
	p := writeFile(t, t.TempDir(), "img_00001.jpeg", []byte("jpeg"))
	if err := u.Put(context.Background(), p, "img_00001.jpeg"); err != nil {
		t.Fatal(err)
	}
	var r Result
	select {
	case r = <-got: // reported before any Flush
	case w := <-clock.waits:
		t.Fatalf("a permanent error was retried after %s", w.d)
	case <-time.After(bound):
		t.Fatal("no result")
	}
	var e *Error
	if r.Attempts != 1 || r.BackupPath != p || !errors.As(r.Err, &e) || !e.Permanent || e.Field != "image_outputs[0].s3.access_key/secret" {
		t.Fatalf("result %+v (%v)", r, r.Err)
	}
	if _, err := flushWithin(t, u, bound); err == nil {
		t.Error("Flush: no error for a refused upload")
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("refused file deleted: %v", err)
	}
}

// TestPlaylistOrder: puts of a playlist rewritten in place while an upload
// is in flight collapse into the newest, which goes up after the segments
// put before it; an older playlist never lands after a newer one.
func TestPlaylistOrder(t *testing.T) {
	f := newFakeS3(t)
	hold := make(chan struct{})
	f.hold = hold
	u := newTestUploader(t, f.dest(), Options{SpoolDir: t.TempDir()})
	dir := t.TempDir()
	ctx := context.Background()
	pl := filepath.Join(dir, "index.m3u8")
	for i := 1; i <= 3; i++ {
		seg := writeFile(t, dir, fmt.Sprintf("seg_%05d.ts", i), []byte(fmt.Sprintf("seg%d", i)))
		if err := u.Put(ctx, seg, fmt.Sprintf("hls/seg_%05d.ts", i)); err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "index.m3u8", []byte(fmt.Sprintf("playlist v%d", i)))
		if err := u.Put(ctx, pl, "hls/index.m3u8"); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	f.hold = nil
	f.mu.Unlock()
	close(hold)
	res, err := flushWithin(t, u, bound)
	if err != nil {
		t.Fatal(err)
	}
	_, got := f.requests()
	want := []string{"hls/seg_00001.ts=seg1", "hls/seg_00002.ts=seg2", "hls/seg_00003.ts=seg3", "hls/index.m3u8=playlist v3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("server got %q, want %q", got, want)
	}
	for _, r := range res {
		if r.Key == "hls/index.m3u8" && (r.Puts != 3 || r.Size != int64(len("playlist v3"))) {
			t.Errorf("playlist result %+v", r)
		}
	}
	if _, err := os.Stat(pl); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("playlist not removed after its last upload: %v", err)
	}
}

// TestStall: a server that takes the request and never answers fails the
// attempt after StallTimeout; the next attempt goes through.
func TestStall(t *testing.T) {
	var mu sync.Mutex
	n := 0
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			<-release // read nothing, answer nothing (the server cannot see the client leave)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("ETag", `"e"`)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	d := secretDest(srv.URL)
	d.ForcePathStyle = true
	clock := newFakeClock()
	var logs strings.Builder
	var logMu sync.Mutex
	u := newTestUploader(t, d, Options{Clock: clock, StallTimeout: 300 * time.Millisecond, Logf: func(f string, a ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(&logs, f+"\n", a...)
	}})
	p := writeFile(t, t.TempDir(), "big.ts", make([]byte, 4<<20))
	start := time.Now()
	if err := u.Put(context.Background(), p, "big.ts"); err != nil {
		t.Fatal(err)
	}
	w := clock.next(t)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("stalled attempt took %s with StallTimeout 300ms", el)
	}
	clock.elapse(w)
	res, err := flushWithin(t, u, bound)
	if err != nil || !res[0].Uploaded() || res[0].Attempts != 2 {
		t.Fatalf("Flush = %+v, %v", res, err)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "timed out") && !strings.Contains(logs.String(), "no progress") {
		t.Errorf("log does not say the attempt timed out:\n%s", logs.String())
	}
	noSecrets(t, logs.String(), d)
}

func TestPutErrors(t *testing.T) {
	u := newTestUploader(t, secretDest("http://127.0.0.1:9"), Options{})
	if err := u.Put(context.Background(), filepath.Join(t.TempDir(), "missing.ts"), "a.ts"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Put of a missing file: %v", err)
	}
	if err := u.Put(context.Background(), t.TempDir(), "a.ts"); err == nil {
		t.Error("Put of a folder: no error")
	}
	if err := u.Put(context.Background(), writeFile(t, t.TempDir(), "a.ts", nil), ""); err == nil {
		t.Error("Put with an empty key: no error")
	}
	waittest.Returns(t, bound, "Close", func() error { u.Close(); return nil })
	if err := u.Put(context.Background(), writeFile(t, t.TempDir(), "b.ts", nil), "b.ts"); !errors.Is(err, errClosed) {
		t.Errorf("Put after Close: %v", err)
	}
}

// --- helpers, shared with the integration tests ---

func newTestUploader(t *testing.T, d *request.Upload, o Options) *Uploader {
	t.Helper()
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	u, err := New(ctx, d, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { waittest.Returns(t, bound, "Close", func() error { u.Close(); return nil }) })
	return u
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// flushWithin is Flush bounded: its context ends at d, and the test fails
// if Flush still blocks a second later.
func flushWithin(t testing.TB, u *Uploader, d time.Duration) ([]Result, error) {
	t.Helper()
	type out struct {
		res []Result
		err error
	}
	ch := make(chan out, 1)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	go func() {
		r, err := u.Flush(ctx)
		ch <- out{r, err}
	}()
	select {
	case o := <-ch:
		return o.res, o.err
	case <-time.After(d + time.Second):
		t.Fatalf("Flush blocked for more than %s", d)
		return nil, nil
	}
}

// TestRewrittenWhileUploading: a manifest renamed into place again and
// again, each version put while the last one's upload settles, never
// loses a version to that upload's removal of the file it sent: every
// Put finds its file, and the last version is the one on the server.
func TestRewrittenWhileUploading(t *testing.T) {
	f := newFakeS3(t)
	u := newTestUploader(t, f.dest(), Options{SpoolDir: t.TempDir()})
	dir := t.TempDir()
	manifest := filepath.Join(dir, "rec", "EG_x.json")
	if err := os.MkdirAll(filepath.Dir(manifest), 0o755); err != nil {
		t.Fatal(err)
	}
	const versions = 400
	for i := 1; i <= versions; i++ {
		if err := atomicfile.Write(manifest, []byte(fmt.Sprintf("version %d", i))); err != nil {
			t.Fatal(err)
		}
		if err := u.Put(context.Background(), manifest, "rec/EG_x.json"); err != nil {
			t.Fatalf("put of version %d: %v", i, err)
		}
	}
	if _, err := flushWithin(t, u, bound); err != nil {
		t.Fatal(err)
	}
	_, got := f.requests()
	if len(got) == 0 || got[len(got)-1] != fmt.Sprintf("rec/EG_x.json=version %d", versions) {
		t.Errorf("the server's last upload is %q, want version %d", got[len(got)-1:], versions)
	}
}

//go:build integration

package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"roomcast/engine/proctest"
	"roomcast/engine/request"
	"roomcast/engine/storage/s3test"
	"roomcast/engine/waittest"
)

const bucket = "media"

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// landed checks that each key is in the bucket byte-equal to want, both in
// the server's folder and read back with GetObject.
func landed(t *testing.T, srv *s3test.Server, want map[string][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		disk, err := os.ReadFile(srv.ObjectFile(bucket, k))
		if err != nil || !bytes.Equal(disk, want[k]) {
			t.Errorf("%s on the server's disk: %d bytes (%v), want %d equal bytes", k, len(disk), err, len(want[k]))
		}
		got, _, err := srv.GetObject(ctx, bucket, k)
		if err != nil || !bytes.Equal(got, want[k]) {
			t.Errorf("%s by GetObject: %d bytes (%v), want %d equal bytes", k, len(got), err, len(want[k]))
		}
	}
	keys, err := srv.Keys(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	if w := slices.Sorted(maps.Keys(want)); !slices.Equal(slices.Sorted(slices.Values(keys)), w) {
		t.Errorf("bucket holds %q, want %q", keys, w)
	}
}

// resultLog collects OnResult calls in order and signals each.
type resultLog struct {
	mu  sync.Mutex
	got []Result
	ch  chan struct{}
}

func newResultLog() *resultLog { return &resultLog{ch: make(chan struct{}, 100)} }

func (l *resultLog) add(r Result) {
	l.mu.Lock()
	l.got = append(l.got, r)
	l.mu.Unlock()
	l.ch <- struct{}{}
}

func (l *resultLog) keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ks []string
	for _, r := range l.got {
		ks = append(ks, r.Key)
	}
	return ks
}

// waitFor waits until n results came, failing the test after d.
func (l *resultLog) waitFor(t *testing.T, n int, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		l.mu.Lock()
		have := len(l.got)
		l.mu.Unlock()
		if have >= n {
			return
		}
		select {
		case <-l.ch:
		case <-deadline:
			t.Fatalf("%d of %d results within %s", have, n, d)
		}
	}
}

// TestUploadsLand: a recording (multipart), an audio file, HLS segments with
// a playlist rewritten and put 3 times, images and a manifest all land
// byte-equal with their content type, metadata, tags and disposition; the
// local files go once confirmed, or stay with KeepLocal.
func TestUploadsLand(t *testing.T) {
	srv := s3test.Start(t, bucket)
	dest := srv.Upload(bucket)
	dest.Metadata = map[string]string{"room": "demo-room", "egress-id": "EG_test"}
	dest.Tagging = "room=demo&kind=test"
	dest.ContentDisposition = "attachment"
	work := t.TempDir()
	spool := filepath.Join(work, ".spool")
	results := newResultLog()
	u := newTestUploader(t, dest, Options{Field: "file_outputs[0].s3", SpoolDir: spool,
		MultipartThreshold: 5 << 20, PartSize: 5 << 20, OnResult: results.add})
	ctx := context.Background()
	want := map[string][]byte{}
	var locals []string
	put := func(rel string, b []byte) {
		t.Helper()
		p := writeFile(t, work, rel, b)
		key := "rooms/demo/" + rel
		if err := u.Put(ctx, p, key); err != nil {
			t.Fatal(err)
		}
		want[key] = b
		locals = append(locals, p)
	}

	mp4, ogg := randomBytes(t, 12<<20), randomBytes(t, 300<<10) // mp4: 3 parts of 5, 5, 2 MiB
	segs, imgs := make([][]byte, 3), make([][]byte, 3)
	for i := range 3 {
		segs[i], imgs[i] = randomBytes(t, 1<<20), randomBytes(t, 50<<10)
	}
	start := time.Now()
	put("room.mp4", mp4)
	put("room.ogg", ogg)
	for i := range 3 {
		put(fmt.Sprintf("hls/seg_%05d.ts", i), segs[i])
		put("hls/index.m3u8", []byte(fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:3\n# version %d\n", i+1)))
	}
	for i := range 3 {
		put(fmt.Sprintf("img/img_%05d.jpeg", i), imgs[i])
	}
	put("img/manifest.json", []byte(`{"images":["img_00000.jpeg","img_00001.jpeg","img_00002.jpeg"]}`))

	res, err := flushWithin(t, u, 60*time.Second)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	total := int64(0)
	for _, b := range want {
		total += int64(len(b))
	}
	t.Logf("%d objects, %.1f MiB up in %s: %.0f MiB/s on loopback", len(want), float64(total)/(1<<20), took.Round(time.Millisecond), float64(total)/(1<<20)/took.Seconds())
	if len(res) != len(want) {
		t.Fatalf("%d results for %d keys", len(res), len(want))
	}
	for _, r := range res {
		if !r.Uploaded() || r.Location != srv.Endpoint+"/"+bucket+"/"+r.Key || r.Size != int64(len(want[r.Key])) {
			t.Errorf("result %+v", r)
		}
		if r.Key == "rooms/demo/hls/index.m3u8" && r.Puts != 3 {
			t.Errorf("playlist puts = %d, want 3", r.Puts)
		}
	}
	landed(t, srv, want)

	types := map[string]string{".mp4": "video/mp4", ".ogg": "audio/ogg", ".ts": "video/MP2T", ".m3u8": "application/x-mpegURL", ".jpeg": "image/jpeg", ".json": "application/json"}
	c := srv.Client()
	for k := range want {
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("HeadObject %s: %v", k, err)
		}
		if got := aws.ToString(head.ContentType); got != types[filepath.Ext(k)] {
			t.Errorf("%s: Content-Type %q, want %q", k, got, types[filepath.Ext(k)])
		}
		if got := aws.ToString(head.ContentDisposition); got != "attachment" {
			t.Errorf("%s: Content-Disposition %q", k, got)
		}
		if !maps.Equal(head.Metadata, dest.Metadata) {
			t.Errorf("%s: metadata %v, want %v", k, head.Metadata, dest.Metadata)
		}
		tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("GetObjectTagging %s: %v", k, err)
		}
		got := map[string]string{}
		for _, tg := range tags.TagSet {
			got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		if !maps.Equal(got, map[string]string{"room": "demo", "kind": "test"}) {
			t.Errorf("%s: tags %v", k, got)
		}
	}
	for _, p := range locals {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("local %s not removed after its confirmed upload (%v)", p, err)
		}
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("spool keeps %d files", len(left))
	}
	if ks := results.keys(); len(ks) < len(want) {
		t.Errorf("OnResult saw %d results, want at least %d", len(ks), len(want))
	}

	// KeepLocal: the engine's copy stays.
	k := newTestUploader(t, srv.Upload(bucket), Options{KeepLocal: true, SpoolDir: spool})
	p := writeFile(t, work, "keep/img.jpeg", []byte("kept jpeg"))
	if err := k.Put(ctx, p, "keep/img.jpeg"); err != nil {
		t.Fatal(err)
	}
	if _, err := flushWithin(t, k, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "kept jpeg" {
		t.Errorf("KeepLocal: local file %q, %v", b, err)
	}
}

// TestOutageDrains: the server goes away, 5 segments and a playlist put
// after each are kept on local disk, the server comes back 3 s later, and
// the queue drains by itself, in order, before Flush; nothing is missing and
// the local files go only after confirmation.
func TestOutageDrains(t *testing.T) {
	srv := s3test.Start(t, bucket)
	dest := srv.Upload(bucket)
	work := t.TempDir()
	results := newResultLog()
	unreachable := make(chan string, 16)
	var logMu sync.Mutex
	var logs strings.Builder
	u := newTestUploader(t, dest, Options{SpoolDir: filepath.Join(work, ".spool"), RetryFor: 30 * time.Second, OnResult: results.add,
		Logf: func(f string, a ...any) {
			line := fmt.Sprintf(f, a...)
			t.Log(line)
			logMu.Lock()
			logs.WriteString(line + "\n")
			logMu.Unlock()
			if strings.Contains(line, "does not answer") {
				unreachable <- line
			}
		}})
	ctx := context.Background()
	want := map[string][]byte{}
	put := func(rel string, b []byte) string {
		t.Helper()
		p := writeFile(t, work, rel, b)
		if err := u.Put(ctx, p, rel); err != nil {
			t.Fatal(err)
		}
		want[rel] = b
		return p
	}
	put("hls/seg_00000.ts", randomBytes(t, 256<<10))
	results.waitFor(t, 1, 10*time.Second)

	pid := srv.PID()
	srv.Stop()
	stopped := time.Now()
	if proctest.Alive(pid) {
		t.Fatalf("versitygw %d still runs after Stop", pid)
	}
	var locals []string
	var order []string
	for i := 1; i <= 5; i++ {
		rel := fmt.Sprintf("hls/seg_%05d.ts", i)
		locals = append(locals, put(rel, randomBytes(t, 256<<10)))
		order = append(order, rel)
		pl := put("hls/index.m3u8", []byte(fmt.Sprintf("#EXTM3U\n# up to segment %d\n", i)))
		if i == 1 {
			locals = append(locals, pl)
		}
	}
	order = append(order, "hls/index.m3u8")
	select {
	case <-unreachable:
	case <-time.After(10 * time.Second):
		t.Fatal("the outage was not noticed")
	}
	for _, p := range locals {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("local %s gone during the outage: %v", p, err)
		}
	}

	time.Sleep(time.Until(stopped.Add(3 * time.Second))) // the scenario: back 3 s later
	srv.Restart()
	back := time.Now()
	results.waitFor(t, 1+len(order), 15*time.Second) // drains in the background, no Flush yet
	drain := time.Since(back)
	res, err := flushWithin(t, u, 30*time.Second)
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	t.Logf("outage of %s; queue of %d drained %s after the server was back", back.Sub(stopped).Round(time.Millisecond), len(order), drain.Round(time.Millisecond))
	if got := results.keys()[1:]; !slices.Equal(got, order) {
		t.Errorf("upload order %q, want %q", got, order)
	}
	for _, r := range res {
		if !r.Uploaded() {
			t.Errorf("not uploaded: %+v", r)
		}
	}
	landed(t, srv, want)
	for _, p := range locals {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("local %s not removed after confirmation (%v)", p, err)
		}
	}
	logMu.Lock()
	noSecrets(t, logs.String(), dest)
	logMu.Unlock()
}

// TestServerNeverBack: the server stays away; Flush gives up RetryFor after
// the first failure and each result points at an intact local copy.
func TestServerNeverBack(t *testing.T) {
	srv := s3test.Start(t, bucket)
	dest := srv.Upload(bucket)
	work := t.TempDir()
	spool := filepath.Join(work, ".spool")
	u := newTestUploader(t, dest, Options{Field: "segment_outputs[0].s3", SpoolDir: spool, RetryFor: 3 * time.Second,
		MultipartThreshold: 5 << 20, PartSize: 5 << 20})
	srv.Stop()
	ctx := context.Background()
	want := map[string][]byte{}
	paths := map[string]string{}
	for _, f := range []struct {
		rel string
		n   int
	}{{"room.mp4", 6 << 20}, {"hls/seg_00000.ts", 200 << 10}, {"img/img_00000.jpeg", 30 << 10}} {
		b := randomBytes(t, f.n)
		p := writeFile(t, work, f.rel, b)
		if err := u.Put(ctx, p, f.rel); err != nil {
			t.Fatal(err)
		}
		want[f.rel], paths[f.rel] = b, p
	}
	// A playlist rewritten after its put and never put again (the engine
	// died): its backup is the spool's copy of the bytes that were put.
	pl := writeFile(t, work, "hls/index.m3u8", []byte("playlist v1"))
	if err := u.Put(ctx, pl, "hls/index.m3u8"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, work, "hls/index.m3u8", []byte("playlist v2, longer"))
	want["hls/index.m3u8"] = []byte("playlist v1")

	start := time.Now()
	res, err := flushWithin(t, u, 20*time.Second)
	took := time.Since(start)
	if err == nil {
		t.Fatal("Flush: no error with the server gone")
	}
	t.Logf("Flush gave up after %s: %v", took.Round(time.Millisecond), err)
	if took > 8*time.Second {
		t.Errorf("Flush took %s with RetryFor 3s", took)
	}
	noSecrets(t, err.Error(), dest)
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for _, r := range res {
		var e *Error
		if r.BackupPath == "" || r.Location != r.BackupPath || !errors.As(r.Err, &e) || e.Permanent || e.Field != "segment_outputs[0].s3.endpoint" {
			t.Errorf("result %+v", r)
			continue
		}
		if !strings.Contains(e.Error(), "cannot reach "+srv.Endpoint) {
			t.Errorf("error %q does not say the server cannot be reached", e)
		}
		if p, ok := paths[r.Key]; ok && r.BackupPath != p {
			t.Errorf("%s: backup %s, want the local file %s", r.Key, r.BackupPath, p)
		}
		if r.Key == "hls/index.m3u8" && filepath.Dir(r.BackupPath) != spool {
			t.Errorf("rewritten playlist: backup %s, want the spool's copy", r.BackupPath)
		}
		if b, err := os.ReadFile(r.BackupPath); err != nil || !bytes.Equal(b, want[r.Key]) {
			t.Errorf("%s: backup %s holds %d bytes (%v), want %d equal bytes", r.Key, r.BackupPath, len(b), err, len(want[r.Key]))
		}
	}
	if left, _ := os.ReadDir(spool); len(left) != 1 {
		t.Errorf("spool holds %d files, want only the playlist's backup", len(left))
	}
}

// TestCheck: request-time errors name the field and never a credential.
func TestCheck(t *testing.T) {
	srv := s3test.Start(t, bucket)
	dead := "http://" + s3test.FreeAddr(t)
	with := func(f func(*request.Upload)) *request.Upload {
		d := srv.Upload(bucket)
		f(d)
		return d
	}
	cases := []struct {
		name      string
		dest      *request.Upload
		want      string // "" for no error
		permanent bool
	}{
		{"ok", srv.Upload(bucket), "", false},
		{"ok virtual host on an ip", with(func(d *request.Upload) { d.ForcePathStyle = false }), "", false},
		{"no bucket", with(func(d *request.Upload) { d.Bucket = "nope" }),
			`file_outputs[0].s3.bucket: bucket "nope" does not exist on ` + srv.Endpoint, true},
		{"wrong secret", with(func(d *request.Upload) { d.Secret = "not-the-secret-0123456789" }),
			"file_outputs[0].s3.access_key/secret: the server refused the credentials (SignatureDoesNotMatch)", true},
		{"wrong access key", with(func(d *request.Upload) { d.AccessKey = "NOSUCHACCESSKEY123" }),
			// AWS says InvalidAccessKeyId, versitygw XAdminUserNotFound (with a 404)
			"file_outputs[0].s3.access_key: the server does not know this access key (", true},
		{"wrong region", with(func(d *request.Upload) { d.Region = "eu-west-3" }),
			`file_outputs[0].s3.region: bucket "media" is not in region "eu-west-3"`, true},
		// versitygw issues no temporary credentials, but checks a token
		// it is sent: the token goes with the request.
		{"session token", with(func(d *request.Upload) { d.SessionToken = "FwoGZXIvYXdzEXAMPLETOKEN" }),
			"file_outputs[0].s3.session_token: the server refused the session token (InvalidToken)", true},
		{"unreachable", with(func(d *request.Upload) { d.Endpoint = dead }),
			"file_outputs[0].s3.endpoint: cannot reach " + dead + " (connection refused)", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := newTestUploader(t, c.dest, Options{Field: "file_outputs[0].s3"})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			err := u.Check(ctx)
			t.Logf("Check in %s: %v", time.Since(start).Round(time.Millisecond), err)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var e *Error
			if err == nil || !strings.HasPrefix(err.Error(), c.want) || !errors.As(err, &e) || e.Permanent != c.permanent {
				t.Fatalf("Check = %v, want an error starting %q (permanent %v)", err, c.want, c.permanent)
			}
			for _, s := range []string{srv.Secret, srv.AccessKey, c.dest.Secret, c.dest.AccessKey} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error holds a credential: %v", err)
				}
			}
		})
	}

	// An upload to the missing bucket fails at once, not after RetryFor.
	results := newResultLog()
	u := newTestUploader(t, with(func(d *request.Upload) { d.Bucket = "nope" }), Options{Field: "file_outputs[0].s3", OnResult: results.add})
	p := writeFile(t, t.TempDir(), "a.mp4", []byte("mp4"))
	start := time.Now()
	if err := u.Put(context.Background(), p, "a.mp4"); err != nil {
		t.Fatal(err)
	}
	results.waitFor(t, 1, 5*time.Second)
	results.mu.Lock()
	r := results.got[0]
	results.mu.Unlock()
	if r.Attempts != 1 || r.BackupPath != p || !strings.Contains(fmt.Sprint(r.Err), `file_outputs[0].s3.bucket: "a.mp4" not uploaded: bucket "nope" does not exist`) {
		t.Errorf("result after %s: %+v", time.Since(start), r)
	}
}

// TestCredentialSources: keys in the request are the only ones used, even
// with other keys in the environment; without keys, the environment's are.
func TestCredentialSources(t *testing.T) {
	srv := s3test.Start(t, bucket)
	isolate := func() {
		home := t.TempDir()
		t.Setenv("HOME", home)
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "none"))
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "none"))
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		t.Setenv("AWS_PROFILE", "")
		t.Setenv("AWS_SESSION_TOKEN", "")
	}
	check := func(d *request.Upload) error {
		t.Helper()
		u := newTestUploader(t, d, Options{Field: "file_outputs[0].s3"})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return u.Check(ctx)
	}

	isolate()
	t.Setenv("AWS_ACCESS_KEY_ID", "ENVWRONGKEY1234567")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-wrong-secret")
	if err := check(srv.Upload(bucket)); err != nil {
		t.Errorf("request keys with other keys in the environment: %v", err)
	}

	anon := srv.Upload(bucket)
	anon.AccessKey, anon.Secret = "", ""
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Secret)
	if err := check(anon); err != nil {
		t.Errorf("no request keys, the environment's: %v", err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	err := check(anon)
	t.Logf("no keys anywhere: %v", err)
	if err == nil || !strings.HasPrefix(err.Error(), "file_outputs[0].s3.access_key/secret: none given, and no AWS credentials found") {
		t.Errorf("no keys anywhere: %v", err)
	}
}

// BenchmarkUpload measures upload throughput to versitygw on loopback:
// single PutObject of 1 MiB segments and multipart of a 64 MiB recording.
func BenchmarkUpload(b *testing.B) {
	srv := s3test.Start(b, bucket)
	for _, c := range []struct {
		name string
		size int
	}{{"segment-1MiB", 1 << 20}, {"recording-64MiB", 64 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			u, err := New(context.Background(), srv.Upload(bucket), Options{SpoolDir: filepath.Join(dir, ".spool"), KeepLocal: true})
			if err != nil {
				b.Fatal(err)
			}
			defer waittest.Returns(b, bound, "Close", func() error { u.Close(); return nil })
			p := writeFile(b, dir, "f", randomBytes(b, c.size))
			b.SetBytes(int64(c.size))
			b.ResetTimer()
			for i := range b.N {
				if err := u.Put(context.Background(), p, fmt.Sprintf("bench/%s/%d", c.name, i)); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := flushWithin(b, u, 5*time.Minute); err != nil {
				b.Fatal(err)
			}
		})
	}
}

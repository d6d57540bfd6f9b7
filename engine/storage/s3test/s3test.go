// Package s3test runs a real S3 server (versitygw over a folder) on loopback for tests.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"roomcast/engine/request"
)

// Region is the server's region.
const Region = "us-east-1"

// startTimeout bounds a start: versitygw answers within a second here.
const startTimeout = 15 * time.Second

// Server is a versitygw process serving Root: each folder is a bucket and
// the object a/b of bucket x is the file Root/x/a/b, so a test can compare
// bytes on disk.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Root      string
	AccessKey string
	Secret    string // random per server, so a test can look for it in text

	t    testing.TB
	bin  string
	addr string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	stderr *lockedBuffer
}

// lockedBuffer collects the server's output while Log may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Binary is the versitygw to run: bin/versitygw at the module root (make
// deps), else one on PATH; the test is skipped without one.
func Binary(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for ; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if b := filepath.Join(dir, "bin", "versitygw"); isExec(b) {
				return b
			}
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if b, err := exec.LookPath("versitygw"); err == nil {
		return b
	}
	t.Skip("versitygw not installed: run make deps")
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Start runs versitygw on 127.0.0.1 at a free port with a fresh root,
// creates the buckets, and stops it when the test ends.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	s := &Server{
		Root:      t.TempDir(),
		AccessKey: "RCTESTAK" + randomHex(6),
		Secret:    "rc-secret-" + randomHex(16),
		t:         t,
		bin:       Binary(t),
	}
	s.addr = freeAddr(t)
	s.Endpoint = "http://" + s.addr
	t.Cleanup(s.Stop)
	s.Restart()
	for _, b := range buckets {
		s.CreateBucket(b)
	}
	return s
}

// Restart starts the server again on the same port after Stop (or starts
// it the first time) and returns once it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatalf("s3test: restart of a running server")
	}
	stderr := &lockedBuffer{}
	cmd := exec.Command(s.bin, "--port", s.addr, "--access", s.AccessKey, "--secret", s.Secret, "--quiet", "posix", s.Root)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// dies with the test binary, even when that is killed
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("s3test: start versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.stderr = cmd, exited, stderr

	deadline := time.Now().Add(startTimeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		// any HTTP answer (403 to an unsigned request) means it serves
		if resp, err := hc.Get(s.Endpoint + "/"); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("s3test: versitygw exited at start: %s", stderr.String())
		case <-time.After(20 * time.Millisecond): // polling a port: there is no event to wait for
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			s.t.Fatalf("s3test: versitygw did not answer on %s within %s: %s", s.addr, startTimeout, stderr.String())
		}
	}
}

// Stop ends the server (SIGTERM, then SIGKILL after 5 s) and waits for it.
// The port stays the server's for Restart. Stop is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// PID is the running server's process id, 0 when stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Upload is a destination for bucket on this server, path style.
func (s *Server) Upload(bucket string) *request.Upload {
	return &request.Upload{
		AccessKey:      s.AccessKey,
		Secret:         s.Secret,
		Region:         Region,
		Endpoint:       s.Endpoint,
		Bucket:         bucket,
		ForcePathStyle: true,
	}
}

// Client is an S3 client of the server, for the test's own checks.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.Secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// CreateBucket creates a bucket through the S3 API (so that it carries
// the owner versitygw expects).
func (s *Server) CreateBucket(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		s.t.Fatalf("s3test: create bucket %q: %v", name, err)
	}
}

// ObjectFile is the file holding the object key of bucket.
func (s *Server) ObjectFile(bucket, key string) string {
	return filepath.Join(s.Root, bucket, filepath.FromSlash(key))
}

// GetObject reads an object back through the S3 API.
func (s *Server) GetObject(ctx context.Context, bucket, key string) ([]byte, *s3.GetObjectOutput, error) {
	out, err := s.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, nil, err
	}
	defer out.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(out.Body)
	return b.Bytes(), out, err
}

// Keys lists the keys of bucket, from the server.
func (s *Server) Keys(ctx context.Context, bucket string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// Log is what the server printed, for failure messages.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stderr == nil {
		return ""
	}
	return strings.TrimSpace(s.stderr.String())
}

// FreeAddr returns a loopback address with a port nothing listens on.
func FreeAddr(t testing.TB) string { return freeAddr(t) }

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	return addr
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("s3test: random: %v", err))
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

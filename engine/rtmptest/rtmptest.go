// Package rtmptest runs a real RTMP ingest for tests: Debian's nginx with
// libnginx-mod-rtmp on 127.0.0.1, recording every stream it receives to an
// FLV file per publish, so a test can read back what arrived.
package rtmptest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"roomcast/engine/mediatest"
)

const module = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// Server is one nginx-rtmp process; Stop and Start keep its port.
type Server struct {
	t    testing.TB // the test of Start(t); nil for Launch
	dir  string
	port int
	cmd  *exec.Cmd
}

// Start runs a server on a free loopback port; it is stopped at the end of
// the test. Streams to URL(key) land in Recordings(key).
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.t = t
	t.Cleanup(s.Stop)
	return s
}

// Launch runs a server on a free loopback port with its files in dir, for
// use outside tests (the bench); the caller must Stop it.
func Launch(dir string) (*Server, error) {
	if _, err := os.Stat(module); err != nil {
		return nil, fmt.Errorf("nginx RTMP module missing (%v): run make deps", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{dir: dir, port: port}
	if err := os.MkdirAll(filepath.Join(s.dir, "rec"), 0o777); err != nil {
		return nil, err
	}
	// record_unique: every publish (a reconnect too) gets its own file.
	conf := fmt.Sprintf(`load_module %s;
daemon off;
master_process off;
pid %s/nginx.pid;
error_log %s/error.log info;
events {}
rtmp {
  server {
    listen 127.0.0.1:%d;
    application live {
      live on;
      record all;
      record_path %s/rec;
      record_unique on;
    }
  }
}
`, module, s.dir, s.dir, port, s.dir)
	if err := os.WriteFile(filepath.Join(s.dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s, nil
}

// URL is the publish URL for a stream key.
func (s *Server) URL(key string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", s.port, key)
}

// Start restarts a server of Start(t) that Stop stopped, and fails the
// test if it does not accept connections.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.run(); err != nil {
		s.t.Fatal(err)
	}
}

// run starts nginx, unless it runs, and waits until it accepts connections.
func (s *Server) run() error {
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command("nginx", "-c", filepath.Join(s.dir, "nginx.conf"), "-p", s.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start nginx: %w (run make deps)", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			log, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
			return fmt.Errorf("nginx-rtmp did not listen on %d: %w\n%s", s.port, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server at once, as a crash or a network fault would.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// PID is the running server's process id, 0 when stopped: a test may
// freeze it (SIGSTOP), as a server that black-holes what it is sent.
func (s *Server) PID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Recordings lists the FLV files received for key, oldest first.
func (s *Server) Recordings(key string) []string {
	matches, _ := filepath.Glob(filepath.Join(s.dir, "rec", key+"*.flv"))
	sort.Slice(matches, func(i, j int) bool {
		a, _ := os.Stat(matches[i])
		b, _ := os.Stat(matches[j])
		if a == nil || b == nil {
			return matches[i] < matches[j]
		}
		return a.ModTime().Before(b.ModTime()) || (a.ModTime().Equal(b.ModTime()) && strings.Compare(matches[i], matches[j]) < 0)
	})
	return matches
}

// Received is the number of bytes received so far for key, in all files.
func (s *Server) Received(key string) int64 {
	var n int64
	for _, f := range s.Recordings(key) {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

// CheckRecording checks that key was received as one publish of H.264 at
// width x height with AAC audio covering the video, every frame
// decodable.
func (s *Server) CheckRecording(t testing.TB, key string, width, height int) {
	t.Helper()
	recs := s.Recordings(key)
	if len(recs) != 1 {
		t.Fatalf("%s: %d recordings, want 1", key, len(recs))
	}
	p, err := mediatest.ProbeFile(recs[0], true)
	if err != nil {
		t.Fatal(err)
	}
	v, a := p.First("video"), p.First("audio")
	if v == nil || v.CodecName != "h264" || v.Width != width || v.Height != height || a == nil || a.CodecName != "aac" {
		t.Errorf("%s: streams %+v / %+v, want h264 %dx%d and aac", key, v, a, width, height)
		return
	}
	mediatest.AudioCoversVideo(t, recs[0])
	t.Logf("stream %s: %.2f s, %s frames", key, p.Duration(), v.NbReadFrames)
}

package browser

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"roomcast/engine/audio"
	"roomcast/engine/display"
	"roomcast/engine/proctest"
)

// need skips the test unless Xvfb, Chromium and ffmpeg are installed.
func need(t *testing.T) {
	t.Helper()
	proctest.Need(t, "Xvfb", "ffmpeg")
	if _, err := findExec(""); err != nil {
		t.Skip("chromium not installed: run make deps")
	}
}

// screen starts an Xvfb screen that the test stops.
func screen(t *testing.T, w, h int) *display.Screen {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	s, err := display.Start(ctx, w, h)
	if err != nil {
		t.Fatalf("display.Start: %v", err)
	}
	t.Logf("Xvfb %s %dx%d up in %v", s.Name(), w, h, time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		pid := s.Pid()
		if err := s.Close(); err != nil {
			t.Errorf("close Xvfb: %v", err)
		}
		if proctest.Alive(pid) {
			t.Errorf("Xvfb (pid %d) still runs", pid)
		}
	})
	return s
}

// serve serves html at / on 127.0.0.1.
func serve(t *testing.T, html string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, html)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// logs collects what a Browser logs, and lets a test wait for a line.
type logs struct {
	t      *testing.T
	mu     sync.Mutex
	lines  []string
	more   chan struct{}
	closed bool
}

func newLogs(t *testing.T) *logs {
	l := &logs{t: t, more: make(chan struct{}, 1)}
	t.Cleanup(func() {
		l.mu.Lock()
		l.closed = true // t.Logf after the test's end panics
		l.mu.Unlock()
	})
	return l
}

func (l *logs) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if !l.closed {
		l.t.Log("browser: " + line)
	}
	select {
	case l.more <- struct{}{}:
	default:
	}
}

func (l *logs) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// waitFor returns the first line that contains s, waiting up to d for it.
func (l *logs) waitFor(s string, d time.Duration) string {
	l.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, line := range l.lines {
			if strings.Contains(line, s) {
				l.mu.Unlock()
				return line
			}
		}
		l.mu.Unlock()
		select {
		case <-l.more:
		case <-deadline.C:
			l.t.Fatalf("no log line with %q within %v; got:\n%s", s, d, l.all())
		}
	}
}

// launch starts a Browser on s showing u, and closes it at the end of the
// test, checking that Close is quick and leaves nothing behind.
func launch(t *testing.T, s *display.Screen, u string, l *logs, mod ...func(*Options)) *Browser {
	t.Helper()
	o := Options{Display: s.Name(), Width: s.Width(), Height: s.Height(), URL: u, Logf: l.logf}
	for _, m := range mod {
		m(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Launch(ctx, o)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() { closeChecked(t, b) })
	return b
}

// closeChecked closes b within 10 s and checks that no Chromium process and
// no profile directory is left.
func closeChecked(t *testing.T, b *Browser) {
	t.Helper()
	t0 := time.Now()
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("Close blocked for more than 10 s")
		return
	}
	t.Logf("Close took %v", time.Since(t0).Round(time.Millisecond))
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if left := chromiumProcesses(b.pgid, b.dataDir); len(left) > 0 {
		var cmds []string
		for _, pid := range left {
			cmds = append(cmds, fmt.Sprintf("%d %s", pid, proctest.Command(pid)))
		}
		t.Errorf("Chromium processes left after Close:\n%s", strings.Join(cmds, "\n"))
	}
	for _, pid := range proctest.Descendants(os.Getpid()) {
		if strings.Contains(proctest.Command(pid), "chrom") {
			t.Errorf("Chromium process left below the test: %d %s", pid, proctest.Command(pid))
		}
	}
	if proctest.Alive(b.Pid()) {
		t.Errorf("Chromium's main process %d still runs", b.Pid())
	}
	if b.removeDir {
		if _, err := os.Stat(b.dataDir); err == nil {
			t.Errorf("profile %s left after Close", b.dataDir)
		}
	}
}

// grab takes one frame of the whole screen with ffmpeg's x11grab. With
// drawMouse, x11grab draws the X cursor in (as ximagesrc does unless
// show-pointer=false): Chromium's arrow in the middle of the screen.
func grab(t *testing.T, s *display.Screen, drawMouse bool) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mouse := "0"
	if drawMouse {
		mouse = "1"
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-f", "x11grab", "-draw_mouse", mouse,
		"-video_size", fmt.Sprintf("%dx%d", s.Width(), s.Height()), "-i", s.Name(),
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg x11grab %s: %v: %s", s.Name(), err, stderr.String())
	}
	if len(out) != s.Width()*s.Height()*3 {
		t.Fatalf("x11grab gave %d bytes, want %d", len(out), s.Width()*s.Height()*3)
	}
	return out
}

func pixel(rgb []byte, w, x, y int) color.RGBA {
	i := (y*w + x) * 3
	return color.RGBA{rgb[i], rgb[i+1], rgb[i+2], 255}
}

// pulseServer is a PulseAudio server the test closes.
func pulseServer(ctx context.Context, t *testing.T) *audio.Server {
	t.Helper()
	srv, err := audio.EnsureServer(ctx)
	if err != nil {
		t.Fatalf("audio.EnsureServer: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// pulseSink is a sink of srv's the test closes.
func pulseSink(ctx context.Context, t *testing.T, srv *audio.Server, label string) *audio.Sink {
	t.Helper()
	k, err := srv.NewSink(ctx, label)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

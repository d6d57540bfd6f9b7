package display

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"roomcast/engine/proctest"
	"roomcast/engine/waittest"
)

// start starts a screen that the test closes however it ends.
func start(t *testing.T, w, h int) *Screen {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	s, err := Start(ctx, w, h)
	if err != nil {
		t.Fatalf("Start(%dx%d): %v", w, h, err)
	}
	t.Logf("Xvfb %s (%dx%d) answered %v after start", s.Name(), w, h, time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() { waittest.Returns(t, 3*time.Second, "Close", s.Close) })
	return s
}

// grab takes one frame of the screen with ffmpeg's x11grab and returns it as
// raw RGB24.
func grab(t *testing.T, s *Screen) []byte {
	t.Helper()
	proctest.Need(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-f", "x11grab", "-draw_mouse", "0",
		"-video_size", fmt.Sprintf("%dx%d", s.Width(), s.Height()), "-i", s.Name(),
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg x11grab %s: %v: %s", s.Name(), err, stderr.String())
	}
	if want := s.Width() * s.Height() * 3; len(out) != want {
		t.Fatalf("x11grab %s gave %d bytes, want %d", s.Name(), len(out), want)
	}
	return out
}

func TestStartAnswersOnAbstractSocket(t *testing.T) {
	proctest.Need(t, "Xvfb")
	s := start(t, 320, 240)
	if !strings.HasPrefix(s.Name(), ":") || s.Name() != fmt.Sprintf(":%d", s.Number()) {
		t.Fatalf("Name() = %q, Number() = %d", s.Name(), s.Number())
	}
	// Only the abstract socket: no file socket, no TCP.
	if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", s.Number())); err == nil {
		t.Errorf("/tmp/.X11-unix/X%d exists; Xvfb should listen on the abstract socket only", s.Number())
	}
	unix, _ := os.ReadFile("/proc/net/unix")
	if !bytes.Contains(unix, []byte(fmt.Sprintf("@/tmp/.X11-unix/X%d\n", s.Number()))) {
		t.Errorf("no abstract socket @/tmp/.X11-unix/X%d in /proc/net/unix", s.Number())
	}
	// A real client connects and sees the size we asked for.
	px := grab(t, s)
	for i, b := range px {
		if b != 0 {
			t.Fatalf("pixel byte %d of an empty screen is %d, want black", i, b)
		}
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err() of a running screen = %v", err)
	}
}

func TestTwoScreensAtOnce(t *testing.T) {
	proctest.Need(t, "Xvfb")
	type res struct {
		s   *Screen
		err error
	}
	ch := make(chan res, 2)
	for _, size := range [][2]int{{640, 360}, {360, 640}} {
		go func() {
			s, err := Start(context.Background(), size[0], size[1])
			ch <- res{s, err}
		}()
	}
	var screens []*Screen
	for range 2 {
		r := <-ch
		if r.err != nil {
			t.Errorf("Start: %v", r.err)
			continue
		}
		t.Cleanup(func() { waittest.Returns(t, 3*time.Second, "Close", r.s.Close) })
		screens = append(screens, r.s)
	}
	if len(screens) != 2 {
		t.FailNow()
	}
	if screens[0].Name() == screens[1].Name() {
		t.Fatalf("two screens share display %s", screens[0].Name())
	}
	for _, s := range screens {
		if got := len(grab(t, s)); got != s.Width()*s.Height()*3 {
			t.Errorf("%s: frame of %d bytes", s.Name(), got)
		}
	}
}

func TestCloseStopsXvfb(t *testing.T) {
	proctest.Need(t, "Xvfb")
	s := start(t, 320, 240)
	pid := s.Pid()
	waittest.Returns(t, 3*time.Second, "Close", s.Close)
	waittest.Returns(t, time.Second, "Close", s.Close) // idempotent
	if proctest.Alive(pid) {
		t.Fatalf("Xvfb (pid %d) still runs after Close: %s", pid, proctest.Command(pid))
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done() not closed after Close")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err() after Close = %v, want nil", err)
	}
	unix, _ := os.ReadFile("/proc/net/unix")
	if bytes.Contains(unix, []byte(fmt.Sprintf("@/tmp/.X11-unix/X%d\n", s.Number()))) {
		t.Errorf("abstract socket of %s still listed after Close", s.Name())
	}
	for _, f := range []string{fmt.Sprintf("/tmp/.X%d-lock", s.Number()), fmt.Sprintf("/tmp/.X11-unix/X%d", s.Number())} {
		if b, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(b)) == fmt.Sprint(pid) {
			t.Errorf("%s left behind", f)
		}
	}
}

func TestDoneWhenXvfbDies(t *testing.T) {
	proctest.Need(t, "Xvfb")
	s := start(t, 320, 240)
	if err := syscall.Kill(s.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done() not closed 5 s after Xvfb was killed")
	}
	err := s.Err()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Err() = %v, want the exit status (killed)", err)
	}
}

func TestStartErrors(t *testing.T) {
	proctest.Need(t, "Xvfb")
	for _, size := range [][2]int{{0, 720}, {1280, -1}, {8, 8}, {100000, 720}} {
		if s, err := Start(context.Background(), size[0], size[1]); !errors.Is(err, errBadSize) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Start(%dx%d) error = %v, want a size error", size[0], size[1], err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s, err := Start(ctx, 320, 240); !errors.Is(err, context.Canceled) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Start with a canceled context: %v, want context.Canceled", err)
	}
}

func TestXvfbMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background(), 320, 240)
	if err == nil || err.Error() != "virtual screen: Xvfb not found: run make deps" {
		t.Fatalf("Start without Xvfb: %v", err)
	}
}

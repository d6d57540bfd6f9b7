// Package display runs the Xvfb virtual screens that composites render on.
package display

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"roomcast/engine/internal/child"
	"roomcast/engine/internal/tail"
)

// Limits of a screen. Xvfb itself accepts up to 32767, but nothing we
// encode goes past 4K, and a typo such as 19200x1080 would cost gigabytes.
const (
	minSize = 16
	maxSize = 7680
)

// How long Start waits for Xvfb to report its display number. It answers in
// 10-60 ms on a 2-core box; the rest is headroom for a machine that is busy
// compiling.
const startTimeout = 10 * time.Second

// How long Close waits for Xvfb to exit after SIGTERM before it sends SIGKILL.
// Xvfb exits in a few milliseconds.
const stopTimeout = 3 * time.Second

var (
	errNotFound = errors.New("virtual screen: Xvfb not found: run make deps")
	errBadSize  = errors.New("bad screen size")
)

// Screen is one Xvfb server with one screen of a fixed size. Clients reach it
// through the abstract socket @/tmp/.X11-unix/X<N> (Xvfb listens on nothing
// else), so anything that connects with libX11 or libxcb on Linux, such as
// Chromium, ximagesrc or ffmpeg's x11grab, works with Name.
type Screen struct {
	number        int
	width, height int
	proc          *child.Process
	stderr        *tail.Buffer // Xvfb's last words, for error messages

	closing   atomic.Bool // set when Close begins
	closeOnce sync.Once
	closeErr  error
}

// Start runs Xvfb with one width x height x 24 screen and waits until it
// accepts X11 connections. Xvfb picks a free display number itself
// (-displayfd) by binding the abstract socket of each number in turn, so two
// Starts at once, in this process or another, never get the same display.
// With -displayfd Xvfb writes no /tmp/.X<N>-lock file.
//
// ctx bounds the start only; the screen runs until Close.
//
// The X cursor is never part of the screen's pixels, but capture tools draw
// it in by default from the XFixes cursor image (Chromium's arrow, in the
// middle of the screen): use ximagesrc show-pointer=false, x11grab
// -draw_mouse 0. Xvfb's -nocursor does not change that, so it is not used.
func Start(ctx context.Context, width, height int) (*Screen, error) {
	if width < minSize || height < minSize || width > maxSize || height > maxSize {
		return nil, fmt.Errorf("%w %dx%d: width and height must be within %d..%d", errBadSize, width, height, minSize, maxSize)
	}
	path, err := exec.LookPath("Xvfb")
	if err != nil {
		return nil, errNotFound
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start Xvfb: %w", err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start Xvfb: %w", err)
	}
	defer r.Close()

	s := &Screen{
		width:  width,
		height: height,
		stderr: &tail.Buffer{Max: 4096},
	}
	cmd := exec.Command(path,
		"-displayfd", "3", // ExtraFiles[0]
		"-screen", "0", fmt.Sprintf("%dx%dx24", width, height),
		"-ac",
		// An X server resets when its last client leaves, and with it
		// the root window's background (the composite's slate): between a
		// crashed browser and its successor the capture may be the only
		// client, and before the browser, none.
		"-noreset",
		"-nolisten", "tcp",
		"-nolisten", "unix",
	)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = s.stderr
	if s.proc, err = child.Start(cmd); err != nil {
		w.Close()
		return nil, fmt.Errorf("start Xvfb: %w", err)
	}
	w.Close() // Xvfb holds its own copy

	number, err := s.readDisplayFD(ctx, r)
	if err == nil {
		s.number = number
		err = s.ping(ctx)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// readDisplayFD waits for the line "<N>\n" that Xvfb writes on -displayfd once
// it listens.
func (s *Screen) readDisplayFD(ctx context.Context, r *os.File) (int, error) {
	type result struct {
		line string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		got <- result{line, err}
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case res := <-got:
		if res.err != nil {
			// EOF: Xvfb exited without a display.
			<-s.proc.Done()
			return 0, fmt.Errorf("virtual screen: Xvfb exited before it reported a display (%v): %s", s.proc.Err(), s.stderr.String())
		}
		n, err := strconv.Atoi(strings.TrimSpace(res.line))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("virtual screen: Xvfb reported display %q: not a number", strings.TrimSpace(res.line))
		}
		return n, nil
	case <-timer.C:
		return 0, fmt.Errorf("virtual screen: Xvfb did not report a display within %v: %s", startTimeout, s.stderr.String())
	case <-ctx.Done():
		return 0, fmt.Errorf("start Xvfb: %w", ctx.Err())
	}
}

// ping opens an X11 connection on the abstract socket, as a client would, and
// checks that the server accepts it (connection setup reply "Success").
func (s *Screen) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", "@/tmp/.X11-unix/X"+strconv.Itoa(s.number))
	if err != nil {
		return fmt.Errorf("virtual screen: Xvfb %s does not answer: %w", s.Name(), err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// xConnClientPrefix: byte order 'l' (LSB first), unused, protocol 11.0,
	// no authorization name or data (-ac), unused.
	setup := []byte{'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := conn.Write(setup); err != nil {
		return fmt.Errorf("virtual screen: Xvfb %s does not answer: %w", s.Name(), err)
	}
	var status [1]byte
	if _, err := io.ReadFull(conn, status[:]); err != nil {
		return fmt.Errorf("virtual screen: Xvfb %s does not answer: %w", s.Name(), err)
	}
	if status[0] != 1 { // 0 Failed, 2 Authenticate
		return fmt.Errorf("virtual screen: Xvfb %s refused an X11 connection (setup status %d)", s.Name(), status[0])
	}
	return nil
}

// Name is the X display name, ":N", for DISPLAY, ximagesrc's display-name
// and ffmpeg's x11grab.
func (s *Screen) Name() string { return ":" + strconv.Itoa(s.number) }

// Number is N in ":N".
func (s *Screen) Number() int { return s.number }

// Width is the screen's width in pixels.
func (s *Screen) Width() int { return s.width }

// Height is the screen's height in pixels.
func (s *Screen) Height() int { return s.height }

// Pid is the process id of Xvfb.
func (s *Screen) Pid() int { return s.proc.Pid() }

// Done is closed when Xvfb has exited, whether Close stopped it or not.
func (s *Screen) Done() <-chan struct{} { return s.proc.Done() }

// Err says why Xvfb exited: nil while it runs and after Close, otherwise
// its exit status and last output.
func (s *Screen) Err() error {
	select {
	case <-s.proc.Done():
	default:
		return nil
	}
	if s.closing.Load() {
		return nil
	}
	return fmt.Errorf("virtual screen: Xvfb %s exited (%v): %s", s.Name(), s.proc.Err(), s.stderr.String())
}

// Close stops Xvfb (SIGTERM, then SIGKILL after 3 s), waits for it to exit
// and removes the lock and socket files of its display if they are left. It
// is safe to call more than once and from several goroutines; later calls
// return the first call's result.
func (s *Screen) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.closeErr = s.stop()
	})
	return s.closeErr
}

func (s *Screen) stop() error {
	s.proc.Stop(stopTimeout)
	// With -displayfd and -nolisten unix Xvfb makes neither file; remove
	// them anyway if they name our server, in case a future Xvfb does.
	lock := fmt.Sprintf("/tmp/.X%d-lock", s.number)
	if b, err := os.ReadFile(lock); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(s.Pid()) {
		if err := os.Remove(lock); err != nil {
			return fmt.Errorf("close Xvfb %s: %w", s.Name(), err)
		}
	}
	return nil
}

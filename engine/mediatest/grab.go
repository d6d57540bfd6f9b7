package mediatest

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Grab takes one screenshot of the X display (":N") of width x height
// pixels with ffmpeg's x11grab, without the mouse pointer. Starting ffmpeg
// costs 0.3 s on an idle 2-core box and seconds on a busy one: to watch a
// screen change, use a Grabber.
func Grab(display string, width, height int) (*image.RGBA, error) {
	out, err := exec.Command("ffmpeg", grabArgs(display, width, height, 0)...).Output()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg x11grab of %s: %w: %s", display, err, stderrOf(err))
	}
	if len(out) != width*height*4 {
		return nil, fmt.Errorf("ffmpeg x11grab of %s: %d bytes, want %d for %dx%d RGBA", display, len(out), width*height*4, width, height)
	}
	return toRGBA(out, width, height), nil
}

// grabArgs are ffmpeg's arguments for raw RGBA frames of display on
// stdout: one frame (fps 0) or a stream at fps. No probing: x11grab's
// format is known, and probing reads frames.
func grabArgs(display string, width, height, fps int) []string {
	args := []string{"-v", "error", "-probesize", "32", "-analyzeduration", "0", "-f", "x11grab", "-draw_mouse", "0",
		"-video_size", strconv.Itoa(width) + "x" + strconv.Itoa(height)}
	if fps > 0 {
		args = append(args, "-framerate", strconv.Itoa(fps))
	}
	args = append(args, "-i", display)
	if fps == 0 {
		args = append(args, "-frames:v", "1")
	}
	return append(args, "-f", "rawvideo", "-pix_fmt", "rgba", "-")
}

// toRGBA wraps raw RGBA bytes; x11grab's alpha is undefined (often 0), and
// a screen is opaque.
func toRGBA(raw []byte, width, height int) *image.RGBA {
	img := &image.RGBA{Pix: raw, Stride: 4 * width, Rect: image.Rect(0, 0, width, height)}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xff
	}
	return img
}

// Frame is one screenshot from a Grabber and when it was taken (when
// ffmpeg had delivered it: at most one frame interval after the screen
// looked like this).
type Frame struct {
	Img *image.RGBA
	At  time.Time
}

// Grabber watches an X display through one long-running ffmpeg x11grab,
// so that a test can poll the screen every frame interval instead of
// paying ffmpeg's start for each screenshot. Close must be called.
type Grabber struct {
	cmd    *exec.Cmd
	stderr *strings.Builder

	mu     sync.Mutex
	cond   *sync.Cond
	seq    uint64
	last   Frame
	err    error // why the stream ended
	done   chan struct{}
	closed sync.Once
}

// StartGrabber runs ffmpeg x11grab on display at fps frames a second.
func StartGrabber(display string, width, height, fps int) (*Grabber, error) {
	if fps <= 0 {
		return nil, fmt.Errorf("grabber: fps %d, want > 0", fps)
	}
	cmd := exec.Command("ffmpeg", grabArgs(display, width, height, fps)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	g := &Grabber{cmd: cmd, stderr: &strings.Builder{}, done: make(chan struct{})}
	g.cond = sync.NewCond(&g.mu)
	cmd.Stderr = g.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("grabber: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("grabber: start ffmpeg: %w", err)
	}
	go g.read(out, width, height)
	return g, nil
}

func (g *Grabber) read(out io.Reader, width, height int) {
	defer close(g.done)
	var err error
	for {
		buf := make([]byte, width*height*4)
		if _, err = io.ReadFull(out, buf); err != nil {
			break
		}
		f := Frame{Img: toRGBA(buf, width, height), At: time.Now()}
		g.mu.Lock()
		g.seq++
		g.last = f
		g.cond.Broadcast()
		g.mu.Unlock()
	}
	werr := g.cmd.Wait()
	g.mu.Lock()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("ffmpeg x11grab ended (%v): %s", werr, strings.TrimSpace(g.stderr.String()))
	}
	g.err = err
	g.cond.Broadcast()
	g.mu.Unlock()
}

// Next returns the first frame whose grab began after the call (the second
// one delivered from then on), or an error if ctx ends or ffmpeg stopped.
func (g *Grabber) Next(ctx context.Context) (Frame, error) {
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	})
	defer stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	want := g.seq + 2
	for g.seq < want {
		if g.err != nil {
			return Frame{}, g.err
		}
		if err := ctx.Err(); err != nil {
			return Frame{}, fmt.Errorf("waiting for a screenshot: %w", err)
		}
		g.cond.Wait()
	}
	return g.last, nil
}

// Close stops ffmpeg and waits for it. Safe to call more than once.
func (g *Grabber) Close() error {
	g.closed.Do(func() {
		_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
		<-g.done
	})
	return nil
}

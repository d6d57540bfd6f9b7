// Package audiotest plays and records PulseAudio streams in tests.
package audiotest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"roomcast/engine/proctest"
)

// Rate is the sample rate of every recording and tone: mono, 48 kHz.
const Rate = 48000

// Recording is a recorder process writing mono s16le at Rate to us.
type Recording struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd

	stopOnce sync.Once

	mu     sync.Mutex
	pcm    []byte
	more   chan struct{} // a token after each read
	done   chan struct{} // closed when the recorder's output ends
	stderr bytes.Buffer
}

// Record records source on server with parec. The test stops it at the end.
func Record(t testing.TB, server, source string) *Recording {
	t.Helper()
	proctest.Need(t, "parec")
	return start(t, "parec "+source, exec.Command("parec", "--server="+server, "--device="+source,
		"--format=s16le", "--rate="+strconv.Itoa(Rate), "--channels=1", "--latency-msec=20", "--raw"))
}

// RecordPulsesrc records source on server with GStreamer's pulsesrc, the
// element the capture pipeline uses, with server given as its server
// property.
func RecordPulsesrc(t testing.TB, server, source string) *Recording {
	t.Helper()
	proctest.Need(t, "gst-launch-1.0")
	return start(t, "pulsesrc "+source, exec.Command("gst-launch-1.0", "-q",
		"pulsesrc", "server="+server, "device="+source, "!",
		"audioconvert", "!", "audioresample", "!",
		fmt.Sprintf("audio/x-raw,format=S16LE,rate=%d,channels=1", Rate), "!",
		"fdsink", "fd=1", "sync=false"))
}

func start(t testing.TB, name string, cmd *exec.Cmd) *Recording {
	t.Helper()
	r := &Recording{t: t, name: name, cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	cmd.Stderr = &syncWriter{mu: &r.mu, w: &r.stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go r.read(out)
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *Recording) read(out io.Reader) {
	defer close(r.done)
	buf := make([]byte, 8192)
	for {
		n, err := out.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.pcm = append(r.pcm, buf[:n]...)
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// WaitFor blocks until the recorder has delivered d more audio than it had
// when WaitFor was called. It fails the test if that takes 10 s longer
// than d.
func (r *Recording) WaitFor(d time.Duration) {
	r.t.Helper()
	want := r.bytes() + int(d.Seconds()*Rate)*2
	deadline := time.NewTimer(d + 10*time.Second)
	defer deadline.Stop()
	for r.bytes() < want {
		select {
		case <-r.more:
		case <-r.done:
			r.t.Fatalf("%s stopped after %d bytes: %s", r.name, r.bytes(), r.stderrText())
		case <-deadline.C:
			r.t.Fatalf("%s delivered %d of %d bytes within %v: %s", r.name, r.bytes(), want, d+10*time.Second, r.stderrText())
		}
	}
}

// Samples stops the recorder and returns what it recorded, in [-1, 1].
func (r *Recording) Samples() []float64 {
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := make([]float64, len(r.pcm)/2)
	for i := range s {
		s[i] = float64(int16(binary.LittleEndian.Uint16(r.pcm[2*i:]))) / 32768
	}
	return s
}

func (r *Recording) stop() {
	r.stopOnce.Do(func() {
		r.cmd.Process.Kill()
		<-r.done // read everything before Wait closes the pipe
		r.cmd.Wait()
	})
}

func (r *Recording) bytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pcm)
}

func (r *Recording) stderrText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

// Play plays samples (mono, Rate) with pacat and returns once they have
// been played out. env is added to pacat's environment: a sink's Env()
// (PULSE_SERVER, PULSE_SINK) says where it plays, as it does for Chromium.
func Play(t testing.TB, env []string, samples []float64) {
	t.Helper()
	proctest.Need(t, "pacat")
	pcm := make([]byte, 2*len(samples))
	for i, v := range samples {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(math.Round(max(-1, min(1, v))*32767))))
	}
	dur := time.Duration(len(samples)) * time.Second / Rate
	ctx, cancel := context.WithTimeout(context.Background(), dur+20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pacat", "--playback", "--format=s16le",
		"--rate="+strconv.Itoa(Rate), "--channels=1", "--raw")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(pcm)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pacat: %v: %s", err, out)
	}
}

// Sine is d of a sine at hz with amplitude amp, at Rate.
func Sine(hz, amp float64, d time.Duration) []float64 {
	s := make([]float64, int(d.Seconds()*Rate))
	for i := range s {
		s[i] = amp * math.Sin(2*math.Pi*hz*float64(i)/Rate)
	}
	return s
}

// Blocks cuts samples into consecutive blocks of d (the rest is dropped).
func Blocks(samples []float64, d time.Duration) [][]float64 {
	n := int(d.Seconds() * Rate)
	var out [][]float64
	for i := 0; i+n <= len(samples); i += n {
		out = append(out, samples[i:i+n])
	}
	return out
}

// Peak is the largest absolute sample.
func Peak(samples []float64) float64 {
	var p float64
	for _, v := range samples {
		p = max(p, math.Abs(v))
	}
	return p
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

//go:build integration

package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"

	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
)

// buildRoomcast compiles the command under test once per test binary.
func buildRoomcast(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "roomcast")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func writeRequest(t *testing.T, dir, json string) string {
	t.Helper()
	path := filepath.Join(dir, "request.json")
	if err := os.WriteFile(path, []byte(json), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startRoomcast runs the command with its stderr scanned line by line, so
// the test can wait for a line; stdout is collected.
func startRoomcast(t *testing.T, bin string, args ...string) (*exec.Cmd, *bytes.Buffer, <-chan string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout := &bytes.Buffer{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log("roomcast: " + sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	return cmd, stdout, lines
}

func waitLine(t *testing.T, lines <-chan string, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("roomcast exited before printing %q", substr)
			}
			if strings.Contains(l, substr) {
				return
			}
		case <-deadline:
			t.Fatalf("roomcast did not print %q within %s", substr, timeout)
		}
	}
}

// TestRecordCommand: `roomcast record --demo --duration` finalises the file,
// prints the final EgressInfo as protojson and exits 0.
func TestRecordCommand(t *testing.T) {
	bin := buildRoomcast(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "rec.mp4")
	req := writeRequest(t, dir, `{"room_name": "demo", "layout": "grid", "file_outputs": [{"filepath": "`+out+`"}]}`)
	cmd, stdout, lines := startRoomcast(t, bin, "record", "--demo", "--duration", "4s", req)
	go func() {
		for range lines {
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("roomcast record exited with %v", err)
	}
	var info livekit.EgressInfo
	if err := protojson.Unmarshal(stdout.Bytes(), &info); err != nil {
		t.Fatalf("stdout is not an EgressInfo: %v\n%s", err, stdout.String())
	}
	if info.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(info.FileResults) != 1 || info.FileResults[0].Filename != out {
		t.Fatalf("final info = %v", &info)
	}
	p, err := mediatest.ProbeFile(out, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Duration(); d < 3.5 || d > 5 {
		t.Errorf("duration %.2f s, want about 4", d)
	}
}

// TestRecordCommandBadRequest: a bad request is one clear line and a
// non-zero exit, before anything starts.
func TestRecordCommandBadRequest(t *testing.T) {
	bin := buildRoomcast(t)
	dir := t.TempDir()
	req := writeRequest(t, dir, `{"room_name": "demo", "preset": "H264_720", "file_outputs": [{"filepath": "x.mp4"}]}`)
	out, err := exec.Command(bin, "record", req).CombinedOutput()
	if err == nil {
		t.Fatal("roomcast record accepted a bad preset")
	}
	if !strings.Contains(string(out), "preset") || !strings.Contains(string(out), "H264_720P_30") {
		t.Errorf("error output %q does not name the field and the presets", out)
	}
}

// TestRecordSurvivesSIGKILL: a recording killed with SIGKILL 6 s in leaves
// a file that decodes for at least 5 s, and no process behind.
func TestRecordSurvivesSIGKILL(t *testing.T) {
	bin := buildRoomcast(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "killed.mp4")
	req := writeRequest(t, dir, `{"room_name": "demo", "file_outputs": [{"filepath": "`+out+`"}]}`)
	cmd, _, lines := startRoomcast(t, bin, "record", "--demo", req)
	waitLine(t, lines, "EGRESS_ACTIVE", 60*time.Second)
	time.Sleep(6 * time.Second) // the recording to lose
	children := proctest.Descendants(cmd.Process.Pid)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	go func() {
		for range lines {
		}
	}()

	frames, err := decodedFrames(out)
	if err != nil {
		t.Fatalf("the killed recording does not decode: %v", err)
	}
	if secs := float64(frames) / 30; secs < 5 {
		t.Errorf("the killed recording decodes for %.2f s (%d frames), want at least 5 s", secs, frames)
	} else {
		t.Logf("the killed recording decodes for %.2f s of the 6 s recorded", secs)
	}

	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range children {
		for proctest.Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if proctest.Alive(pid) {
			t.Errorf("process %d (%s) outlived the killed roomcast", pid, proctest.Command(pid))
		}
	}
}

// decodedFrames decodes every video frame of path with ffmpeg.
func decodedFrames(path string) (int, error) {
	p, err := mediatest.ProbeFile(path, true)
	if err != nil {
		return 0, err
	}
	v := p.First("video")
	if v == nil {
		return 0, io.ErrUnexpectedEOF
	}
	return v.Frames(), nil
}

// TestDemoCommand: `roomcast demo` prints the three exports and stops
// cleanly on Ctrl-C.
func TestDemoCommand(t *testing.T) {
	bin := buildRoomcast(t)
	cmd, stdout, lines := startRoomcast(t, bin, "demo", "--participants", "2")
	waitLine(t, lines, "is live with 2 participants", 60*time.Second)
	for _, v := range []string{"export LIVEKIT_URL=ws://127.0.0.1:", "export LIVEKIT_API_KEY=", "export LIVEKIT_API_SECRET="} {
		if !strings.Contains(stdout.String(), v) {
			t.Errorf("stdout lacks %q:\n%s", v, stdout.String())
		}
	}
	children := proctest.Descendants(cmd.Process.Pid)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("roomcast demo exited with %v after Ctrl-C", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("roomcast demo did not stop within 15 s of Ctrl-C")
	}
	for _, pid := range children {
		if proctest.Alive(pid) {
			t.Errorf("process %d (%s) left after roomcast demo stopped", pid, proctest.Command(pid))
		}
	}
}

//go:build integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"image/color"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"google.golang.org/protobuf/encoding/protojson"

	"roomcast/engine"
	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/display"
	"roomcast/engine/hooks/hookstest"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/engine/storage/s3test"
	"roomcast/engine/waittest"
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
func startRoomcast(t *testing.T, bin string, args ...string) (*exec.Cmd, *syncBuffer, <-chan string) {
	t.Helper()
	return startRoomcastEnv(t, bin, nil, args...)
}

// startRoomcastEnv is startRoomcast with variables added to the environment.
func startRoomcastEnv(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, *syncBuffer, <-chan string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	return cmd, stdout, startCmd(t, cmd)
}

// startCmd starts cmd, logs its stderr and hands its lines over (it is
// killed at the end of the test if it still runs).
func startCmd(t *testing.T, cmd *exec.Cmd) <-chan string {
	t.Helper()
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
	return lines
}

func waitLine(t *testing.T, lines <-chan string, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("roomcast exited before printing %q", substr)
			}
			if strings.Contains(l, substr) {
				return l
			}
		case <-deadline:
			t.Fatalf("roomcast did not print %q within %s", substr, timeout)
		}
	}
}

// finalInfo drains cmd's stderr, waits for it to exit 0 and returns the
// EgressInfo it printed on stdout, and its stderr.
func finalInfo(t *testing.T, cmd *exec.Cmd, stdout *syncBuffer, lines <-chan string) (*livekit.EgressInfo, string) {
	t.Helper()
	var stderr strings.Builder
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for l := range lines {
			stderr.WriteString(l + "\n")
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("roomcast record exited with %v", err)
	}
	<-drained
	var info livekit.EgressInfo
	if err := protojson.Unmarshal(stdout.Bytes(), &info); err != nil {
		t.Fatalf("stdout is not an EgressInfo: %v\n%s", err, stdout.String())
	}
	return &info, stderr.String()
}

// TestRecordCommand: `roomcast record --demo --duration` finalises the file,
// prints the final EgressInfo as protojson and exits 0.
func TestRecordCommand(t *testing.T) {
	bin := buildRoomcast(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "rec.mp4")
	req := writeRequest(t, dir, `{"room_name": "demo", "layout": "grid", "file_outputs": [{"filepath": "`+out+`"}]}`)
	cmd, stdout, lines := startRoomcast(t, bin, "record", "--demo", "--duration", "4s", req)
	info, _ := finalInfo(t, cmd, stdout, lines)
	if info.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(info.FileResults) != 1 || info.FileResults[0].Filename != out {
		t.Fatalf("final info = %v", info)
	}
	p, err := mediatest.ProbeFile(out, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Duration(); d < 3.5 || d > 5 {
		t.Errorf("duration %.2f s, want about 4", d)
	}
}

// TestRecordCommandDefaultStorage: the config file's storage.s3 bucket
// takes a request's file that names no storage; the recording lands in a
// real S3 server (versitygw on loopback) and decodes; the secret is never
// printed.
func TestRecordCommandDefaultStorage(t *testing.T) {
	bin := buildRoomcast(t)
	s3 := s3test.Start(t, "shows")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	yaml := "storage:\n  s3:\n    endpoint: " + s3.Endpoint + "\n    region: " + s3test.Region +
		"\n    bucket: shows\n    access_key: " + s3.AccessKey + "\n    force_path_style: true\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	req := writeRequest(t, dir, `{"room_name": "demo", "file_outputs": [{"filepath": "{room_name}/take1.mp4"}]}`)
	// The secret comes from the environment, as a deployment would keep it.
	cmd, stdout, lines := startRoomcastEnv(t, bin, []string{"ROOMCAST_STORAGE_S3_SECRET=" + s3.Secret},
		"record", "--demo", "--duration", "4s", "--output-dir", dir, "--config", cfg, req)
	info, stderr := finalInfo(t, cmd, stdout, lines)
	if info.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(info.FileResults) != 1 || !strings.Contains(info.FileResults[0].Location, "shows") {
		t.Fatalf("final info = %v, want COMPLETE with the file in bucket shows", info)
	}
	if out := stdout.String() + stderr; strings.Contains(out, s3.Secret) {
		t.Error("the S3 secret was printed")
	}
	data, _, err := s3.GetObject(context.Background(), "shows", "demo/take1.mp4")
	if err != nil {
		t.Fatalf("the recording is not in the bucket: %v", err)
	}
	local := filepath.Join(t.TempDir(), "take1.mp4")
	if err := os.WriteFile(local, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := mediatest.ProbeFile(local, true)
	if err != nil {
		t.Fatal(err)
	}
	if v := p.First("video"); v == nil || v.CodecName != "h264" || v.Width != 1280 || math.Abs(p.Duration()-4) > 1 {
		t.Errorf("the uploaded file: video %+v, %.2f s; want h264 1280 wide, about 4 s", v, p.Duration())
	}
	t.Logf("uploaded to %s: %d bytes, %.2f s", info.FileResults[0].Location, len(data), p.Duration())
}

// TestRecordCommandTracks: "record --type track|participant|track-composite"
// takes the JSON "lk egress start" takes of that type, from a LiveKit
// server named by LIVEKIT_URL and its key: bob's camera copied as sent is
// a WebM of VP8 under the name given plus the codec's extension; bob as a
// participant, and alice's camera with bob's microphone, are MP4s of the
// camera's colour; each as long as asked.
func TestRecordCommandTracks(t *testing.T) {
	bin := buildRoomcast(t)
	d := demotest.Start(t, demo.Options{Participants: 2})
	alice, bob := d.Participants()[0], d.Participants()[1]
	tracks := demotest.Tracks(t, d)
	dir := t.TempDir()
	for _, c := range []struct {
		kind, request, file string
		codec               string
		color               color.RGBA
	}{
		{"track", `"track_id": "` + tracks[bob.Identity][livekit.TrackType_VIDEO].Sid + `", "file": {"filepath": "` + filepath.Join(dir, "bob") + `"}`,
			"bob.webm", "vp8", bob.Color},
		{"participant", `"identity": "` + bob.Identity + `", "file_outputs": [{"filepath": "` + filepath.Join(dir, "bob.mp4") + `"}]`,
			"bob.mp4", "h264", bob.Color},
		{"track-composite", `"video_track_id": "` + tracks[alice.Identity][livekit.TrackType_VIDEO].Sid + `", "audio_track_id": "` + tracks[bob.Identity][livekit.TrackType_AUDIO].Sid +
			`", "preset": "H264_720P_30", "file_outputs": [{"filepath": "` + filepath.Join(dir, "alice-bob.mp4") + `"}]`,
			"alice-bob.mp4", "h264", alice.Color},
	} {
		t.Run(c.kind, func(t *testing.T) {
			req := writeRequest(t, dir, `{"room_name": "`+d.Room()+`", `+c.request+`}`)
			cmd, stdout, lines := startRoomcastEnv(t, bin, []string{"LIVEKIT_URL=" + d.URL(), "LIVEKIT_API_KEY=" + d.APIKey(), "LIVEKIT_API_SECRET=" + d.APISecret()},
				"record", "--type", c.kind, "--duration", "3s", req)
			info, _ := finalInfo(t, cmd, stdout, lines)
			want := filepath.Join(dir, c.file)
			if info.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(info.FileResults) != 1 || info.FileResults[0].Filename != want {
				t.Fatalf("final info = %v, want COMPLETE with %s", info, want)
			}
			p, err := mediatest.ProbeFile(want, true)
			if err != nil {
				t.Fatal(err)
			}
			if v := p.First("video"); v == nil || v.CodecName != c.codec || v.Frames() < 2*25 || math.Abs(p.Duration()-3) > 1 {
				t.Errorf("video %+v, %.2f s; want %s, about 3 s", v, p.Duration(), c.codec)
			}
			frame, err := mediatest.FrameAt(want, 1.5)
			if err != nil {
				t.Fatal(err)
			}
			if !mediatest.Contains(frame, c.color, 40, 8) {
				t.Errorf("no %v in the frame at 1.5 s", c.color)
			}
		})
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

// TestHelp: the top-level help lists every command with its summary, each
// command has its own help with its flags, and none of it is preceded by
// Fyne's locale complaints under LANG=C.UTF-8 (Debian's containers and
// CI), which it printed before main ran.
func TestHelp(t *testing.T) {
	bin := buildRoomcast(t)
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "LANG" && k != "LC_ALL" && k != "LC_MESSAGES" && k != "LANGUAGE" {
			env = append(env, kv)
		}
	}
	env = append(env, "LANG=C.UTF-8")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"roomcast demo [flags]", "roomcast record [flags] REQUEST", "roomcast serve [flags]", "roomcast help [COMMAND]", "--remote"}},
		{[]string{"help"}, []string{"roomcast record [flags] REQUEST", "run one egress"}},
		{[]string{"help", "record"}, []string{"Usage: roomcast record [flags] REQUEST", "--duration", "--api-key"}},
		{[]string{"serve", "--help"}, []string{"Usage: roomcast serve [flags]", "--webhook-url", "--cpus", "--redis"}},
		{[]string{"help", "demo"}, []string{"Usage: roomcast demo [flags]", "--participants"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = env
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %v\n%s", tc.args, err, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr under LANG=C.UTF-8: %q, want nothing", stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"serve", "--listen", ""}, "give the Egress API an address, or a LiveKit deployment's Redis"},
	} {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: %v %q, want an error saying %q", c.args, err, out, c.want)
		}
	}
}

// TestPackagedStudioStartsItsDemo: the studio laid out as `make package`
// lays it out (roomcast and livekit-server in usr/local/bin, as fyne's
// tarball and its install rule put them), started from another folder with
// no repository around it, no server on the PATH and no configuration,
// starts its demo room and shows it: the preview's composite comes up.
// SIGTERM then quits it cleanly.
func TestPackagedStudioStartsItsDemo(t *testing.T) {
	server, err := demo.FindServer()
	if err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(t.TempDir(), "roomcast", "usr", "local", "bin")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ from, to string }{{buildRoomcast(t), "roomcast"}, {server, "livekit-server"}} {
		if out, err := exec.Command("install", "-m", "0755", f.from, filepath.Join(tree, f.to)).CombinedOutput(); err != nil {
			t.Fatalf("install %s: %v %s", f.to, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	screen, err := display.Start(ctx, 1280, 800)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { screen.Close() })
	home := t.TempDir()
	cmd := exec.Command(filepath.Join(tree, "roomcast"))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "DISPLAY="+screen.Name(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "ROOMCAST_LIVEKIT_SERVER=", "LIVEKIT_URL=", "LIVEKIT_API_KEY=", "LIVEKIT_API_SECRET=")
	lines := startCmd(t, cmd)
	waitLine(t, lines, "up in", 90*time.Second) // "composite demo/grid@1280x720p30 up in ..."
	began := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exitWithin(t, cmd, lines, 30*time.Second, "the studio on SIGTERM")
	t.Logf("quit %v after SIGTERM", time.Since(began).Round(time.Millisecond))
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
		st, _ := os.Stat(out)
		t.Fatalf("the killed recording (%v bytes) does not decode: %v", st.Size(), err)
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
	// stdout is copied by its own goroutine: wait for the exports rather
	// than read it the moment stderr said the room is live.
	wanted := []string{"export LIVEKIT_URL=ws://127.0.0.1:", "export LIVEKIT_API_KEY=", "export LIVEKIT_API_SECRET="}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, missing := stdout.String(), ""
		for _, v := range wanted {
			if !strings.Contains(out, v) {
				missing = v
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stdout lacks %q:\n%s", missing, out)
		}
		time.Sleep(50 * time.Millisecond)
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

// exportValue reads `export NAME=value` from roomcast's stdout, which is
// copied by another goroutine and may lag behind stderr a little.
func exportValue(t *testing.T, stdout *syncBuffer, name string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, l := range strings.Split(stdout.String(), "\n") {
			if v, ok := strings.CutPrefix(l, "export "+name+"="); ok {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stdout lacks export %s:\n%s", name, stdout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exitWithin waits for cmd to exit, draining its lines, and fails the test
// unless it exits 0 within timeout.
func exitWithin(t *testing.T, cmd *exec.Cmd, lines <-chan string, timeout time.Duration, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s exited with %v", what, err)
		}
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %s", what, timeout)
	}
}

// TestServeAndRemoteRecord: `roomcast record --remote` records through
// another process's `roomcast serve --demo`; Ctrl-C on the client stops
// the egress on the server; Ctrl-C on the server finishes its running
// egress before it exits; its webhooks verify.
func TestServeAndRemoteRecord(t *testing.T) {
	bin := buildRoomcast(t)
	dir := t.TempDir()
	hooks, hookURL := hookstest.New(t, "", "")
	serve, serveOut, serveLines := startRoomcast(t, bin, "serve", "--demo", "--participants", "2",
		"--listen", "127.0.0.1:0", "--cpus", "1", "--webhook-url", hookURL)
	line := waitLine(t, serveLines, "Egress API on http://", 60*time.Second)
	apiURL := strings.Fields(line[strings.Index(line, "http://"):])[0]
	key, secret := exportValue(t, serveOut, "LIVEKIT_API_KEY"), exportValue(t, serveOut, "LIVEKIT_API_SECRET")
	hooks.SetKeys(key, secret)
	serveChildren := proctest.Descendants(serve.Process.Pid)
	sdk := lksdk.NewEgressClient(apiURL, key, secret)
	remote, err := engine.NewRemote(engine.RemoteConfig{URL: apiURL, APIKey: key, APISecret: secret})
	if err != nil {
		t.Fatal(err)
	}

	// The client: credentials from the environment, as LiveKit's tools take them.
	out := filepath.Join(dir, "remote.mp4")
	req := writeRequest(t, dir, `{"room_name": "demo", "layout": "grid", "file_outputs": [{"filepath": "`+out+`"}]}`)
	rec, recOut, recLines := startRoomcastEnv(t, bin, []string{"LIVEKIT_API_KEY=" + key, "LIVEKIT_API_SECRET=" + secret}, "record", "--remote", apiURL, req)
	waitLine(t, recLines, "EGRESS_ACTIVE", 60*time.Second)
	time.Sleep(5 * time.Second) // the recording
	interrupted := time.Now()
	if err := rec.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	exitWithin(t, rec, recLines, 30*time.Second, "roomcast record --remote")
	var info livekit.EgressInfo
	if err := protojson.Unmarshal(recOut.Bytes(), &info); err != nil {
		t.Fatalf("stdout is not an EgressInfo: %v\n%s", err, recOut.String())
	}
	if info.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(info.FileResults) != 1 || info.FileResults[0].Filename != out {
		t.Fatalf("final info = %v", &info)
	}
	onServer := waittest.AwaitStatus(t, remote, info.EgressId, livekit.EgressStatus_EGRESS_COMPLETE, time.Second)
	demotest.VerifyRecording(t, out, 1280, 720, interrupted.Sub(time.Unix(0, onServer.StartedAt)).Seconds(), nil)

	// The server: Ctrl-C with an egress running finalises it, then exits.
	last := filepath.Join(dir, "at-exit.mp4")
	started, err := sdk.StartRoomCompositeEgress(context.Background(), &livekit.RoomCompositeEgressRequest{
		RoomName: "demo", FileOutputs: []*livekit.EncodedFileOutput{{Filepath: last}},
	})
	if err != nil {
		t.Fatal(err)
	}
	activeInfo := waittest.AwaitStatus(t, remote, started.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 60*time.Second)
	time.Sleep(3 * time.Second)
	terminated := time.Now()
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLine(t, serveLines, started.EgressId+" EGRESS_COMPLETE", 30*time.Second)
	exitWithin(t, serve, serveLines, 30*time.Second, "roomcast serve")
	t.Logf("serve exited %v after SIGTERM", time.Since(terminated).Round(time.Millisecond))
	demotest.VerifyRecording(t, last, 1280, 720, terminated.Sub(time.Unix(0, activeInfo.StartedAt)).Seconds(), nil)
	for _, id := range []string{info.EgressId, started.EgressId} {
		events := hooks.WaitEnded(t, id, 10*time.Second)
		hookstest.CheckOrder(t, events)
		if last := events[len(events)-1]; last.EgressInfo.Status != livekit.EgressStatus_EGRESS_COMPLETE {
			t.Errorf("%s ended %s, want COMPLETE", id, last.EgressInfo.Status)
		}
	}
	for _, pid := range serveChildren {
		if proctest.Alive(pid) {
			t.Errorf("process %d (%s) left after roomcast serve stopped", pid, proctest.Command(pid))
		}
	}
}

// syncBuffer collects a command's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

//go:build integration

package ui

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine/demo/demotest"
	"roomcast/engine/display"
	"roomcast/engine/launch"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/engine/rtmptest"
)

// childEnv makes the test binary run the real window (runChild) instead
// of the tests; its value is the folder for its config and recordings.
const childEnv = "ROOMCAST_UI_CHILD"

// The window's size in the screenshot, a common laptop screen.
const shotW, shotH = 1280, 800

// destsEnv passes the child the RTMP destinations to stream to, one per
// line.
const destsEnv = "ROOMCAST_UI_DESTS"

// runChild runs the real window, as Run does, on the X display in
// DISPLAY, and a script driven by the parent test through stdin and
// stdout: it says when the preview is painted and how many frames were,
// then on "script" records 5 s, then records and streams to the
// destinations, marks twice and switches the last destination off (what
// the screenshot shows); "quit" closes the window.
func runChild() int {
	dir := os.Getenv(childEnv)
	cfg := Config{
		ConfigDir: filepath.Join(dir, "config"),
		OutputDir: filepath.Join(dir, "recordings"),
		Logf:      func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) },
		Connect:   launch.Open,
	}
	if err := run(cfg, func(s *studio) { go childScript(s) }); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

func childScript(s *studio) {
	say := func(f string, a ...any) { fmt.Printf(f+"\n", a...) }
	for s.preview.painted.Load() == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	say("preview-up")
	go func() {
		for range time.Tick(time.Second) {
			say("frames %d %d", s.preview.received.Load(), s.preview.painted.Load())
		}
	}()
	// read on the UI goroutine, where the window's state lives
	get := func(f func() bool) bool {
		var v bool
		fyne.DoAndWait(func() { v = f() })
		return v
	}
	waitFor := func(f func() bool) {
		for !get(f) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "script":
			fyne.DoAndWait(s.onRecord)
			waitFor(func() bool { return s.rec.phase == active })
			time.Sleep(5 * time.Second)
			stopAt := time.Now()
			fyne.DoAndWait(s.onRecord)
			waitFor(func() bool { return s.controls.savedBox.Visible() })
			var file *livekit.FileInfo
			fyne.DoAndWait(func() { file = s.history.get(s.history.order[0]).FileResults[0] })
			// What the file holds: from its first frame's capture (a
			// stalled machine may hand it on late, after ACTIVE) to the stop.
			say("saved %.3f %s", stopAt.Sub(time.Unix(0, file.StartedAt)).Seconds(), file.Location)
			dests := strings.Fields(os.Getenv(destsEnv))
			fyne.DoAndWait(func() {
				for _, u := range dests {
					s.dests.append(u)
				}
				s.onRecord()
				s.onStream()
			})
			waitFor(func() bool {
				for _, u := range dests {
					if s.dests.byURL[u].state.Text != "live" {
						return false
					}
				}
				return s.rec.phase == active && s.live.phase == active
			})
			// What the screenshot shows besides: two markers, one
			// labelled, and the second destination switched off.
			fyne.DoAndWait(s.onMark)
			waitFor(func() bool { return len(s.markers.rows.Objects) == 1 })
			time.Sleep(1500 * time.Millisecond)
			fyne.DoAndWait(s.onMark)
			waitFor(func() bool { return len(s.markers.rows.Objects) == 2 })
			fyne.DoAndWait(func() {
				e := findEntry(s.markers.rows.Objects[0])
				e.SetText("Guest joins")
				e.OnSubmitted(e.Text)
				s.onSwitchDestination(dests[len(dests)-1], false)
			})
			waitFor(func() bool { return s.dests.byURL[dests[len(dests)-1]].state.Text == "off" })
			time.Sleep(6 * time.Second) // the timers and the status bar fill in
			var meter string
			var people int
			fyne.DoAndWait(func() { meter, people = s.meter.shown.text, len(s.people.rows) })
			say("meter %d %s", people, meter)
			var bottom, top float32
			fyne.DoAndWait(func() { bottom, top = savedAndHistory(s) })
			say("layout %.0f %.0f", bottom, top)
			say("ready")
		case "quit":
			fyne.Do(s.win.Close)
			return
		}
	}
}

// TestRealWindow runs the app's real window (GLFW, Mesa's software GL) on
// an Xvfb screen with the demo room, as `make run` does with nothing
// configured; it measures the cold start, the preview's frame rate and
// the app's CPU, records through the window (with markers, one
// destination switched off), reads its meters, and checks in a screenshot
// that the preview shows alice, bob and carol. With -update the
// screenshot becomes assets/screenshots/studio.png (the README's).
func TestRealWindow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	scr, err := display.Start(ctx, shotW, shotH)
	if err != nil {
		t.Fatal(err)
	}
	defer scr.Close()

	dir := t.TempDir()
	rtmp := rtmptest.Start(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DISPLAY="+scr.Name(), childEnv+"="+dir,
		destsEnv+"="+rtmp.URL("live_48213_Xk29fj3Q")+"\n"+rtmp.URL("backup_9b7k4hq2ut3e"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "xdg"), "FYNE_DISABLE_DPI_DETECTION=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	logf, _ := os.Create(filepath.Join(dir, "child.log"))
	defer logf.Close()
	cmd.Stderr = logf
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("child log:\n%s", tail(b, 4000))
		}
	}()

	// Cold start: until the window's background covers most of the
	// (black) screen, then until the demo room is connected (the Start
	// buttons turn violet).
	for painted := false; ; {
		img, err := grab(scr.Name())
		if err == nil && !painted && count(img, img.Bounds(), colorBackground, 2) > shotW*shotH/2 {
			t.Logf("cold start: window painted %v after exec", time.Since(began).Round(10*time.Millisecond))
			painted = true
		}
		if err == nil && painted && count(img, img.Bounds(), colorAccent, 12) > 2000 {
			t.Logf("demo room started and connected %v after exec", time.Since(began).Round(10*time.Millisecond))
			break
		}
		if time.Since(began) > 2*time.Minute {
			t.Fatalf("no window or no connection on %s after 2 minutes (%v)", scr.Name(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	expect := func(prefix string, within time.Duration) string {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the window exited waiting for %q: %v", prefix, <-exited)
				}
				if strings.HasPrefix(l, prefix) {
					return strings.TrimSpace(strings.TrimPrefix(l, prefix))
				}
			case <-deadline:
				t.Fatalf("no %q from the window within %s", prefix, within)
			}
		}
	}
	// latestFrames is the newest "frames" line (older ones are dropped).
	latestFrames := func() (received, painted uint64) {
		t.Helper()
		last := ""
		for drained := false; !drained; {
			select {
			case l := <-lines:
				if strings.HasPrefix(l, "frames") {
					last = l
				}
			default:
				drained = true
			}
		}
		if last == "" {
			last = "frames " + expect("frames", 5*time.Second)
		}
		return frameCounts(strings.TrimPrefix(last, "frames"))
	}
	expect("preview-up", 2*time.Minute)
	t.Logf("preview painted %v after exec (demo room, browser, capture)", time.Since(began).Round(10*time.Millisecond))

	// The app's CPU and the preview's rate with the preview running, over 20 s.
	time.Sleep(5 * time.Second) // past the start-up burst
	pid := cmd.Process.Pid
	r0, p0 := latestFrames()
	app0, all0, t0 := cpuSeconds(pid), treeCPU(pid), time.Now()
	time.Sleep(20 * time.Second)
	r1, p1 := latestFrames()
	app1, all1, el := cpuSeconds(pid), treeCPU(pid), time.Since(t0).Seconds()
	t.Logf("preview: %.1f frames/s from the engine, %.1f painted/s; CPU: app %.2f cores, app with Chromium, LiveKit and the demo participants %.2f cores",
		float64(r1-r0)/el, float64(p1-p0)/el, (app1-app0)/el, (all1-all0)/el)
	if float64(p1-p0)/el < 8 {
		t.Errorf("preview painted at %.1f frames/s, want about 10", float64(p1-p0)/el)
	}

	fmt.Fprintln(stdin, "script")
	var recorded float64
	var saved string
	if _, err := fmt.Sscan(expect("saved", time.Minute), &recorded, &saved); err != nil {
		t.Fatal(err)
	}
	demotest.VerifyRecording(t, saved, 1280, 720, recorded, participants())
	var metered int
	var reading string
	if _, err := fmt.Sscan(expect("meter", time.Minute), &metered, &reading); err != nil || metered != len(participants()) || !strings.HasPrefix(reading, "-") || reading == "-∞" {
		t.Errorf("meters: %d people listed, the program reads %q (%v); want everyone, and the tones in dB", metered, reading, err)
	}
	var savedBottom, historyTop float64
	if _, err := fmt.Sscan(expect("layout", time.Minute), &savedBottom, &historyTop); err != nil {
		t.Fatal(err)
	}
	if historyTop < savedBottom {
		t.Errorf("the history starts at y=%.0f, over the \"Recording saved\" lines, which end at y=%.0f", historyTop, savedBottom)
	}
	expect("ready", time.Minute)

	shot, err := grab(scr.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range participants() {
		box, n := where(shot, p.Color, 40)
		t.Logf("%s (%v): %d px in %v", p.Identity, p.Color, n, box)
		if n < 3000 || box.Min.X < 250 || box.Max.X > 950 {
			t.Errorf("the preview does not show %s: %d px in %v", p.Identity, n, box)
		}
	}
	out := filepath.Join(dir, "studio.png")
	writePNG(t, out, shot)
	if *update {
		writePNG(t, filepath.Join("..", "assets", "screenshots", "studio.png"), shot)
	}
	t.Logf("screenshot: %s", out)

	fmt.Fprintln(stdin, "quit")
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the window exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("the window did not close within 30 s")
	}
	recs, _ := filepath.Glob(filepath.Join(dir, "recordings", "*.mp4"))
	if len(recs) != 2 {
		t.Errorf("%d recordings, want 2 (the second finalised on quit): %v", len(recs), recs)
	}
	for _, key := range []string{"live_48213_Xk29fj3Q", "backup_9b7k4hq2ut3e"} {
		if n := rtmp.Received(key); n < 100_000 {
			t.Errorf("RTMP destination %s received %d bytes", key, n)
		}
	}
}

// grab takes a screenshot of the X display.
func grab(disp string) (image.Image, error) {
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "x11grab", "-draw_mouse", "0",
		"-video_size", fmt.Sprintf("%dx%d", shotW, shotH), "-i", disp,
		"-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-").Output()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg x11grab: %w", err)
	}
	return png.Decode(bytes.NewReader(out))
}

// count is how many pixels of r are within tol of c.
func count(img image.Image, r image.Rectangle, c color.NRGBA, tol int) int {
	n := 0
	want := color.RGBA{R: c.R, G: c.G, B: c.B, A: 255}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if mediatest.Near(img.At(x, y), want, tol) {
				n++
			}
		}
	}
	return n
}

// where is the bounding box and count of the pixels within tol of c.
func where(img image.Image, c color.RGBA, tol int) (image.Rectangle, int) {
	var box image.Rectangle
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if mediatest.Near(img.At(x, y), c, tol) {
				box = box.Union(image.Rect(x, y, x+1, y+1))
				n++
			}
		}
	}
	return box, n
}

func frameCounts(s string) (received, painted uint64) {
	f := strings.Fields(s)
	if len(f) == 2 {
		received, _ = strconv.ParseUint(f[0], 10, 64)
		painted, _ = strconv.ParseUint(f[1], 10, 64)
	}
	return received, painted
}

// cpuSeconds is the CPU time pid has used (user + system).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / clockTick
}

// treeCPU is cpuSeconds of pid and every process below it.
func treeCPU(pid int) float64 {
	total := cpuSeconds(pid)
	for _, p := range proctest.Descendants(pid) {
		total += cpuSeconds(p)
	}
	return total
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

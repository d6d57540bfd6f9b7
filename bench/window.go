package main

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/display"
	"roomcast/engine/proctest"
)

// windowSettle is how long the studio gets to connect, pick the demo room
// and run its preview before it is measured.
const windowSettle = 20 * time.Second

// windowCost is the CPU the studio window adds to the engine it drives:
// the demo room's 720p30 preview, first run by this process's engine
// without a window (its frames dropped as they come), then by the studio
// itself (this module's roomcast, built for the step) on a 1280x800 screen
// of its own, showing it with the meters, the status bar and the rest. Each
// is measured over window with its Chromium and Xvfb processes (the
// studio's own screen included); the PulseAudio server, shared, is left
// out of both.
func (b *bench) windowCost(room *demoRoom, window time.Duration) ([]figure, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := b.studio.Preview(ctx, fileRequest("", livekit.EncodingOptionsPreset_H264_720P_30), func(*image.RGBA) {})
	if err != nil {
		return nil, err
	}
	time.Sleep(windowSettle)
	without := measureCPU(window)
	stop()

	progress("window: building the studio")
	bin := filepath.Join(b.dir, "roomcast")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v: %s", err, out)
	}
	screen, err := display.Start(ctx, 1280, 800)
	if err != nil {
		return nil, err
	}
	defer screen.Close()
	home := filepath.Join(b.dir, "studio-home")
	var log strings.Builder
	cmd := exec.Command(bin, "--output-dir", filepath.Join(home, "recordings"))
	cmd.Env = append(os.Environ(), "DISPLAY="+screen.Name(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"LIVEKIT_URL="+room.env["LIVEKIT_URL"], "LIVEKIT_API_KEY="+room.env["LIVEKIT_API_KEY"], "LIVEKIT_API_SECRET="+room.env["LIVEKIT_API_SECRET"])
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // the studio stops its engine cleanly
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	progress("window: the studio previews the demo room")
	time.Sleep(windowSettle)
	if !hasChromium(cmd.Process.Pid) {
		return nil, fmt.Errorf("the studio runs no composite after %s; it said: %s", windowSettle, lastLines(log.String(), 5))
	}
	with := measureTree(window, cmd.Process.Pid, screen.Pid())
	return []figure{{
		Name: "CPU of the studio window (its preview running), over the engine's", Value: with.total() - without.total(), Unit: "cores", Goal: 0.15, Better: "<=",
		Note: fmt.Sprintf("studio with its window %.3f cores (%s), the engine's preview without one %.3f (%s)", with.total(), with, without.total(), without),
	}}, nil
}

// hasChromium reports whether a Chromium runs below pid.
func hasChromium(pid int) bool {
	for _, p := range proctest.Descendants(pid) {
		if strings.Contains(proctest.Command(p), "chromium") {
			return true
		}
	}
	return false
}

// measureTree is the CPU use over window of the process root and the
// processes below it, PulseAudio left out, and of screen (an Xvfb of its
// own): root's helpers other than Chromium and Xvfb count as root.
func measureTree(window time.Duration, root, screen int) cpuRate {
	sample := func() cpuSample {
		s := sampleTree(root, true)
		s.xvfb += cpuSeconds(screen)
		return s
	}
	s0 := sample()
	time.Sleep(window)
	return rateBetween(s0, sample())
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Command bench measures the embedded engine against the demo room and
// prints each figure beside its goal, as a ratio, from one run; the figures
// are also written under bench/results/.
//
// The demo room runs as its own `roomcast demo` process, so that the CPU
// and memory counted here are the engine's (this process) and its
// Chromium and Xvfb, not the synthetic participants'.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine"
)

// figure is one measurement with its goal. Better is "<=" or ">=".
type figure struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Goal   float64 `json:"goal,omitempty"`
	Better string  `json:"better,omitempty"`
	Note   string  `json:"note,omitempty"`
}

func (f figure) ratio() string {
	if f.Goal == 0 || f.Better == "" {
		return "-"
	}
	return fmt.Sprintf("%.2f", f.Value/f.Goal)
}

func (f figure) verdict() string {
	switch {
	case f.Better == "<=" && f.Value <= f.Goal, f.Better == ">=" && f.Value >= f.Goal:
		return "ok"
	case f.Better == "":
		return ""
	default:
		return "MISSED"
	}
}

func main() {
	seconds := flag.Int("seconds", 60, "length of each CPU measurement")
	out := flag.String("out", "bench/results", "folder for the results")
	flag.Parse()
	lksdk.SetLogger(protologger.GetDiscardLogger())
	if err := run(time.Duration(*seconds)*time.Second, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(window time.Duration, outDir string) error {
	work, err := os.MkdirTemp("", "roomcast-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	progress("building roomcast for the demo room")
	bin := filepath.Join(work, "roomcast")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	demo, env, err := startDemo(bin)
	if err != nil {
		return err
	}
	defer func() {
		_ = demo.Process.Signal(os.Interrupt)
		_ = demo.Wait()
	}()
	studio, err := engine.NewLocal(engine.Config{
		LiveKitURL: env["LIVEKIT_URL"], APIKey: env["LIVEKIT_API_KEY"], APISecret: env["LIVEKIT_API_SECRET"],
		OutputDir: work,
	})
	if err != nil {
		return err
	}
	defer studio.Close()
	b := &bench{studio: studio, dir: work}

	var figs []figure
	progress("cold start: nothing running -> first frame on disk")
	cold, err := b.startLatency("cold.mp4", livekit.EncodingOptionsPreset_H264_720P_30, false)
	if err != nil {
		return err
	}
	figs = append(figs, figure{Name: "cold start (Start -> first frame on disk)", Value: cold.Seconds(), Unit: "s", Goal: 3, Better: "<="})

	progress("warm start: Start on a running preview -> first frame on disk")
	warm, err := b.startLatency("warm.mp4", livekit.EncodingOptionsPreset_H264_720P_30, true)
	if err != nil {
		return err
	}
	figs = append(figs, figure{Name: "warm start (Start on a preview -> first frame on disk)", Value: warm.Seconds(), Unit: "s", Goal: 0.3, Better: "<="})

	for _, c := range []struct {
		label  string
		preset livekit.EncodingOptionsPreset
		goal   float64
	}{
		{"720p30", livekit.EncodingOptionsPreset_H264_720P_30, 1.0},
		{"1080p30", livekit.EncodingOptionsPreset_H264_1080P_30, 1.6},
	} {
		progress("recording %s for %s", c.label, window)
		r, err := b.recordCost(c.label+".mp4", c.preset, window)
		if err != nil {
			return err
		}
		figs = append(figs,
			figure{Name: "CPU, " + c.label + " recording (engine + Chromium + Xvfb)", Value: r.cores, Unit: "cores", Goal: c.goal, Better: "<=",
				Note: fmt.Sprintf("engine %.2f, chromium %.2f, xvfb %.2f", r.engine, r.chromium, r.xvfb)},
			figure{Name: "delivered frames, " + c.label, Value: r.delivered, Unit: "%", Goal: 99.5, Better: ">=",
				Note: fmt.Sprintf("%d grabbed of %d expected", r.grabbed, r.expected)},
			figure{Name: "engine RSS, " + c.label, Value: r.rssMB, Unit: "MB", Note: fmt.Sprintf("chromium %.0f MB", r.chromiumMB)},
		)
	}
	return report(figs, outDir)
}

// startDemo runs `roomcast demo` and reads its exports.
func startDemo(bin string) (*exec.Cmd, map[string]string, error) {
	progress("starting the demo room (3 participants)")
	cmd := exec.Command(bin, "demo", "--participants", "3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	env := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for len(env) < 3 && sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			env[k] = v
		}
	}
	if len(env) < 3 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, nil, errors.New("roomcast demo did not print its exports")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd, env, nil
}

type bench struct {
	studio *engine.Local
	dir    string
}

func fileRequest(path string, preset livekit.EncodingOptionsPreset) *livekit.RoomCompositeEgressRequest {
	return &livekit.RoomCompositeEgressRequest{
		RoomName:    "demo",
		Layout:      "grid",
		Options:     &livekit.RoomCompositeEgressRequest_Preset{Preset: preset},
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}},
	}
}

// startLatency times Start until the file has its first bytes. With warm,
// a preview of the same composite runs first (as in the studio window).
func (b *bench) startLatency(name string, preset livekit.EncodingOptionsPreset, warm bool) (time.Duration, error) {
	ctx := context.Background()
	path := filepath.Join(b.dir, name)
	if warm {
		frames := make(chan struct{}, 1)
		stop, err := b.studio.Preview(ctx, fileRequest(path, preset), func(*image.RGBA) {
			select {
			case frames <- struct{}{}:
			default:
			}
		})
		if err != nil {
			return 0, err
		}
		defer stop()
		select {
		case <-frames:
		case <-time.After(60 * time.Second):
			return 0, errors.New("the preview showed no frame within 60 s")
		}
		time.Sleep(2 * time.Second) // let the composite settle
	}
	began := time.Now()
	info, err := b.studio.Start(ctx, fileRequest(path, preset))
	if err != nil {
		return 0, err
	}
	var took time.Duration
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			took = time.Since(began)
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: nothing on disk within 60 s", name)
		}
	}
	_, err = b.studio.Stop(ctx, info.EgressId)
	return took, err
}

type cost struct {
	cores, engine, chromium, xvfb float64
	delivered                     float64
	grabbed, expected             uint64
	rssMB, chromiumMB             float64
}

// recordCost records for window and measures CPU over it (after a short
// warm-up), the frames grabbed and the memory at the end.
func (b *bench) recordCost(name string, preset livekit.EncodingOptionsPreset, window time.Duration) (cost, error) {
	ctx := context.Background()
	updates := b.studio.Watch(ctx)
	info, err := b.studio.Start(ctx, fileRequest(filepath.Join(b.dir, name), preset))
	if err != nil {
		return cost{}, err
	}
	if err := waitActive(updates, info.EgressId); err != nil {
		return cost{}, err
	}
	time.Sleep(3 * time.Second) // the page settles after joining
	stats0 := b.studio.Stats()
	cpu0 := sampleCPU()
	time.Sleep(window)
	cpu1 := sampleCPU()
	stats1 := b.studio.Stats()
	rss, chromiumRSS := sampleRSS()
	if _, err := b.studio.Stop(ctx, info.EgressId); err != nil {
		return cost{}, err
	}
	secs := cpu1.at.Sub(cpu0.at).Seconds()
	c := cost{
		engine:     (cpu1.engine - cpu0.engine) / secs,
		chromium:   (cpu1.chromium - cpu0.chromium) / secs,
		xvfb:       (cpu1.xvfb - cpu0.xvfb) / secs,
		rssMB:      rss,
		chromiumMB: chromiumRSS,
	}
	c.cores = c.engine + c.chromium + c.xvfb
	if len(stats0) == 1 && len(stats1) == 1 {
		c.grabbed = stats1[0].GrabbedFrames - stats0[0].GrabbedFrames
		c.expected = uint64((stats1[0].Running-stats0[0].Running).Seconds()*float64(stats1[0].FPS) + 0.5)
		c.delivered = 100 * float64(c.grabbed) / float64(c.expected)
	}
	return c, nil
}

func waitActive(updates <-chan *livekit.EgressInfo, id string) error {
	timeout := time.After(60 * time.Second)
	for {
		select {
		case info := <-updates:
			if info.EgressId != id {
				continue
			}
			switch info.Status {
			case livekit.EgressStatus_EGRESS_ACTIVE:
				return nil
			case livekit.EgressStatus_EGRESS_FAILED, livekit.EgressStatus_EGRESS_ABORTED:
				return fmt.Errorf("egress %s: %s", info.Status, info.Error)
			}
		case <-timeout:
			return errors.New("egress not active within 60 s")
		}
	}
}

func report(figs []figure, outDir string) error {
	stamp := time.Now().UTC().Format("2006-01-02T150405Z")
	var sb strings.Builder
	fmt.Fprintf(&sb, "Roomcast bench %s (%s)\n\n", stamp, machine())
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tgoal\tvalue/goal\t\tnote")
	for _, f := range figs {
		goal := "-"
		if f.Better != "" {
			goal = fmt.Sprintf("%s %g %s", f.Better, f.Goal, f.Unit)
		}
		fmt.Fprintf(tw, "%s\t%.3g %s\t%s\t%s\t%s\t%s\n", f.Name, f.Value, f.Unit, goal, f.ratio(), f.verdict(), f.Note)
	}
	tw.Flush()
	fmt.Print(sb.String())
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, stamp+".txt"), []byte(sb.String()), 0o644); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(map[string]any{"time": stamp, "machine": machine(), "figures": figs}, "", "  ")
	return os.WriteFile(filepath.Join(outDir, stamp+".json"), data, 0o644)
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

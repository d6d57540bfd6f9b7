// Command bench measures the embedded engine against the demo room and
// prints each figure beside its goal, as a ratio, from one run; the figures
// are also written under bench/results/.
//
// The demo room runs in a process of its own (this program with
// -demo-room), so that the CPU and memory counted here are the engine's
// (this process) and its Chromium and Xvfb, not the synthetic
// participants'.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine"
	"roomcast/engine/demo"
	"roomcast/engine/local"
	"roomcast/engine/request"
)

// figure is one measurement with its goal. Better is "<=" or ">=".
type figure struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Goal   float64 `json:"goal,omitempty"`
	Better string  `json:"better,omitempty"`
	// Abs: the goal bounds the value's size (an offset either way).
	Abs  bool   `json:"abs,omitempty"`
	Note string `json:"note,omitempty"`
	// Error is why the figure could not be measured; Value is then void.
	Error string `json:"error,omitempty"`
}

func (f figure) judged() float64 {
	if f.Abs {
		return math.Abs(f.Value)
	}
	return f.Value
}

func (f figure) ratio() string {
	if f.Goal == 0 || f.Better == "" || f.Error != "" {
		return "-"
	}
	return fmt.Sprintf("%.2f", f.judged()/f.Goal)
}

func (f figure) verdict() string {
	v := f.judged()
	switch {
	case f.Error != "":
		return "FAILED"
	case f.Better == "<=" && v <= f.Goal, f.Better == ">=" && v >= f.Goal:
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
	room := flag.Bool("demo-room", false, "run only the demo room, driven on stdin (the bench starts itself so)")
	soakMinutes := flag.Int("soak", 0, "instead of the steps, record 720p30 to a file and RTMP for this many minutes (make soak)")
	burning := flag.Bool("burn", false, "only burn CPU in bursts until killed (the bursts step starts itself so)")
	steps := flag.String("steps", "", "comma-separated steps to run (cold,starts,warm,cpu720,cpu1080,rtmp,meters,window,shared,tracks,participants,refuse,dispatch,sync,sync1080,sync10,bursts); all by default")
	flag.Parse()
	lksdk.SetLogger(protologger.GetDiscardLogger())
	var err error
	switch {
	case *room:
		err = serveDemo()
	case *burning:
		burn()
	case *soakMinutes > 0:
		err = soak(*soakMinutes, *out)
	default:
		only := map[string]bool{}
		for _, k := range strings.Split(*steps, ",") {
			if k = strings.TrimSpace(k); k != "" {
				only[k] = true
			}
		}
		err = run(time.Duration(*seconds)*time.Second, *out, only)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// avWindow is how long the room with the clapper is recorded: about 14
// flips and 11 HLS segments of 2 s.
const avWindow = 24 * time.Second

// longSync is how long the room with the clapper is recorded to see
// whether the A/V offset holds after 10 minutes.
const longSync = 10*time.Minute + soakClip

// run measures each step (or the steps in only, by key) and reports.
func run(window time.Duration, outDir string, only map[string]bool) error {
	began := time.Now()
	work, err := os.MkdirTemp("", "roomcast-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	room, err := startDemo()
	if err != nil {
		return err
	}
	defer room.close()
	studio, err := room.engine(work)
	if err != nil {
		return err
	}
	defer studio.Close()
	b := &bench{studio: studio, dir: work}

	// Each step gives its figures, or one FAILED row named after it; a
	// failed step does not stop the others.
	steps := []struct {
		key, name, progress string
		run                 func() ([]figure, error)
	}{
		{"cold", "cold start", "cold start: nothing running -> first frame on disk", func() ([]figure, error) {
			cold, err := b.startLatency("cold.mp4", livekit.EncodingOptionsPreset_H264_720P_30, coldStart)
			return []figure{{Name: "cold start (Start -> first frame on disk)", Value: cold.Seconds(), Unit: "s", Goal: 2, Better: "<="}}, err
		}},
		{"starts", "cold-start reliability", fmt.Sprintf("%d cold starts in a row", coldStarts), func() ([]figure, error) {
			return b.startReliability(coldStarts)
		}},
		{"warm", "warm start", "warm start: Start on a running preview -> first frame on disk", func() ([]figure, error) {
			warm, err := b.startLatency("warm.mp4", livekit.EncodingOptionsPreset_H264_720P_30, warmStart)
			return []figure{{Name: "warm start (Start on a preview -> first frame on disk)", Value: warm.Seconds(), Unit: "s", Goal: 0.3, Better: "<="}}, err
		}},
		{"cpu720", "CPU, frames and RSS, 720p30", fmt.Sprintf("recording 720p30 for %s", window), func() ([]figure, error) {
			return b.recordCost("720p30", livekit.EncodingOptionsPreset_H264_720P_30, 1.0, window)
		}},
		{"cpu1080", "CPU, frames and RSS, 1080p30", fmt.Sprintf("recording 1080p30 for %s", window), func() ([]figure, error) {
			return b.recordCost("1080p30", livekit.EncodingOptionsPreset_H264_1080P_30, 1.6, window)
		}},
		{"rtmp", "CPU per added RTMP destination", fmt.Sprintf("720p30 with 0, 1 and 3 RTMP destinations, %s each", window), func() ([]figure, error) {
			return b.streamCost(window)
		}},
		{"meters", "CPU of the meters", fmt.Sprintf("720p30 with the meters read and unread, %d times %s each", metersPairs, window/3), func() ([]figure, error) {
			return b.metersCost(window)
		}},
		{"window", "CPU of the studio window", fmt.Sprintf("the 720p30 preview without a window, then in the studio, %s each", window), func() ([]figure, error) {
			return b.windowCost(room, window)
		}},
		{"shared", "CPU of Go Live beside Record", fmt.Sprintf("720p30 Record alone, then with Go Live of the same preset, %s each", window), func() ([]figure, error) {
			return b.sharedEncodeCost(window)
		}},
		{"tracks", "CPU per track recording", fmt.Sprintf("every track of the room copied as sent, then none, %s each", window/2), func() ([]figure, error) {
			return b.trackCopyCost(room, window/2)
		}},
		{"participants", "CPU per participant recording", fmt.Sprintf("%d people of the room recorded on their own at 720p30, then none, %s each", recordedPeople, window), func() ([]figure, error) {
			return b.participantCost(room, window)
		}},
		{"refuse", "Start refused for an unreachable server", fmt.Sprintf("%d Starts each for an untrusted certificate and a closed port", refusalStarts), func() ([]figure, error) {
			return b.refusalLatency(room.env["LIVEKIT_API_KEY"], room.env["LIVEKIT_API_SECRET"])
		}},
		{"dispatch", "start dispatched by a LiveKit server", fmt.Sprintf("%d starts through a LiveKit server's API, on a roomcast worker on its Redis", dispatchStarts), func() ([]figure, error) {
			return b.dispatchLatency()
		}},
		{"sync", "A/V offset and HLS playlist delay", fmt.Sprintf("the room with the clapper, to MP4 and HLS for %s", avWindow), func() ([]figure, error) {
			return b.syncAndSegments(room, avWindow)
		}},
		{"sync1080", "A/V offset at 1080p30", fmt.Sprintf("the room with the clapper at 1080p30 for %s", avWindow), func() ([]figure, error) {
			return b.syncAt(room, livekit.EncodingOptionsPreset_H264_1080P_30, "1080p30, first "+avWindow.String(), avWindow, 0)
		}},
		{"sync10", "A/V offset after 10 minutes", fmt.Sprintf("the room with the clapper at 720p30 for %s, its last %s measured", longSync, soakClip), func() ([]figure, error) {
			return b.syncAt(room, livekit.EncodingOptionsPreset_H264_720P_30, "720p30, after 10 min", longSync, soakClip)
		}},
		{"bursts", "sound under CPU bursts", fmt.Sprintf("the room with the clapper at 720p30 for %s, every core taken for %s every %s", burstWindow, burstLength, burstEvery), func() ([]figure, error) {
			return b.soundUnderBursts(room, burstWindow)
		}},
	}
	if len(only) > 0 {
		var keys []string
		for _, s := range steps {
			keys = append(keys, s.key)
		}
		for k := range only {
			if !slices.Contains(keys, k) {
				return fmt.Errorf("-steps: no step %q; the steps are %s", k, strings.Join(keys, ","))
			}
		}
	}
	var figs []figure
	for _, s := range steps {
		if len(only) > 0 && !only[s.key] {
			continue
		}
		progress("%s", s.progress)
		got, err := s.run()
		if err != nil {
			progress("%s: %v", s.name, err)
			got = []figure{{Name: s.name, Error: err.Error()}}
		}
		figs = append(figs, got...)
	}
	return report(figs, outDir, time.Since(began))
}

// demoRoom is the demo room, run by this program in a process of its own.
type demoRoom struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	replies *bufio.Scanner
	env     map[string]string // the exports: LIVEKIT_URL, _API_KEY, _API_SECRET
	clapper bool              // the clapper has joined
}

// startDemo runs this program with -demo-room and reads the room's exports.
func startDemo() (*demoRoom, error) {
	progress("starting the demo room (3 participants)")
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-demo-room")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &demoRoom{cmd: cmd, in: in, replies: bufio.NewScanner(stdout), env: map[string]string{}}
	for len(d.env) < 3 && d.replies.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(d.replies.Text(), "export "), "="); ok {
			d.env[k] = v
		}
	}
	if len(d.env) < 3 {
		d.close()
		return nil, errors.New("the demo room did not print its exports")
	}
	return d, nil
}

// engine is this machine's engine on the room, writing under work, as
// roomcast serve and record run it (a room view kept ready).
func (d *demoRoom) engine(work string) (*local.Local, error) {
	return local.New(local.Config{
		LiveKitURL: d.env["LIVEKIT_URL"], APIKey: d.env["LIVEKIT_API_KEY"], APISecret: d.env["LIVEKIT_API_SECRET"],
		OutputDir: work, KeepReady: true,
	})
}

// addClapper joins the clapper (demo.AddClapper) to the room, once: the
// steps that measure A/V sync share it.
func (d *demoRoom) addClapper() error {
	if d.clapper {
		return nil
	}
	if _, err := fmt.Fprintln(d.in, "clapper"); err != nil {
		return fmt.Errorf("demo room: %w", err)
	}
	if !d.replies.Scan() {
		return errors.New("demo room: ended without answering")
	}
	if reply := d.replies.Text(); reply != "ok" {
		return fmt.Errorf("demo room: %s", reply)
	}
	d.clapper = true
	return nil
}

// close ends the room (its process stops when its stdin closes).
func (d *demoRoom) close() {
	d.in.Close()
	_ = d.cmd.Wait()
}

// serveDemo is the -demo-room process: it runs the demo room, prints its
// exports, then answers each command on stdin with one line, "ok" or the
// error ("clapper" joins the clapper), until stdin closes.
func serveDemo() error {
	d, err := demo.Start(context.Background(), demo.Options{Participants: 3})
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Printf("export LIVEKIT_URL=%s\nexport LIVEKIT_API_KEY=%s\nexport LIVEKIT_API_SECRET=%s\n", d.URL(), d.APIKey(), d.APISecret())
	commands := bufio.NewScanner(os.Stdin)
	for commands.Scan() {
		err := fmt.Errorf("unknown command %q", commands.Text())
		if commands.Text() == "clapper" {
			_, err = d.AddClapper()
		}
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println("ok")
	}
	return nil
}

type bench struct {
	studio *local.Local
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

// startActive starts req and waits until it records. End the egress with
// stop, which is safe to call again (as deferred after a checked call).
func (b *bench) startActive(req *livekit.RoomCompositeEgressRequest) (id string, stop func() error, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := b.studio.Watch(ctx)
	info, err := b.studio.Start(ctx, req)
	if err != nil {
		return "", nil, err
	}
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() { _, stopErr = b.studio.Stop(context.Background(), info.EgressId) })
		return stopErr
	}
	if err := waitActive(updates, info.EgressId); err != nil {
		_ = stop()
		return "", nil, err
	}
	return info.EgressId, stop, nil
}

// startLatency times Start until the file has its first bytes, from the
// state kind names.
func (b *bench) startLatency(name string, preset livekit.EncodingOptionsPreset, kind startKind) (time.Duration, error) {
	ctx := context.Background()
	path := filepath.Join(b.dir, name)
	switch kind {
	case warmStart:
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
	case coldStart:
		if err := b.awaitRoomView(); err != nil {
			return 0, err
		}
	}
	watch, cancel := context.WithCancel(ctx)
	defer cancel()
	updates := b.studio.Watch(watch)
	began := time.Now()
	info, err := b.studio.Start(ctx, fileRequest(path, preset))
	if err != nil {
		return 0, err
	}
	if err := firstBytes(path, info.EgressId, updates); err != nil {
		_, _ = b.studio.Stop(ctx, info.EgressId)
		return 0, err
	}
	took := time.Since(began)
	_, err = b.studio.Stop(ctx, info.EgressId)
	return took, err
}

// startKind is what runs when a start is timed.
type startKind int

const (
	// coldStart: no composite, and the engine's room view ready, as an
	// engine waiting for requests has it (local.Config.KeepReady).
	coldStart startKind = iota
	// backToBackStart: no composite, right after the last one stopped;
	// the room view may still be being made ready again.
	backToBackStart
	// warmStart: a preview of the same composite runs.
	warmStart
)

// awaitRoomView waits until the engine has a room view ready.
func (b *bench) awaitRoomView() error {
	deadline := time.Now().Add(time.Minute)
	for !b.studio.RoomViewReady() {
		if time.Now().After(deadline) {
			return errors.New("the engine made no room view ready within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// firstBytes returns once the file at path has its first bytes, or with
// the egress id's failure (from updates) or after a minute.
func firstBytes(path, id string, updates <-chan *livekit.EgressInfo) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		select {
		case info := <-updates:
			if info.EgressId == id && engine.IsFinal(info.Status) {
				return fmt.Errorf("%s before its first frame: %s", info.Status, info.Error)
			}
		case <-tick.C:
			if st, err := os.Stat(path); err == nil && st.Size() > 0 {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("%s: nothing on disk within a minute", filepath.Base(path))
		}
	}
}

// recordCost records at preset for window and measures the CPU over it
// (after a short warm-up, against goal cores), the frames grabbed and the
// memory at the end.
func (b *bench) recordCost(label string, preset livekit.EncodingOptionsPreset, goal float64, window time.Duration) ([]figure, error) {
	_, stop, err := b.startActive(fileRequest(filepath.Join(b.dir, label+".mp4"), preset))
	if err != nil {
		return nil, err
	}
	defer stop()
	time.Sleep(3 * time.Second) // the page settles after joining
	stats0 := b.studio.Stats()
	cpu := measureCPU(window)
	stats1 := b.studio.Stats()
	rss, chromiumRSS := sampleRSS()
	progress("the reference encode of the same screen for %s", referenceWindow)
	reference, refErr := 0.0, error(nil)
	if key, err := request.CompositeOf(fileRequest("", preset)); err != nil {
		refErr = err
	} else {
		reference, refErr = referenceEncode(key.Width, key.Height)
	}
	if err := stop(); err != nil {
		return nil, err
	}
	frames := figure{Name: "delivered frames, " + label, Unit: "%", Goal: 99.5, Better: ">=",
		Error: fmt.Sprintf("the engine reported %d and %d composites, want 1", len(stats0), len(stats1))}
	if len(stats0) == 1 && len(stats1) == 1 {
		expected := math.Round((stats1[0].Running - stats0[0].Running).Seconds() * float64(stats1[0].FPS))
		frames = deliveredFigure(label, stats1[0].GrabbedFrames-stats0[0].GrabbedFrames,
			stats1[0].EncoderDroppedFrames-stats0[0].EncoderDroppedFrames, expected)
	}
	return []figure{
		{Name: "CPU, " + label + " recording (engine + Chromium + Xvfb)", Value: cpu.total(), Unit: "cores", Goal: goal, Better: "<=",
			Note: fmt.Sprintf("engine %.2f, chromium %.2f, xvfb %.2f", cpu.engine, cpu.chromium, cpu.xvfb)},
		referenceFigure(label, cpu.total(), reference, refErr),
		frames,
		{Name: "engine RSS, " + label, Value: rss, Unit: "MB", Note: fmt.Sprintf("chromium %.0f MB", chromiumRSS)},
	}, nil
}

// deliveredFigure is the share of the expected frames that reached the
// encoder and were kept: grabbed, less those the encoder let go.
func deliveredFigure(label string, grabbed, letGo uint64, expected float64) figure {
	kept := grabbed - min(letGo, grabbed)
	return figure{Name: "delivered frames, " + label, Value: 100 * float64(kept) / expected, Unit: "%", Goal: 99.5, Better: ">=",
		Note: fmt.Sprintf("%d grabbed of %.0f expected, %d of them let go by the encoder", grabbed, expected, letGo)}
}

// referenceFigure is the composite's CPU as a multiple of the reference
// encode's.
func referenceFigure(label string, total, reference float64, err error) figure {
	f := figure{Name: "CPU against the reference encode, " + label, Unit: "x", Goal: 2, Better: "<="}
	switch {
	case err != nil:
		f.Error = err.Error()
	case reference <= 0:
		f.Error = "the reference encode used no CPU"
	default:
		f.Value = total / reference
		f.Note = fmt.Sprintf("%.2f cores / ffmpeg x11grab + libx264 veryfast 3000k on the same screen %.2f cores", total, reference)
	}
	return f
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

func report(figs []figure, outDir string, took time.Duration) error {
	stamp := time.Now().UTC().Format("2006-01-02T150405Z")
	var sb strings.Builder
	fmt.Fprintf(&sb, "Roomcast bench %s (%s), %s\n\n", stamp, machine(), took.Round(time.Second))
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tgoal\tvalue/goal\t\tnote")
	for _, f := range figs {
		value, goal, note := fmt.Sprintf("%.3g %s", f.Value, f.Unit), "-", f.Note
		if f.Better != "" {
			goal = fmt.Sprintf("%s %g %s", f.Better, f.Goal, f.Unit)
			if f.Abs {
				goal = "|value| " + goal
			}
		}
		if f.Error != "" {
			value, note = "-", f.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, value, goal, f.ratio(), f.verdict(), note)
	}
	tw.Flush()
	fmt.Print(sb.String())
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, stamp+".txt"), []byte(sb.String()), 0o644); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(map[string]any{"time": stamp, "machine": machine(), "seconds": took.Seconds(), "figures": figs}, "", "  ")
	return os.WriteFile(filepath.Join(outDir, stamp+".json"), data, 0o644)
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

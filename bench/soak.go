package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/rtmptest"
)

// soakClip is how much of the recording's start and end the A/V offset is
// measured on: about 18 flips of the clapper.
const soakClip = 30 * time.Second

// soak records the demo room with the clapper at 720p30 to a file and one
// RTMP destination for minutes, and reports, at 1, half-time and the end:
// the engine's and Chromium's memory and the frames delivered; then the
// A/V offset at the start and at the end (the drift) and the file's size
// against its time.
func soak(minutes int, outDir string) error {
	began := time.Now()
	work, err := os.MkdirTemp("", "roomcast-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	room, err := startDemo()
	if err != nil {
		return err
	}
	defer room.close()
	if err := room.addClapper(); err != nil {
		return err
	}
	rtmp, err := rtmptest.Launch(filepath.Join(work, "rtmp"))
	if err != nil {
		return err
	}
	defer rtmp.Stop()
	studio, err := room.engine(work)
	if err != nil {
		return err
	}
	defer studio.Close()
	b := &bench{studio: studio, dir: work}

	path := filepath.Join(work, "soak.mp4")
	req := fileRequest(path, livekit.EncodingOptionsPreset_H264_720P_30)
	req.StreamOutputs = []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_RTMP, Urls: []string{rtmp.URL("soak")}}}
	_, stop, err := b.startActive(req)
	if err != nil {
		return err
	}
	defer stop()
	recording := time.Now()
	var figs []figure
	var rss []float64 // the engine's, at each mark
	total := time.Duration(minutes) * time.Minute
	marks := soakMarks(total)
	for _, at := range marks {
		time.Sleep(time.Until(recording.Add(at)))
		got := b.soakSample(at)
		figs = append(figs, got...)
		rss = append(rss, got[0].Value)
		progress("soak: %v of %v", at, total)
	}
	if n := len(marks); n >= 2 {
		per10 := (rss[n-1] - rss[n-2]) / (marks[n-1] - marks[n-2]).Minutes() * 10
		figs = append(figs, figure{Name: "engine RSS growth, second half", Value: per10, Unit: "MB/10 min", Goal: 5, Better: "<="})
	}
	if err := stop(); err != nil {
		return err
	}
	secs := time.Since(recording).Seconds()
	if st, err := os.Stat(path); err == nil {
		figs = append(figs, figure{Name: "file size", Value: float64(st.Size()) / 1e6, Unit: "MB",
			Note: fmt.Sprintf("%.0f kbit/s over %.0f s (the preset's ceiling 3000; the demo room needs little)", float64(st.Size())*8/1000/secs, secs)})
	}
	first := avOffsetOf(path, 0, "A/V offset at the start (median)")
	last := avOffsetOf(path, secs-soakClip.Seconds(), "A/V offset at the end (median)")
	figs = append(figs, first, last)
	if first.Error == "" && last.Error == "" {
		figs = append(figs, figure{Name: "A/V drift, end - start", Value: last.Value - first.Value, Unit: "ms", Goal: 20, Better: "<=", Abs: true})
	}
	figs = append(figs, offsetAlong(path, secs))
	if recs := rtmp.Recordings("soak"); len(recs) != 1 {
		figs = append(figs, figure{Name: "RTMP publishes", Value: float64(len(recs)), Goal: 1, Better: "<=", Note: "one unbroken stream"})
	}
	return report(figs, outDir, time.Since(began))
}

// soakMarks are when the soak samples: at 1 minute, half-time and the end.
func soakMarks(total time.Duration) []time.Duration {
	marks := []time.Duration{time.Minute}
	if total/2 > time.Minute {
		marks = append(marks, total/2)
	}
	if total > time.Minute {
		marks = append(marks, total)
	}
	return marks
}

// soakSample is the memory (the engine's first) and the frames delivered
// so far, at at.
func (b *bench) soakSample(at time.Duration) []figure {
	label := fmt.Sprintf("at %v", at)
	rss, chromium := sampleRSS()
	figs := []figure{
		{Name: "engine RSS, " + label, Value: rss, Unit: "MB", Goal: 300, Better: "<="},
		{Name: "Chromium RSS, " + label, Value: chromium, Unit: "MB"},
	}
	if stats := b.studio.Stats(); len(stats) == 1 {
		want := stats[0].Running.Seconds() * float64(stats[0].FPS)
		figs = append(figs, deliveredFigure(label, stats[0].GrabbedFrames, stats[0].EncoderDroppedFrames, want))
	}
	return figs
}

// offsetAlong is the A/V offset's median on a clip every tenth of the
// recording (at least every minute), all in its note (whether a drift
// grows steadily or in steps, and from when), the farthest from zero its
// value.
func offsetAlong(path string, secs float64) figure {
	worst := figure{Name: "A/V offset along the recording (clip medians, the farthest)", Unit: "ms", Goal: 45, Better: "<=", Abs: true}
	step := max(60, secs/10)
	var parts []string
	for from := 0.0; from+soakClip.Seconds() <= secs; from += step {
		f := avOffsetOf(path, from, "")
		v := "?"
		if f.Error == "" {
			v = fmt.Sprintf("%+.0f", f.Value)
			if math.Abs(f.Value) >= math.Abs(worst.Value) {
				worst.Value = f.Value
			}
		}
		parts = append(parts, fmt.Sprintf("%.0fm %s", from/60, v))
	}
	worst.Note = strings.Join(parts, " | ")
	return worst
}

// avOffsetOf is avOffset on soakClip of path from second from.
func avOffsetOf(path string, from float64, name string) figure {
	clip, err := cutClip(path, from, soakClip)
	if err != nil {
		return figure{Name: name, Error: err.Error()}
	}
	defer os.Remove(clip)
	f := avOffset(clip)
	f.Name = name
	return f
}

// cutClip copies d of the recording at path from second from (at the key
// frame before it) to a file beside it, which the caller removes.
func cutClip(path string, from float64, d time.Duration) (string, error) {
	clip := fmt.Sprintf("%s.%.0f.mp4", path, from)
	out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-ss", fmt.Sprintf("%.3f", from), "-i", path,
		"-t", fmt.Sprintf("%.0f", d.Seconds()), "-c", "copy", clip).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cut %s: %v: %s", path, err, out)
	}
	return clip, nil
}

package mediatest

import (
	"bytes"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Tick detection: the tone's level is measured in windows of tickWindow,
// one every tickHop. 5 ms tells a 3 kHz tick from tones below 1 kHz (the
// leakage of a 0.3 sine 2 kHz away is under 0.01) and places an onset
// within a few ms, well inside a 30 fps frame.
const (
	tickWindow = 5 * time.Millisecond
	tickHop    = time.Millisecond
	pcmRate    = 48000
	// maxPairing: a flip is paired with a tick at most this far away. A
	// clapper ticks at most once a second, so offsets are found within
	// ±0.5 s.
	maxPairing = 500 * time.Millisecond
)

// AVOffsets measures the sound's timing against the picture's in path, a
// recording of a clapper: a picture whose brightness flips (dark to light
// or back) when a tick of tickHz starts, at most once a second. For each
// flip it returns the offset of the nearest tick's onset, positive when
// the sound comes after the picture (the sign of the EBU R37 / ITU-R
// BT.1359 tolerances, about -45 to +125 ms). Both streams are placed on the
// file's one timeline by their decoded timestamps, as a player does. A
// flip shows on the first frame after it, so offsets are exact to a frame.
func AVOffsets(path string, tickHz float64) ([]time.Duration, error) {
	probe, err := ProbeFile(path, false)
	if err != nil {
		return nil, err
	}
	if probe.First("audio") == nil || probe.First("video") == nil {
		return nil, fmt.Errorf("%s: A/V offsets need a video and an audio stream", path)
	}
	flips, err := brightnessFlips(path)
	if err != nil {
		return nil, err
	}
	ticks, err := tickOnsets(path, tickHz)
	if err != nil {
		return nil, err
	}
	var offsets []time.Duration
	for _, f := range flips {
		best := time.Duration(math.MaxInt64)
		for _, t := range ticks {
			if d := t - f; d.Abs() < best.Abs() {
				best = d
			}
		}
		if best.Abs() <= maxPairing {
			offsets = append(offsets, best)
		}
	}
	if len(offsets) == 0 {
		return nil, fmt.Errorf("%s: none of %d brightness flips has a %g Hz tick within %v (%d ticks)", path, len(flips), tickHz, maxPairing, len(ticks))
	}
	return offsets, nil
}

// brightnessFlips returns the times, on the file's timeline, of the first
// frame after each crossing of the picture's mean brightness over the
// halfway mark between its darkest and its lightest frame. The frames are
// scaled down to gray 32x18 by ffmpeg, whose showinfo filter reports each
// one's timestamp and mean (-copyts keeps the file's timestamps).
func brightnessFlips(path string) ([]time.Duration, error) {
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-copyts", "-i", path,
		"-map", "0:v:0", "-vf", "scale=32:18,format=gray,showinfo", "-f", "null", "-")
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg brightness of %s: %w: %s", path, err, lastLine(log.String()))
	}
	type frame struct {
		at   time.Duration
		mean float64
	}
	var frames []frame
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, line := range strings.Split(log.String(), "\n") {
		at, ok1 := field(line, "pts_time:", " ")
		mean, ok2 := field(line, "mean:[", "]")
		if !ok1 || !ok2 {
			continue
		}
		f := frame{at: time.Duration(at * float64(time.Second)), mean: mean}
		frames = append(frames, f)
		lo, hi = min(lo, f.mean), max(hi, f.mean)
	}
	// Compression noise moves a frame's mean by a level or two; a flip
	// moves it by tens.
	if len(frames) == 0 || hi-lo < 16 {
		return nil, fmt.Errorf("%s: the picture never flips (%d frames, mean brightness %g..%g)", path, len(frames), lo, hi)
	}
	mid := (lo + hi) / 2
	var flips []time.Duration
	for i := 1; i < len(frames); i++ {
		if (frames[i-1].mean < mid) != (frames[i].mean < mid) {
			flips = append(flips, frames[i].at)
		}
	}
	return flips, nil
}

// tickOnsets returns the times, on the file's timeline, at which a tick of
// hz starts in the first audio stream.
func tickOnsets(path string, hz float64) ([]time.Duration, error) {
	origin, err := firstSampleAt(path)
	if err != nil {
		return nil, err
	}
	pcm, err := AudioPCM(path, pcmRate, 0, 0)
	if err != nil {
		return nil, err
	}
	win := int(tickWindow.Seconds() * pcmRate)
	hop := int(tickHop.Seconds() * pcmRate)
	var levels []float64
	peak := 0.0
	for i := 0; i+win <= len(pcm); i += hop {
		l := ToneLevel(pcm[i:i+win], pcmRate, hz)
		levels = append(levels, l)
		peak = max(peak, l)
	}
	if peak < 0.01 {
		return nil, fmt.Errorf("%s: no %g Hz tick in the audio (level %.4f)", path, hz, peak)
	}
	// A window reaches half the tick's level when it half covers the tick,
	// so the onset is at that window's centre. The level must fall to a
	// quarter before the next onset, so ripple within a tick starts none.
	var onsets []time.Duration
	on := false
	for i, l := range levels {
		switch {
		case !on && l >= peak/2:
			on = true
			centre := float64(i*hop) + float64(win)/2
			onsets = append(onsets, origin+time.Duration(centre/pcmRate*float64(time.Second)))
		case on && l < peak/4:
			on = false
		}
	}
	return onsets, nil
}

// firstSampleAt is the time of the first audio sample that decoding path
// gives. That is the stream's start time plus what the decoder drops (an
// AAC encoder's priming, Opus's pre-skip): an Opus stream in Matroska or
// Ogg starts at -6.5 ms, and its first sample is at 0.
func firstSampleAt(path string) (time.Duration, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "a:0",
		"-show_entries", "frame=pts_time", "-of", "csv=p=0", path).Output()
	if err != nil {
		return 0, fmt.Errorf("ffprobe first audio frame of %s: %w: %s", path, err, stderrOf(err))
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	at, err := strconv.ParseFloat(first, 64)
	if err != nil {
		return 0, fmt.Errorf("ffprobe first audio frame of %s: time %q: %w", path, first, err)
	}
	return time.Duration(at * float64(time.Second)), nil
}

// field parses the number in line between the first prefix and the next
// end (or the line's end).
func field(line, prefix, end string) (float64, bool) {
	_, rest, ok := strings.Cut(line, prefix)
	if !ok {
		return 0, false
	}
	if i := strings.Index(rest, end); i >= 0 {
		rest = rest[:i]
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
	return f, err == nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

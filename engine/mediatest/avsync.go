package mediatest

import (
	"bytes"
	"fmt"
	"math"
	"os/exec"
	"slices"
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
	// maxPairing: a flip is paired with a tick of its kind at most this
	// far away. A clapper flips at most once a second, and the two kinds
	// alternate, so that is never another flip's tick (a sound off by a
	// whole flip is nearer a tick of the other kind, which is an error).
	maxPairing = 800 * time.Millisecond
	// minFlipGap: a clapper flips at most once a second.
	minFlipGap = time.Second
)

// A clapper's ticks at flips to dark are quieter than those at flips to
// light (the demo's: 0.6 as loud): the two kinds of flip are told apart in
// the sound as in the picture, so a sound off by a whole flip, or a tick
// lost, pairs no tick with a flip instead of the next one. The kinds
// alternate, one tick a period, so which ticks are loud is settled for a
// whole run of ticks at a time (see classifyTicks): one tick played softer
// (a receiver's loss concealment under load) stays of its kind, where a
// threshold on the whole file's loudest, or a comparison with its
// neighbours alone, took it (or the last tick, with one neighbour only)
// for the other. A run ends where a tick is missing (a gap of more than
// maxRunGap periods), since the parity of what follows is unknown.
const maxRunGap = 1.5

// AVOffsets measures the sound's timing against the picture's in path, a
// recording of a clapper: a picture whose brightness flips (dark to light
// or back) when a tick of tickHz starts, at most once a second, the ticks
// at flips to dark quieter than those at flips to light. For
// each flip it returns the offset of the nearest tick of its kind's onset,
// positive when the sound comes after the picture (the sign of the EBU
// R37 / ITU-R BT.1359 tolerances, about -45 to +125 ms). Both streams are
// placed on the file's one timeline by their decoded timestamps, as a
// player does. A flip shows on the first frame after it, so offsets are
// exact to a frame. A flip nearer a tick of the other kind than one of
// its own, or one without a tick of its kind while ticks come before and
// after it, is an error: the sound is paired with the wrong picture.
func AVOffsets(path string, tickHz float64) ([]time.Duration, error) {
	pairs, err := AVPairs(path, tickHz)
	offsets := make([]time.Duration, len(pairs))
	for i, p := range pairs {
		offsets[i] = p.Offset
	}
	return offsets, err
}

// Mean is the average of d; 0 for none.
func Mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// Median is the middle of d (the upper one of an even count); 0 for none.
func Median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// Pair is one flip of the clapper in a file and its sound's offset.
type Pair struct {
	At, Offset time.Duration // the flip's time in the file; the tick's offset from it
}

// OffsetsAround splits the offsets of pairs at the file time at: those of
// the flips before it, and those at or after it.
func OffsetsAround(pairs []Pair, at time.Duration) (before, after []time.Duration) {
	for _, p := range pairs {
		if p.At < at {
			before = append(before, p.Offset)
		} else {
			after = append(after, p.Offset)
		}
	}
	return before, after
}

// seamSlack is how near a seam a change of brightness is the cut, not a
// flip of the clapper: the frames either side of it differ.
const seamSlack = 100 * time.Millisecond

// AVPairs is AVOffsets with the time of each flip. Seams are times where
// the file's media were cut (a pause cut out): the picture may change
// there without a flip, so what changes within seamSlack of one is left
// out.
func AVPairs(path string, tickHz float64, seams ...time.Duration) ([]Pair, error) {
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
	// A recording's first frames can show the page still drawing (a
	// light frame or three before the clapper's dark picture): a change
	// less than minFlipGap before the next flip is that, not a flip.
	if len(flips) > 1 && flips[1].at-flips[0].at < minFlipGap {
		flips = flips[1:]
	}
	ticks, err := tickOnsets(path, tickHz)
	if err != nil {
		return nil, err
	}
	var pairs []Pair
	var wrong []string
	for _, f := range flips {
		if slices.ContainsFunc(seams, func(at time.Duration) bool { return (f.at - at).Abs() <= seamSlack }) {
			continue
		}
		own, other := nearestTick(ticks, f.at, f.toLight), nearestTick(ticks, f.at, !f.toLight)
		switch {
		case f.at < ticks[0].at && own.Abs() > maxPairing:
			// The clapper first shown (its page drawn light or dark
			// over the file's first frames) is its state of before the
			// file, not a flip whose tick is in it. A sound off by a
			// whole flip still shows at every flip after.
		case other.Abs() < own.Abs() && other.Abs() <= maxPairing:
			wrong = append(wrong, fmt.Sprintf("the flip %s at %.3f s is nearest a tick of a flip %s (%v from it)",
				direction(f.toLight), f.at.Seconds(), direction(!f.toLight), other))
		case own.Abs() <= maxPairing:
			pairs = append(pairs, Pair{At: f.at, Offset: own})
		case f.at > ticks[0].at && f.at < ticks[len(ticks)-1].at:
			wrong = append(wrong, fmt.Sprintf("the flip %s at %.3f s has no tick of its kind within %v", direction(f.toLight), f.at.Seconds(), maxPairing))
		}
	}
	if len(wrong) > 0 {
		return pairs, fmt.Errorf("%s: picture and sound paired wrongly: %s", path, strings.Join(wrong, "; "))
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("%s: none of %d brightness flips has a %g Hz tick within %v (%d ticks)", path, len(flips), tickHz, maxPairing, len(ticks))
	}
	return pairs, nil
}

// ClapTimes are the times in path, a recording of a clapper, of each
// flip of its picture and each onset of a tickHz tick in its sound, as
// AVPairs finds them: what lines two recordings of one clapper up.
func ClapTimes(path string, tickHz float64) (flips, ticks []time.Duration, err error) {
	fs, err := brightnessFlips(path)
	if err != nil {
		return nil, nil, err
	}
	ts, err := tickOnsets(path, tickHz)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range fs {
		flips = append(flips, f.at)
	}
	for _, t := range ts {
		ticks = append(ticks, t.at)
	}
	return flips, ticks, nil
}

func direction(toLight bool) string {
	if toLight {
		return "to light"
	}
	return "to dark"
}

// tick is the onset of a tick, and whether it is loud (a flip to light's).
type tick struct {
	at   time.Duration
	loud bool
}

// nearestTick is the offset from at of the nearest tick that is loud (or
// not), or the longest duration if there is none.
func nearestTick(ticks []tick, at time.Duration, loud bool) time.Duration {
	best := time.Duration(math.MaxInt64)
	for _, t := range ticks {
		if d := t.at - at; t.loud == loud && d.Abs() < best.Abs() {
			best = d
		}
	}
	return best
}

// flip is a change of the picture's brightness.
type flip struct {
	at      time.Duration
	toLight bool
}

// brightnessFlips returns the times, on the file's timeline, of the first
// frame after each crossing of the picture's mean brightness over the
// halfway mark between its darkest and its lightest frame. The frames are
// scaled down to gray 32x18 by ffmpeg, whose showinfo filter reports each
// one's timestamp and mean (-copyts keeps the file's timestamps).
func brightnessFlips(path string) ([]flip, error) {
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
	var flips []flip
	for i := 1; i < len(frames); i++ {
		if (frames[i-1].mean < mid) != (frames[i].mean < mid) {
			flips = append(flips, flip{at: frames[i].at, toLight: frames[i].mean >= mid})
		}
	}
	return flips, nil
}

// tickOnsets returns the ticks of hz in the first audio stream, with
// their onsets on the file's timeline.
func tickOnsets(path string, hz float64) ([]tick, error) {
	origin, pcm, err := soundOf(path)
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
	// A tick begins where the level passes a third of the loudest (a
	// quiet tick is over a half of it) and ends where it falls below a
	// sixth, so ripple within a tick starts none. A window reaches half
	// the tick's own level when it half covers the tick, so the onset is
	// at the centre of the first window that does.
	var ticks []tick
	var tops []float64
	for i := 0; i < len(levels); i++ {
		if levels[i] < peak/3 {
			continue
		}
		end, top := i, 0.0
		for ; end < len(levels) && levels[end] >= peak/6; end++ {
			top = max(top, levels[end])
		}
		on := i // the first window at half the tick's level, before or after i
		for on > 0 && levels[on-1] >= top/2 {
			on--
		}
		for on < end && levels[on] < top/2 {
			on++
		}
		centre := float64(on*hop) + float64(win)/2
		at := origin + time.Duration(centre/pcmRate*float64(time.Second))
		i = end
		// A gap of silence within a tick (a dropout of the sound) splits
		// it in two; ticks are at least minFlipGap apart, so what starts
		// this soon after a tick is the rest of it.
		if n := len(ticks); n > 0 && at-ticks[n-1].at < minFlipGap/2 {
			tops[n-1] = max(tops[n-1], top)
			continue
		}
		ticks = append(ticks, tick{at: at})
		tops = append(tops, top)
	}
	classifyTicks(ticks, tops)
	return ticks, nil
}

// classifyTicks marks which of ticks are loud from their levels, tops.
// Within a run of ticks a period apart, the loud ones are those at even
// places or those at odd ones, whichever are louder on average (in
// decibels); a tick alone is loud when it is nearer the file's loud level
// than its quiet one (those of the runs), or, with no run, when it is
// within loud's share of the loudest tick.
func classifyTicks(ticks []tick, tops []float64) {
	if len(ticks) == 0 {
		return
	}
	var gaps []time.Duration
	for i := 1; i < len(ticks); i++ {
		gaps = append(gaps, ticks[i].at-ticks[i-1].at)
	}
	period := Median(gaps)
	var loudDB, quietDB []float64
	var alone []int
	for start := 0; start < len(ticks); {
		end := start + 1
		for end < len(ticks) && float64(ticks[end].at-ticks[end-1].at) <= maxRunGap*float64(period) {
			end++
		}
		if end-start == 1 {
			alone = append(alone, start)
			start = end
			continue
		}
		var sum [2]float64
		var n [2]int
		for i := start; i < end; i++ {
			sum[(i-start)%2] += decibels(tops[i])
			n[(i-start)%2]++
		}
		loudParity := 0
		if sum[1]/float64(n[1]) > sum[0]/float64(n[0]) {
			loudParity = 1
		}
		for i := start; i < end; i++ {
			ticks[i].loud = (i-start)%2 == loudParity
			if ticks[i].loud {
				loudDB = append(loudDB, decibels(tops[i]))
			} else {
				quietDB = append(quietDB, decibels(tops[i]))
			}
		}
		start = end
	}
	for _, i := range alone {
		if len(loudDB) > 0 {
			ticks[i].loud = decibels(tops[i]) >= (mean(loudDB)+mean(quietDB))/2
		} else {
			ticks[i].loud = tops[i] >= loudAbove*slices.Max(tops)
		}
	}
}

// loudAbove: with no run of ticks to learn the two levels from, a tick is
// loud when it is over this share of the loudest; the quiet ones are 0.6.
const loudAbove = 0.8

func decibels(level float64) float64 { return 20 * math.Log10(level) }

func mean(v []float64) float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// soundOf decodes the first audio stream of path at pcmRate, and says
// where its first sample is on the file's timeline.
func soundOf(path string) (origin time.Duration, pcm []float64, err error) {
	if origin, err = firstSampleAt(path); err != nil {
		return 0, nil, err
	}
	pcm, err = AudioPCM(path, pcmRate, 0, 0)
	return origin, pcm, err
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

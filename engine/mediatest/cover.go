package mediatest

import (
	"cmp"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// CoverTolerance is how far, in seconds, a recording's audio may start
// from its first video frame and end from its last: the audio covers the
// video from the first frame to the last, within 0.1 s, in every output.
const CoverTolerance = 0.1

// Span is where a stream's packets lie on a recording's timeline, in
// seconds: the first packet's time and the end of the last one.
type Span struct {
	Start, End float64
	Packets    int
}

func (s Span) String() string { return fmt.Sprintf("%.3f..%.3f s", s.Start, s.End) }

// packet is one packet's place on a recording's timeline, in seconds.
type packet struct{ pts, dur float64 }

// streamPackets reads the packets (ffprobe pts_time and duration_time) of
// the first stream of kind ("video", "audio") of path, in time order.
func streamPackets(path, kind string) ([]packet, error) {
	sel := map[string]string{"video": "v:0", "audio": "a:0"}[kind]
	if sel == "" {
		return nil, fmt.Errorf("no stream kind %q", kind)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", sel,
		"-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", path).Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe packets of %s: %w: %s", path, err, stderrOf(err))
	}
	var ps []packet
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Split(strings.TrimSpace(line), ",")
		pts, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue // an empty line, or a packet without a time (N/A)
		}
		p := packet{pts: pts}
		if len(fields) > 1 {
			p.dur, _ = strconv.ParseFloat(fields[1], 64)
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("%s has no %s packets", path, kind)
	}
	slices.SortFunc(ps, func(a, b packet) int { return cmp.Compare(a.pts, b.pts) })
	return ps, nil
}

// StreamSpan reads where the first stream of kind ("video", "audio") of
// path lies: a file, or an HLS playlist, whose segments ffprobe plays as
// one timeline.
func StreamSpan(path, kind string) (Span, error) {
	ps, err := streamPackets(path, kind)
	if err != nil {
		return Span{}, err
	}
	s := Span{Start: math.Inf(1), End: math.Inf(-1), Packets: len(ps)}
	for _, p := range ps {
		s.Start, s.End = min(s.Start, p.pts), max(s.End, p.pts+p.dur)
	}
	return s, nil
}

// StreamHoles returns the stretches of the first stream of kind of path
// that no packet covers and that last longer than least seconds: where a
// recording's sound (or picture) is missing, not merely quiet.
func StreamHoles(path, kind string, least float64) ([]Span, error) {
	ps, err := streamPackets(path, kind)
	if err != nil {
		return nil, err
	}
	var holes []Span
	end := ps[0].pts + ps[0].dur
	for _, p := range ps[1:] {
		if p.pts-end > least {
			holes = append(holes, Span{Start: end, End: p.pts})
		}
		end = max(end, p.pts+p.dur)
	}
	return holes, nil
}

// coverError says how audio fails to cover video, nil when it does.
func coverError(video, audio Span) error {
	var why []string
	if d := audio.Start - video.Start; math.Abs(d) > CoverTolerance {
		why = append(why, fmt.Sprintf("the audio starts %+.3f s from the first video frame", d))
	}
	if d := audio.End - video.End; math.Abs(d) > CoverTolerance {
		why = append(why, fmt.Sprintf("the audio ends %+.3f s from the last video frame", d))
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%s (video %v, audio %v; want within %g s)", strings.Join(why, ", "), video, audio, CoverTolerance)
}

// AudioCovers reports, as an error, whether the audio of path (a file or
// an HLS playlist) fails to start within CoverTolerance of its first video
// frame and to end within it of its last.
func AudioCovers(path string) (video, audio Span, err error) {
	if video, err = StreamSpan(path, "video"); err != nil {
		return video, audio, err
	}
	if audio, err = StreamSpan(path, "audio"); err != nil {
		return video, audio, err
	}
	return video, audio, coverError(video, audio)
}

// AudioCoversVideo fails the test unless the audio of path (a file or an
// HLS playlist) covers its video: from the first frame to the last, within
// CoverTolerance. Packets are compared as the file places them, as a
// player does: an MP4 whose audio track starts later than its video but
// has no edit list saying so is read with both at zero, and its audio
// then ends early.
func AudioCoversVideo(t testing.TB, path string) {
	t.Helper()
	video, audio, err := AudioCovers(path)
	if err != nil {
		t.Errorf("%s: %v", filepath.Base(path), err)
		return
	}
	t.Logf("%s: video %v, audio %v", filepath.Base(path), video, audio)
}

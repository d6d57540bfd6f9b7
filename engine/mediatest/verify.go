package mediatest

import (
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Expect is what a recording must hold.
type Expect struct {
	// Width and Height are the video's size; FPS its rate (0: 30).
	Width, Height int
	FPS           float64
	// Seconds is its duration, within Tolerance (0: 1 s).
	Seconds, Tolerance float64
	// Audio is the audio codec ("aac", "opus"); "" takes any or none.
	Audio string
	// Colors must each show somewhere in the middle frame (a person's
	// colour, where the layout puts them).
	Colors []color.RGBA
}

// VerifyVideo checks an H.264 recording against want, and that every
// frame is there and decodes (frames = the video track's duration x its
// rate, within 2): a file that starts at a delta frame, or lost frames,
// fails. A recording with audio must have it cover the video
// (AudioCoversVideo). It returns the probe.
func VerifyVideo(t testing.TB, path string, want Expect) *Probe {
	t.Helper()
	if want.FPS == 0 {
		want.FPS = 30
	}
	if want.Tolerance == 0 {
		want.Tolerance = 1
	}
	name := filepath.Base(path)
	p, err := ProbeFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	v := p.First("video")
	if v == nil || v.CodecName != "h264" || v.Width != want.Width || v.Height != want.Height {
		t.Fatalf("%s: video %+v, want h264 %dx%d", name, v, want.Width, want.Height)
	}
	if math.Abs(v.FPS()-want.FPS) > 1 {
		t.Errorf("%s: %.2f fps, want %g", name, v.FPS(), want.FPS)
	}
	if d := p.Duration(); math.Abs(d-want.Seconds) > want.Tolerance {
		t.Errorf("%s: %.2f s, want %.2f +/- %g", name, d, want.Seconds, want.Tolerance)
	}
	vdur, _ := strconv.ParseFloat(v.Duration, 64)
	if n := vdur * want.FPS; math.Abs(float64(v.Frames())-n) > 2 {
		t.Errorf("%s: %d frames decoded in a %.2f s video track, want %.0f +/- 2", name, v.Frames(), vdur, n)
	}
	audio := "no audio"
	if a := p.First("audio"); a != nil {
		audio = a.CodecName + " audio"
	}
	if a := p.First("audio"); want.Audio != "" && (a == nil || a.CodecName != want.Audio) {
		t.Errorf("%s: %s, want %s", name, audio, want.Audio)
	}
	if p.First("audio") != nil {
		AudioCoversVideo(t, path)
	}
	if len(want.Colors) > 0 {
		frame, err := FrameAt(path, p.Duration()/2)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range want.Colors {
			if !Contains(frame, c, 50, 6) {
				t.Errorf("%s: the middle frame has no %v", name, c)
			}
		}
	}
	t.Logf("%s: h264 %dx%d %.2f fps, %.2f s, %d frames, %s", name, v.Width, v.Height, v.FPS(), p.Duration(), v.Frames(), audio)
	return p
}

// CheckTone checks that a recording's sound is the tone hz: it stands far
// above a frequency nobody plays. (Its level depends on PulseAudio's
// volumes, so it is compared, not fixed.)
func CheckTone(t testing.TB, path string, hz float64) {
	t.Helper()
	const rate = 48000
	pcm, err := AudioPCM(path, rate, 0.5, 2)
	if err != nil {
		t.Fatal(err)
	}
	tone, off := ToneLevel(pcm, rate, hz), ToneLevel(pcm, rate, hz*1.37)
	if tone < 0.01 || tone < 10*off {
		t.Errorf("%s: %g Hz at level %.3f (off-tone %.3f), want a clear tone", filepath.Base(path), hz, tone, off)
	}
}

// PlaylistDurations reads the segment durations (EXTINF) of an HLS
// playlist, and fails the test unless the playlist has its end.
func PlaylistDurations(t testing.TB, path string) []float64 {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "#EXT-X-ENDLIST") {
		t.Errorf("%s has no end:\n%s", path, text)
	}
	var durs []float64
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			d, _ := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
			durs = append(durs, d)
		}
	}
	return durs
}

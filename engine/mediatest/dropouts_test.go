package mediatest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roomcast/engine/proctest"
)

// TestSoundDropouts makes AAC recordings of the demo's tones with gaps of
// silence cut in at known times and checks that SoundDropouts finds each,
// and nothing else: not the silence before the sound starts or after it
// ends.
func TestSoundDropouts(t *testing.T) {
	proctest.Need(t, "ffmpeg")
	cases := []struct {
		name string
		// gaps are the silences cut in (start, length in seconds).
		gaps [][2]float64
		want []time.Duration
	}{
		{name: "none"},
		{name: "silence before and after", gaps: [][2]float64{{0, 0.5}, {3.5, 0.5}}},
		{name: "4 ms", gaps: [][2]float64{{1, 0.004}}, want: []time.Duration{time.Second}},
		{name: "two, 10 and 40 ms", gaps: [][2]float64{{1.2, 0.01}, {2.5, 0.04}}, want: []time.Duration{1200 * time.Millisecond, 2500 * time.Millisecond}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cut []string
			for _, g := range c.gaps {
				cut = append(cut, fmt.Sprintf("*not(between(t,%g,%g))", g[0], g[0]+g[1]))
			}
			audio := "aevalsrc=exprs='(0.3*sin(2*PI*440*t)+0.3*sin(2*PI*660*t)+0.3*sin(2*PI*880*t))" + strings.Join(cut, "") + "':s=48000"
			path := filepath.Join(t.TempDir(), "tones.mp4")
			out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", audio, "-t", "4", "-c:a", "aac", "-b:a", "128k", path).CombinedOutput()
			if err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			got, err := SoundDropouts(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("dropouts at %v, want at %v", got, c.want)
			}
			for i := range got {
				if (got[i] - c.want[i]).Abs() > 5*time.Millisecond {
					t.Errorf("dropout %d at %v, want %v", i, got[i], c.want[i])
				}
			}
		})
	}
}

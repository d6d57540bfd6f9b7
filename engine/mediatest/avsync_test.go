package mediatest

import (
	"cmp"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roomcast/engine/proctest"
)

// TestAVOffsets makes clapper recordings with ffmpeg whose sound is off by
// a known amount, some with a stream that starts late, and checks that
// AVOffsets finds that amount at every flip, to within a frame.
func TestAVOffsets(t *testing.T) {
	proctest.Need(t, "ffmpeg")
	const frame = time.Second / 30
	cases := []struct {
		name string
		// tick is where the ticks start within each of the audio's own
		// seconds; videoAt and audioAt are the streams' start times in
		// the file (ffmpeg -itsoffset).
		tick, videoAt, audioAt time.Duration
		// opus: Opus in Matroska (whose pre-skip puts the stream's start
		// before its first sample) instead of AAC in MP4.
		opus bool
		want time.Duration
		// wrong: each tick is at another flip's place, which AVOffsets
		// must say rather than pair it with the flip it lands on.
		wrong bool
		// lost: the tick at this time is not in the sound; soft: the
		// one at this time is 0.7 as loud as it should be.
		lost, soft time.Duration
		// seconds is the file's length; 5.5 if 0.
		seconds float64
		// split: the sound is silent for 5 ms from 50 ms into the tick
		// at this time, as a dropout of the sound in it.
		split time.Duration
		// lightStart: the picture is light for this long before the
		// clapper's first (dark) second, as a page still drawing.
		lightStart time.Duration
		// phase: the picture is light until then, its first flip (to
		// dark), and flips each second after; darkStart: it is dark for
		// this long first, as a page that draws the clapper late.
		phase, darkStart time.Duration
	}{
		{name: "in sync", want: 0},
		{name: "sound 120 ms late", tick: 120 * time.Millisecond, want: 120 * time.Millisecond},
		{name: "sound 80 ms early", tick: -80 * time.Millisecond, want: -80 * time.Millisecond},
		{name: "video starts 300 ms late", videoAt: 300 * time.Millisecond, tick: 250 * time.Millisecond, want: -50 * time.Millisecond},
		{name: "audio starts 200 ms late", audioAt: 200 * time.Millisecond, tick: -100 * time.Millisecond, want: 100 * time.Millisecond},
		{name: "Opus in sync", opus: true, want: 0},
		{name: "Opus sound 40 ms late", opus: true, tick: 40 * time.Millisecond, want: 40 * time.Millisecond},
		{name: "sound a whole flip late", tick: time.Second, wrong: true},
		{name: "sound a whole flip early", tick: -time.Second, wrong: true},
		{name: "a tick lost", lost: 3 * time.Second, wrong: true},
		{name: "a loud tick played softer", soft: 3 * time.Second, want: 0},
		// The last tick has one neighbour only, the loud one played softer.
		{name: "the last tick quiet after a softer loud one", soft: 3 * time.Second, seconds: 4.5, want: 0},
		{name: "a tick split by a dropout", split: 3 * time.Second, want: 0},
		{name: "the first frames drawn light", lightStart: 100 * time.Millisecond, want: 0},
		// The picture's first change, 0.1 s in, is the clapper shown; the
		// next, more than a second later, its first flip (to dark), whose
		// tick comes 300 ms before it: 750 ms from the first change.
		{name: "the clapper shown light, the sound early", darkStart: 100 * time.Millisecond, phase: 1150 * time.Millisecond, tick: 850 * time.Millisecond, want: -300 * time.Millisecond},
		{name: "a soft tick and the sound a whole flip late", soft: 3 * time.Second, tick: time.Second, wrong: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, acodec := filepath.Join(t.TempDir(), "clap.mp4"), "aac"
			if c.opus {
				path, acodec = filepath.Join(t.TempDir(), "clap.mkv"), "libopus"
			}
			// The picture flips at each whole second of the video's own
			// time (after phase), to light at odd ones; the ticks at flips
			// to dark are 0.6 as loud; 440 and 660 Hz tones play
			// throughout, as in the demo. (The 10 s added keeps mod's
			// argument positive: ffmpeg's mod of a negative is negative.)
			video := fmt.Sprintf("color=c=black:s=160x90:r=30,geq=lum='if(lt(T,%[1]g),255,if(lt(T,%[2]g),0,if(lt(T,%[3]g),255,255*mod(floor(T-%[3]g)+2,2))))':cb=128:cr=128",
				c.lightStart.Seconds(), c.darkStart.Seconds(), c.phase.Seconds())
			lostAt, softAt, splitAt := -9.0, -9.0, -9.0 // before the file: none lost, soft or split
			if c.lost > 0 {
				lostAt = c.lost.Seconds()
			}
			if c.soft > 0 {
				softAt = c.soft.Seconds()
			}
			if c.split > 0 {
				splitAt = c.split.Seconds() + 0.05
			}
			audio := fmt.Sprintf("aevalsrc=exprs='not(between(t,%[5]f,%[5]f+0.005))*(0.3*sin(2*PI*440*t)+0.3*sin(2*PI*660*t)+"+
				"if(lt(mod(t-(%[1]f)+10,1),0.1)*not(between(t,%[3]f,%[3]f+0.5)),0.4*if(between(t,%[4]f,%[4]f+0.5),0.7,1)*if(mod(floor(t-(%[1]f)+10),2),1,%[2]g)*sin(2*PI*3000*t),0))':s=48000",
				c.tick.Seconds(), 0.6, lostAt, softAt, splitAt)
			out, err := exec.Command("ffmpeg", "-v", "error", "-y",
				"-itsoffset", fmt.Sprintf("%.3f", c.videoAt.Seconds()), "-f", "lavfi", "-i", video,
				"-itsoffset", fmt.Sprintf("%.3f", c.audioAt.Seconds()), "-f", "lavfi", "-i", audio,
				"-t", fmt.Sprint(cmp.Or(c.seconds, 5.5)), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", acodec, path).CombinedOutput()
			if err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			offsets, err := AVOffsets(path, 3000)
			if c.wrong {
				if err == nil || !strings.Contains(err.Error(), "paired wrongly") {
					t.Fatalf("AVOffsets = %v, %v; want an error saying they are paired wrongly", offsets, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(offsets) < 4 {
				t.Errorf("found %d flips with a tick, want at least 4: %v", len(offsets), offsets)
			}
			for i, got := range offsets {
				if (got - c.want).Abs() > frame {
					t.Errorf("flip %d: offset %v, want %v ± %v", i, got, c.want, frame)
				}
			}
		})
	}
}

// TestAVOffsetsNeedsAClapper: a recording without flips or ticks is an
// error, not a made-up offset.
func TestAVOffsetsNeedsAClapper(t *testing.T) {
	proctest.Need(t, "ffmpeg")
	cases := []struct{ name, video, audio string }{
		{"steady picture", "color=c=gray:s=160x90:r=30", "aevalsrc=exprs='if(lt(mod(t,1),0.1),0.4*sin(2*PI*3000*t),0)':s=48000"},
		{"no tick", "color=c=black:s=160x90:r=30,geq=lum='255*mod(floor(T),2)':cb=128:cr=128", "sine=f=440:r=48000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "clap.mp4")
			out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", c.video, "-f", "lavfi", "-i", c.audio,
				"-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", path).CombinedOutput()
			if err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			if offsets, err := AVOffsets(path, 3000); err == nil {
				t.Errorf("AVOffsets = %v, want an error", offsets)
			}
		})
	}
}

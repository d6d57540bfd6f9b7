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

// TestAudioCovers makes recordings with ffmpeg whose audio starts or ends
// off their video by known amounts, in MP4, MPEG-TS and an HLS playlist,
// and checks that AudioCovers finds them.
func TestAudioCovers(t *testing.T) {
	proctest.Need(t, "ffmpeg")
	cases := []struct {
		name string
		ext  string
		// audioAt is where the audio starts (ffmpeg -itsoffset), audioLen
		// how long it lasts; the video lasts 4 s from 0.
		audioAt, audioLen time.Duration
		want              string // in the error; "" for none
	}{
		{name: "MP4 covered", ext: "mp4", audioLen: 4 * time.Second},
		{name: "MP4 audio 0.4 s short", ext: "mp4", audioLen: 3600 * time.Millisecond, want: "the audio ends -0.4"},
		{name: "MPEG-TS covered", ext: "ts", audioLen: 4 * time.Second},
		{name: "MPEG-TS audio 0.3 s late", ext: "ts", audioAt: 300 * time.Millisecond, audioLen: 3700 * time.Millisecond, want: "the audio starts +0.2"},
		{name: "MPEG-TS audio 0.05 s late", ext: "ts", audioAt: 50 * time.Millisecond, audioLen: 3950 * time.Millisecond},
		{name: "HLS audio 0.3 s late", ext: "m3u8", audioAt: 300 * time.Millisecond, audioLen: 3700 * time.Millisecond, want: "the audio starts +0.2"},
		{name: "HLS covered", ext: "m3u8", audioLen: 4 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "rec."+c.ext)
			args := []string{"-v", "error", "-y",
				"-f", "lavfi", "-i", "testsrc=s=160x90:r=30:d=4",
				"-itsoffset", fmt.Sprintf("%.3f", c.audioAt.Seconds()),
				"-f", "lavfi", "-i", fmt.Sprintf("sine=f=440:r=48000:d=%.3f", c.audioLen.Seconds()),
				"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30", "-c:a", "aac"}
			if c.ext == "m3u8" {
				args = append(args, "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "event",
					"-hls_segment_filename", filepath.Join(dir, "seg_%03d.ts"))
			}
			out, err := exec.Command("ffmpeg", append(args, path)...).CombinedOutput()
			if err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			video, audio, err := AudioCovers(path)
			t.Logf("video %v, audio %v: %v", video, audio, err)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("covered audio failed: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

//go:build integration

package demo

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"roomcast/engine/mediatest"
)

// TestClapperInSync runs the clapper's media process on its own (its
// tracks unpublished) and checks that each tick reaches its track with its
// flip, which is what a receiver sees: the tracks number the samples from
// the first (so the tick's place in its stream against the flip's is
// measured in the two outputs muxed, with AVOffsets) and stamp them with
// the time they arrive (so add how much later than the picture the sound
// arrives for its place in the stream).
func TestClapperInSync(t *testing.T) {
	dir := t.TempDir()
	video, err := vp8Camera.newTrack()
	if err != nil {
		t.Fatal(err)
	}
	audio, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	// recorded wraps read: the stream is copied to path too, and each
	// frame's lateness behind its timestamp (its index × every) is kept.
	recorded := func(read frameReader, path string, every time.Duration, lag *[]time.Duration) frameReader {
		return func(r io.Reader) (func() ([]byte, error), error) {
			f, err := os.Create(path)
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { f.Close() })
			next, err := read(io.TeeReader(r, f))
			if err != nil {
				return nil, err
			}
			return func() ([]byte, error) {
				frame, err := next()
				if err == nil {
					*lag = append(*lag, time.Since(began)-time.Duration(len(*lag))*every)
				}
				return frame, err
			}, nil
		}
	}
	var videoLag, audioLag []time.Duration
	videoPath, audioPath := filepath.Join(dir, "clap.ivf"), filepath.Join(dir, "clap.ogg")
	m := &mediaProcess{name: "clapper", logf: t.Logf}
	err = m.start(clapperPipeline(defaultVolume),
		feed{track: video, read: recorded(readIVF, videoPath, time.Second/videoFPS, &videoLag), duration: time.Second / videoFPS},
		feed{track: audio, read: recorded(readOpus, audioPath, opusFrameMS*time.Millisecond, &audioLag), duration: opusFrameMS * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4*ClapperPeriod + 500*time.Millisecond) // media to make, not a wait for an event
	m.stop()

	const frame = time.Second / videoFPS
	if len(videoLag) < 150 || len(audioLag) < 250 {
		t.Fatalf("%d video frames and %d Opus packets in %v, want about 30 and 50 a second", len(videoLag), len(audioLag), time.Since(began))
	}
	muxed := filepath.Join(dir, "clap.mkv")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", videoPath, "-i", audioPath, "-c", "copy", muxed).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg mux: %v\n%s", err, out)
	}
	offsets, err := mediatest.AVOffsets(muxed, ClapperHz)
	if err != nil {
		t.Fatal(err)
	}
	if len(offsets) < 3 {
		t.Errorf("%d flips with a tick in %v, want at least 3: %v", len(offsets), 4*ClapperPeriod, offsets)
	}
	late := mediatest.Median(audioLag) - mediatest.Median(videoLag)
	for i, o := range offsets {
		if seen := o + late; seen.Abs() > frame/2 {
			t.Errorf("flip %d: the tick reaches its track %v after the flip (%v in the media, %v in arrival), want within half a frame", i, seen, o, late)
		}
	}
	t.Logf("ticks %v from their flips in the media, and arriving %v later", offsets, late)
}

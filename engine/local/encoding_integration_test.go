//go:build integration

package local_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/mediatest"
)

// TestEncodingOptionsInTheMedia: each of advanced's settings, and the
// suffixes and codecs of segments and images, shows in what is written.
// Two egresses share one 960x540 25 fps composite: one High profile with
// a key frame every second and 64 kbps AAC, writing timestamped segments
// (no manifest) and images and an image overwritten in place; the other
// video_only, Baseline, its file without a manifest.
func TestEncodingOptionsInTheMedia(t *testing.T) {
	s := newStudio(t, 2)
	dir := t.TempDir()
	ctx := context.Background()
	advanced := func(codec livekit.VideoCodec, kbps int32, kfi float64) *livekit.RoomCompositeEgressRequest_Advanced {
		return &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{
			Width: 960, Height: 540, Depth: 24, Framerate: 25, VideoCodec: codec, VideoBitrate: kbps, KeyFrameInterval: kfi,
			AudioCodec: livekit.AudioCodec_AAC, AudioBitrate: 64, AudioFrequency: 48000,
		}}
	}
	high := s.startActive(t, &livekit.RoomCompositeEgressRequest{
		RoomName:    "demo",
		Options:     advanced(livekit.VideoCodec_H264_HIGH, 600, 1),
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, "high.mp4"), FileType: livekit.EncodedFileType_MP4}},
		SegmentOutputs: []*livekit.SegmentedFileOutput{{
			Protocol: livekit.SegmentedFileProtocol_HLS_PROTOCOL, FilenamePrefix: filepath.Join(dir, "hls", "seg"),
			FilenameSuffix: livekit.SegmentedFileSuffix_TIMESTAMP, SegmentDuration: 2, DisableManifest: true,
		}},
		ImageOutputs: []*livekit.ImageOutput{
			{CaptureInterval: 1, FilenamePrefix: filepath.Join(dir, "stamped", "img"), FilenameSuffix: livekit.ImageFileSuffix_IMAGE_SUFFIX_TIMESTAMP, ImageCodec: livekit.ImageCodec_IC_JPEG},
			{CaptureInterval: 1, FilenamePrefix: filepath.Join(dir, "latest", "now"), FilenameSuffix: livekit.ImageFileSuffix_IMAGE_SUFFIX_NONE_OVERWRITE},
		},
	})
	baseline := s.startActive(t, &livekit.RoomCompositeEgressRequest{
		RoomName:    "demo",
		VideoOnly:   true,
		Options:     advanced(livekit.VideoCodec_H264_BASELINE, 2400, 0),
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, "baseline.mp4"), DisableManifest: true}},
	})
	if st := s.engine.Stats(); len(st) != 1 {
		t.Errorf("%d composites, want the two egresses on one", len(st))
	}
	time.Sleep(8 * time.Second)
	ended := map[string]time.Time{}
	// Each file lasts what its result says. That is the 8 s less the wait
	// for its first frame: about 0.1 s, but 1.9 s in a CI run whose sound
	// stalled as the composite started (an MP4 starts at a key frame with
	// its sound), so the length asked is only a floor here.
	recorded := map[string]float64{}
	for _, id := range []string{high.EgressId, baseline.EgressId} {
		final, err := s.engine.Stop(ctx, id)
		if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
			t.Fatalf("stop %s: %v %v", id, final.GetStatus(), err)
		}
		ended[id] = time.Unix(0, final.EndedAt)
		if len(final.FileResults) != 1 {
			t.Fatalf("%s: file results %v, want one", id, final.FileResults)
		}
		recorded[id] = time.Duration(final.FileResults[0].Duration).Seconds()
		t.Logf("%s: its result says %.3f s", id, recorded[id])
		if recorded[id] < 5 {
			t.Errorf("%s: its file holds %.2f s of the 8 s asked", id, recorded[id])
		}
	}

	hp := mediatest.VerifyVideo(t, filepath.Join(dir, "high.mp4"), mediatest.Expect{Width: 960, Height: 540, FPS: 25, Seconds: recorded[high.EgressId], Tolerance: 0.2, Audio: "aac"})
	bp := mediatest.VerifyVideo(t, filepath.Join(dir, "baseline.mp4"), mediatest.Expect{Width: 960, Height: 540, FPS: 25, Seconds: recorded[baseline.EgressId], Tolerance: 0.2})
	hv, bv, ha := hp.First("video"), bp.First("video"), hp.First("audio")
	t.Logf("high: %s %.0f kbps, audio %s %.0f kbps; baseline: %s %.0f kbps", hv.Profile, hv.Kbps(), ha.Profile, ha.Kbps(), bv.Profile, bv.Kbps())
	if hv.Profile != "High" || bv.Profile != "Constrained Baseline" {
		t.Errorf("profiles %q and %q, want High and Constrained Baseline", hv.Profile, bv.Profile)
	}
	if bp.First("audio") != nil {
		t.Error("the video_only file has audio")
	}
	if k := ha.Kbps(); math.Abs(k-64) > 16 {
		t.Errorf("audio at %.0f kbps, want 64 +/- 16", k)
	}
	// The bitrates are ceilings here: the demo room's flat tiles need far
	// less (about 100 kbps), so the video bitrate is checked where the
	// picture is noise (pipeline.TestEncoderSettingsInTheStream).
	if k := hv.Kbps(); k > 600*1.2 {
		t.Errorf("video at %.0f kbps, asked 600", k)
	}
	// A key frame at least every second; the outputs that join (the
	// file, the segments at their boundaries) may ask for more.
	keys, err := mediatest.KeyFrames(filepath.Join(dir, "high.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(keys); i++ {
		if d := keys[i] - keys[i-1]; d > 1.05 {
			t.Errorf("key frames %.2f s apart at %.2f s, want at most 1 s (all: %v)", d, keys[i], keys)
			break
		}
	}

	// Timestamped segments and images; the overwritten image alone.
	stamp := `_\d{14}\.\d{3}\.`
	for _, c := range []struct {
		glob string
		name *regexp.Regexp
		min  int
	}{
		{filepath.Join(dir, "hls", "seg_*.ts"), regexp.MustCompile(`^seg` + stamp + `ts$`), 3},
		{filepath.Join(dir, "stamped", "img_*"), regexp.MustCompile(`^img` + stamp + `jpeg$`), 6},
	} {
		files, _ := filepath.Glob(c.glob)
		if len(files) < c.min {
			t.Errorf("%s: %d files, want %d or more", c.glob, len(files), c.min)
		}
		for _, f := range files {
			if !c.name.MatchString(filepath.Base(f)) {
				t.Errorf("%s is not named %s", filepath.Base(f), c.name)
			}
		}
	}
	if got := mediatest.PlaylistDurations(t, filepath.Join(dir, "hls", "seg.m3u8")); len(got) < 3 {
		t.Errorf("the playlist lists %d segments", len(got))
	}
	// Manifests where not disabled: beside high's file, not beside its
	// segments nor beside baseline's file.
	for _, c := range []struct {
		path string
		want bool
	}{{filepath.Join(dir, high.EgressId+".json"), true}, {filepath.Join(dir, "hls", high.EgressId+".json"), false}, {filepath.Join(dir, baseline.EgressId+".json"), false}} {
		if _, err := os.Stat(c.path); (err == nil) != c.want {
			t.Errorf("manifest %s: exists %v, want %v", c.path, err == nil, c.want)
		}
	}
	latest, _ := filepath.Glob(filepath.Join(dir, "latest", "now*.jpeg"))
	if len(latest) != 1 || filepath.Base(latest[0]) != "now.jpeg" {
		t.Errorf("overwritten image: %v, want now.jpeg alone", latest)
	} else if st, err := os.Stat(latest[0]); err != nil || ended[high.EgressId].Sub(st.ModTime()) > 2*time.Second {
		// Every second (its capture interval) until the egress ended;
		// the checks above take seconds, so the time now says nothing.
		t.Errorf("now.jpeg was not rewritten to the end: %v %v (the egress ended at %v)", st, err, ended[high.EgressId])
	}
}

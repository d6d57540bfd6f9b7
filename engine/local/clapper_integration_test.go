//go:build integration

package local_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/demo"
	"roomcast/engine/mediatest"
)

// TestClapperPairedInRecording records the demo's clapper through the
// engine (its page in Chromium, the capture, the shared encoders, the MP4)
// and checks that its picture and its sound land in the same order and
// pairing as they were sent: each flip with its own tick, none with the
// tick of the flip before or after (a tick at a flip to black is quieter
// than one at a flip to white), none lost. It holds no timing goal; the
// offsets it logs are the bench's to judge. The composite starts with the
// recording, cold: the page holds the picture by the voice's delay from
// the first frame (a voice's jitter buffer starts deep and drains), where
// Chromium's own lip sync needs some 5 s; without that hold the sound of
// the first flips came up to 0.75 s late, near where a flip could no
// longer be told from the next.
func TestClapperPairedInRecording(t *testing.T) {
	s := newStudio(t, 0)
	if _, err := s.demo.AddClapper(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "clapper.mp4")
	s.record(t, fileRequest(path, livekit.EncodingOptionsPreset_H264_720P_30), 12*time.Second)
	offsets, err := mediatest.AVOffsets(path, demo.ClapperHz)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d flips, each with its own tick, offsets %v", len(offsets), offsets)
	if want := int(10 * time.Second / demo.ClapperPeriod); len(offsets) < want {
		t.Errorf("%d flips paired with their ticks in 12 s, want at least %d", len(offsets), want)
	}
}

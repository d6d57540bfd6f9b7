//go:build integration

package local

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/waittest"
)

// TestEndedEgressLetsGoOfItsComposite: an ended egress stays listed, by
// ID, for the engine's life, but holds nothing of its composite: its slot
// kept the composite, and so its whole capture pipeline (2-3 MB a
// recording, found with GStreamer's leaks tracer), for good. Asked to
// change its layout, it says it has ended.
func TestEndedEgressLetsGoOfItsComposite(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 1})
	l, err := New(Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ctx := context.Background()
	info, err := l.Start(ctx, &livekit.RoomCompositeEgressRequest{
		RoomName:    demo.DefaultRoom,
		Layout:      "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(t.TempDir(), "short.mp4")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waittest.AwaitStatus(t, l, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	e, err := l.egress(info.EgressId)
	if err != nil {
		t.Fatal(err)
	}
	if e.currentSlot() == nil {
		t.Fatal("a recording egress has no slot")
	}
	if _, err := l.Stop(ctx, info.EgressId); err != nil {
		t.Fatal(err)
	}
	<-e.done
	deadline := time.Now().Add(5 * time.Second) // the slot goes just after done closes
	for e.currentSlot() != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if e.currentSlot() != nil {
		t.Error("the ended egress still holds its composite's slot")
	}
	if _, err := l.egress(info.EgressId); err != nil {
		t.Errorf("the ended egress is no longer listed: %v", err)
	}
	if _, err := l.UpdateLayout(ctx, info.EgressId, "speaker"); err == nil || !strings.Contains(err.Error(), "has ended") {
		t.Errorf("UpdateLayout of an ended egress: %v, want that it has ended", err)
	}
}

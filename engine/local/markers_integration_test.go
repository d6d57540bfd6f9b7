//go:build integration

package local_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/mediatest"
)

// TestMarkers: markers made while an egress records a file and HLS are in
// the file's .vtt and JSON sidecars and in the playlist's EXT-X-DATERANGE,
// each within 0.1 s of its time, the relabelled one with its new label;
// and in the file's own timeline: the media after the last marker lasts as
// long as the recording went on after it.
func TestMarkers(t *testing.T) {
	s := newStudio(t, 2)
	dir := t.TempDir()
	file := filepath.Join(dir, "show.mp4")
	req := &livekit.RoomCompositeEgressRequest{
		RoomName:    "demo",
		Layout:      "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: file}},
		SegmentOutputs: []*livekit.SegmentedFileOutput{{
			FilenamePrefix: filepath.Join(dir, "hls", "seg"), PlaylistName: "index.m3u8", SegmentDuration: 2,
		}},
	}
	ctx := context.Background()
	if _, err := s.engine.Mark(ctx, "EG_nope", ""); err == nil {
		t.Error("a marker on an egress that does not exist")
	}
	info := s.startActive(t, req)
	var ats []time.Time
	for i, label := range []string{"Intro", "", "Q&A"} {
		time.Sleep(time.Duration(1500+1000*i) * time.Millisecond)
		m, err := s.engine.Mark(ctx, info.EgressId, label)
		if err != nil {
			t.Fatal(err)
		}
		if m.Index != i+1 || len(m.Outputs) != 2 {
			t.Errorf("marker %d: %+v, want index %d in the file and the segments", i, m, i+1)
		}
		ats = append(ats, m.At)
	}
	if err := s.engine.Relabel(ctx, info.EgressId, 2, "Guest joins"); err != nil {
		t.Fatal(err)
	}
	if err := s.engine.Relabel(ctx, info.EgressId, 9, "x"); err == nil {
		t.Error("relabelling a marker that was never made")
	}
	time.Sleep(2 * time.Second)
	stopped := time.Now()
	final, err := s.engine.Stop(ctx, info.EgressId)
	if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("stop: %v %v", final.GetStatus(), err)
	}
	labels := []string{"Intro", "Guest joins", "Q&A"}

	// The JSON list and the chapters: times in the file, from its first frame.
	zero := time.Unix(0, final.FileResults[0].StartedAt)
	raw, err := os.ReadFile(filepath.Join(dir, "show.markers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Index int
		Time  float64
		Wall  time.Time
		Label string
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	vtt, err := os.ReadFile(filepath.Join(dir, "show.markers.vtt"))
	if err != nil {
		t.Fatal(err)
	}
	cues := regexp.MustCompile(`(\d\d):(\d\d):(\d\d)\.(\d{3}) --> [^\n]+\n([^\n]*)`).FindAllStringSubmatch(string(vtt), -1)
	if len(list) != 3 || len(cues) != 3 {
		t.Fatalf("%d markers in the JSON, %d cues in the .vtt, want 3:\n%s\n%s", len(list), len(cues), raw, vtt)
	}
	for i, m := range list {
		want := ats[i].Sub(zero).Seconds()
		if math.Abs(m.Time-want) > 0.1 || m.Label != labels[i] || !m.Wall.Equal(ats[i]) {
			t.Errorf("JSON marker %d: %+v, want %.2f s, %q", i+1, m, want, labels[i])
		}
		c := cues[i]
		clock, err := time.Parse("15:04:05.000", strings.Join(c[1:4], ":")+"."+c[4])
		if err != nil {
			t.Fatal(err)
		}
		cue := clock.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)).Seconds()
		if math.Abs(cue-want) > 0.1 || c[5] != strings.ReplaceAll(labels[i], "&", "&amp;") {
			t.Errorf("cue %d at %.3f s %q, want %.2f s %q", i+1, cue, c[5], want, labels[i])
		}
	}
	p, err := mediatest.ProbeFile(file, false)
	if err != nil {
		t.Fatal(err)
	}
	if after, want := p.Duration()-list[2].Time, stopped.Sub(ats[2]).Seconds(); math.Abs(after-want) > 0.3 {
		t.Errorf("the file holds %.2f s after the last marker; the recording went on %.2f s after it", after, want)
	}

	// The playlist: a date range per marker, at its wall-clock time.
	playlist, err := os.ReadFile(filepath.Join(dir, "hls", "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	ranges := regexp.MustCompile(`#EXT-X-DATERANGE:ID="marker-(\d)",CLASS="com.roomcast.marker",START-DATE="([^"]+)"(?:,X-LABEL="([^"]*)")?`).FindAllStringSubmatch(string(playlist), -1)
	if len(ranges) != 3 {
		t.Fatalf("%d date ranges in the playlist, want 3:\n%s", len(ranges), playlist)
	}
	for i, r := range ranges {
		at, err := time.Parse(time.RFC3339Nano, r[2])
		if err != nil {
			t.Fatal(err)
		}
		if d := at.Sub(ats[i]); r[1] != string(rune('1'+i)) || math.Abs(d.Seconds()) > 0.1 || r[3] != labels[i] {
			t.Errorf("date range %d: %q, want marker-%d at %v %q", i+1, r[0], i+1, ats[i].UTC(), labels[i])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hls", "index.markers.json")); err != nil {
		t.Errorf("no markers beside the playlist: %v", err)
	}
}

//go:build integration

package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/hooks/hookstest"
	"roomcast/engine/internal/disktest"
	"roomcast/engine/mediatest"
	"roomcast/engine/request"
	"roomcast/engine/rtmptest"
	"roomcast/engine/waittest"
)

// TestAllOutputsWithLiveStreamEdits: one egress writes a file, streams to
// two RTMP servers, writes HLS and snapshots; a third URL is added at 4 s
// and the first removed at 8 s.
func TestAllOutputsWithLiveStreamEdits(t *testing.T) {
	s := newStudio(t, 3)
	people := s.demo.Participants()
	rtmp := rtmptest.Start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "all.mp4")
	req := &livekit.RoomCompositeEgressRequest{
		RoomName:      "demo",
		Layout:        "grid",
		FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: file}},
		StreamOutputs: []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_RTMP, Urls: []string{rtmp.URL("one"), rtmp.URL("two")}}},
		SegmentOutputs: []*livekit.SegmentedFileOutput{{
			FilenamePrefix: filepath.Join(dir, "hls", "seg"), PlaylistName: "index.m3u8", LivePlaylistName: "live.m3u8", SegmentDuration: 2,
		}},
		ImageOutputs: []*livekit.ImageOutput{{CaptureInterval: 2, Width: 640, Height: 360, FilenamePrefix: filepath.Join(dir, "img", "shot")}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	info := s.startActive(t, req)
	began := time.Now()

	sleepUntil(began.Add(4 * time.Second))
	if _, err := s.engine.UpdateStream(ctx, &livekit.UpdateStreamRequest{EgressId: info.EgressId, AddOutputUrls: []string{rtmp.URL("three")}}); err != nil {
		t.Fatal(err)
	}
	added := time.Now()
	waittest.Until(t, 2*time.Second, "the added URL receives media within 2 s", func() bool { return rtmp.Received("three") > 20000 })
	t.Logf("added URL: %d bytes after %v", rtmp.Received("three"), time.Since(added).Round(time.Millisecond))

	sleepUntil(began.Add(8 * time.Second))
	if _, err := s.engine.UpdateStream(ctx, &livekit.UpdateStreamRequest{EgressId: info.EgressId, RemoveOutputUrls: []string{rtmp.URL("one")}}); err != nil {
		t.Fatal(err)
	}
	removedAt := rtmp.Received("one")
	sleepUntil(began.Add(12 * time.Second))
	// nginx finishes the file when the publisher leaves (a few bytes of
	// trailer); media would be tens of kilobytes a second.
	if got := rtmp.Received("one"); got > removedAt+1024 {
		t.Errorf("the removed URL went on receiving: %d bytes, then %d", removedAt, got)
	}
	final, err := s.engine.Stop(ctx, info.EgressId)
	if err != nil {
		t.Fatal(err)
	}
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("final status %s: %s", final.Status, final.Error)
	}

	demotest.VerifyRecording(t, file, 1280, 720, 12, people)

	// Streams: what nginx recorded decodes as H.264 + AAC at 1280x720;
	// the URL that stayed all along has no gap.
	for _, key := range []string{"one", "two", "three"} {
		rtmp.CheckRecording(t, key, 1280, 720)
	}
	if gap := maxVideoGap(t, rtmp.Recordings("two")[0]); gap > 2.5/30 {
		t.Errorf("stream two has a %.0f ms gap; want none over 2 frames", gap*1000)
	}
	stream := map[string]*livekit.StreamInfo{}
	for _, si := range final.StreamResults {
		stream[si.Url] = si
		if strings.Contains(si.Url, "/one") || strings.Contains(si.Url, "/two") || strings.Contains(si.Url, "/three") {
			t.Errorf("stream result shows a stream key: %q", si.Url)
		}
	}
	if len(final.StreamResults) != 3 {
		t.Errorf("%d stream results, want 3", len(final.StreamResults))
	}
	for _, si := range final.StreamResults {
		if si.Status != livekit.StreamInfo_FINISHED || si.Error != "" {
			t.Errorf("stream %s: %s %q, want FINISHED", si.Url, si.Status, si.Error)
		}
	}

	// HLS: ffprobe reads the recording through the playlist; 6 +/- 1
	// segments of 2 s.
	playlist := filepath.Join(dir, "hls", "index.m3u8")
	p, err := mediatest.ProbeFile(playlist, false)
	if err != nil {
		t.Fatalf("the playlist does not play: %v", err)
	}
	if d := p.Duration(); math.Abs(d-12) > 1.5 {
		t.Errorf("HLS duration %.2f s, want about 12", d)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "hls", "seg_*.ts"))
	if len(segs) < 5 || len(segs) > 7 {
		t.Errorf("%d segments, want 6 +/- 1", len(segs))
	}
	durs := mediatest.PlaylistDurations(t, playlist)
	if len(durs) != len(segs) {
		for _, f := range segs {
			t.Logf("segment file %s: %d bytes", filepath.Base(f), sizeOf(f))
		}
		t.Errorf("playlist lists %d segments of %d", len(durs), len(segs))
	}
	// Every segment but the last lasts 2 s: the key frame forced for the
	// URL added at 4 s cuts none short, and the segments ask the shared
	// encoder for a key frame at each of their own boundaries, so none
	// runs long either.
	for i := 0; i < len(durs)-1; i++ {
		if math.Abs(durs[i]-2) > 0.05 {
			t.Errorf("segment %d lasts %.3f s, want 2 (all: %v)", i, durs[i], durs)
		}
	}
	// The first starts at the egress's first frame, not at the start of
	// the composite, which ran while the page joined the room.
	if len(durs) > 0 && math.Abs(durs[0]-2) > 0.1 {
		t.Errorf("the first segment lasts %.3f s, want 2 (all: %v)", durs[0], durs)
	}
	if sr := final.SegmentResults; len(sr) != 1 || int(sr[0].SegmentCount) != len(segs) || sr[0].Size == 0 {
		t.Errorf("segment results = %v, want %d segments", sr, len(segs))
	}

	// Images: 6 +/- 1 JPEGs of 640x360 and a manifest listing them.
	shots, _ := filepath.Glob(filepath.Join(dir, "img", "shot_*.jpeg"))
	if len(shots) < 5 || len(shots) > 7 {
		t.Errorf("%d images, want 6 +/- 1", len(shots))
	}
	for _, shot := range shots {
		f, err := os.Open(shot)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 640 || cfg.Height != 360 {
			t.Errorf("%s: %dx%d (%v), want 640x360", filepath.Base(shot), cfg.Width, cfg.Height, err)
		}
	}
	// The egress's manifest, LiveKit Egress's: beside the file, the
	// playlist and the images, the same in each; its location is the
	// first (the file's); it names the room by its ID.
	var manifest struct {
		EgressID  string `json:"egress_id"`
		RoomID    string `json:"room_id"`
		Files     []struct{ Filename string }
		Playlists []struct {
			Segments []struct{ Filename string }
		}
		Images []struct{ Filename string }
	}
	if want := filepath.Join(dir, info.EgressId+".json"); final.ManifestLocation != want {
		t.Errorf("manifest location %q, want %q", final.ManifestLocation, want)
	}
	var copies [][]byte
	for _, d := range []string{dir, filepath.Join(dir, "hls"), filepath.Join(dir, "img")} {
		data, err := os.ReadFile(filepath.Join(d, info.EgressId+".json"))
		if err != nil {
			t.Fatalf("no manifest in %s: %v", d, err)
		}
		copies = append(copies, data)
	}
	if err := json.Unmarshal(copies[0], &manifest); err != nil {
		t.Fatal(err)
	}
	if string(copies[1]) != string(copies[0]) || string(copies[2]) != string(copies[0]) {
		t.Error("the manifest's copies differ")
	}
	if manifest.EgressID != info.EgressId || !strings.HasPrefix(manifest.RoomID, "RM_") || manifest.RoomID != final.RoomId {
		t.Errorf("manifest egress %q room %q, want %s and the room's ID %q", manifest.EgressID, manifest.RoomID, info.EgressId, final.RoomId)
	}
	listed := -1
	if len(manifest.Playlists) == 1 {
		listed = len(manifest.Playlists[0].Segments)
	}
	if len(manifest.Files) != 1 || listed != len(segs) || len(manifest.Images) != len(shots) {
		t.Errorf("manifest lists %d files, %d playlists (%d segments of %d), %d images of %d", len(manifest.Files), len(manifest.Playlists),
			listed, len(segs), len(manifest.Images), len(shots))
	}
	if ir := final.ImageResults; len(ir) != 1 || int(ir[0].ImageCount) != len(shots) {
		t.Errorf("image results = %v, want %d images", ir, len(shots))
	}
}

// TestStreamServerFault: an RTMP server dies at 4 s and comes back at 8 s:
// the destination is retried and receives again, the other outputs have no
// gap; with the server gone for good it ends FAILED and the egress goes on.
func TestStreamServerFault(t *testing.T) {
	s := newStudio(t, 2)
	steady := rtmptest.Start(t)
	flaky := rtmptest.Start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "fault.mp4")
	req := &livekit.RoomCompositeEgressRequest{
		RoomName:    "demo",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: file}},
		// The legacy single stream field, as older clients send it.
		//lint:ignore SA1019 the deprecated field is what is tested
		Output: &livekit.RoomCompositeEgressRequest_Stream{Stream: &livekit.StreamOutput{Urls: []string{steady.URL("steady"), flaky.URL("flaky")}}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	info := s.startActive(t, req)
	began := time.Now()
	sleepUntil(began.Add(4 * time.Second))
	flaky.Stop()
	sleepUntil(began.Add(8 * time.Second))
	flaky.Start()
	waittest.Until(t, 20*time.Second, "the flaky destination reconnects and receives again", func() bool {
		return len(flaky.Recordings("flaky")) >= 2 && sizeOf(flaky.Recordings("flaky")[1]) > 20000
	})
	mid := flakyInfo(t, s, info.EgressId, flaky)
	if mid.Retries == 0 || mid.LastRetryAt == 0 || mid.Status != livekit.StreamInfo_ACTIVE {
		t.Errorf("after the outage: %v, want ACTIVE with retries counted", mid)
	}
	t.Logf("after the outage: retries %d", mid.Retries)

	// Gone for good: FAILED with a reason after the bounded retry time.
	flaky.Stop()
	deadline := time.Now().Add(60 * time.Second)
	for {
		si := flakyInfo(t, s, info.EgressId, flaky)
		if si.Status == livekit.StreamInfo_FAILED {
			if si.Error == "" {
				t.Error("FAILED with no reason")
			}
			t.Logf("gave up: %s", si.Error)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("destination still %s after 60 s without a server", si.Status)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got, _ := engine.Items(s.engine.List(ctx, &livekit.ListEgressRequest{EgressId: info.EgressId})); len(got) != 1 || got[0].Status != livekit.EgressStatus_EGRESS_ACTIVE {
		t.Fatalf("the egress did not go on: %v", got)
	}
	final, err := s.engine.Stop(ctx, info.EgressId)
	if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("stop: %v %v", final.GetStatus(), err)
	}
	// The other outputs show no gap while a destination fails and is
	// retried.
	if gap := maxVideoGap(t, steady.Recordings("steady")[0]); gap > 2.5/30 {
		t.Errorf("the steady stream has a %.0f ms gap", gap*1000)
	}
	if gap := maxVideoGap(t, file); gap > 2.5/30 {
		t.Errorf("the file has a %.0f ms gap", gap*1000)
	}
}

func TestStreamBadInput(t *testing.T) {
	s := newStudio(t, 1)
	ctx := context.Background()
	cases := []struct {
		name, url, field string
	}{
		{"not rtmp", "http://example.com/live/key", "stream_outputs[0].urls[0]"},
		{"no host", "rtmp:///live/key", "stream_outputs[0].urls[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.engine.Start(ctx, &livekit.RoomCompositeEgressRequest{
				RoomName: "demo", StreamOutputs: []*livekit.StreamOutput{{Urls: []string{tc.url}}},
			})
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want one naming %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "/key") {
				t.Errorf("error shows the stream key: %v", err)
			}
		})
	}
	_, err := s.engine.Start(ctx, &livekit.RoomCompositeEgressRequest{
		RoomName: "demo", ImageOutputs: []*livekit.ImageOutput{{CaptureInterval: 0, FilenamePrefix: filepath.Join(t.TempDir(), "x")}},
	})
	if err == nil || !strings.Contains(err.Error(), "capture_interval") {
		t.Errorf("capture_interval 0: err = %v, want one naming the field", err)
	}
}

// flakyInfo finds the destination on server srv among the results (its
// URL is shown redacted, but with its host and port).
func flakyInfo(t *testing.T, s *studio, id string, srv *rtmptest.Server) *livekit.StreamInfo {
	t.Helper()
	got, err := engine.Items(s.engine.List(context.Background(), &livekit.ListEgressRequest{EgressId: id}))
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %v %v", got, err)
	}
	hostPort := strings.TrimPrefix(srv.URL(""), "rtmp://")
	hostPort = hostPort[:strings.IndexByte(hostPort, '/')]
	for _, si := range got[0].StreamResults {
		if strings.Contains(si.Url, hostPort) {
			return si
		}
	}
	t.Fatalf("no stream result for %s in %v", hostPort, got[0].StreamResults)
	return nil
}

// maxVideoGap is the longest step between consecutive video timestamps.
func maxVideoGap(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe packets of %s: %v", path, err)
	}
	var ts []float64
	for _, line := range strings.Fields(string(out)) {
		if v, err := strconv.ParseFloat(strings.TrimSuffix(line, ","), 64); err == nil {
			ts = append(ts, v)
		}
	}
	sortFloats(ts)
	gap, at := 0.0, 0.0
	for i := 1; i < len(ts); i++ {
		if d := ts[i] - ts[i-1]; d > gap {
			gap, at = d, ts[i-1]
		}
	}
	if gap > 2.5/30 {
		t.Logf("%s: %.0f ms gap at %.2f s (of %.2f s)", filepath.Base(path), gap*1000, at, ts[len(ts)-1])
	}
	return gap
}

func sortFloats(a []float64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func sizeOf(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// TestRecordAndGoLiveShareAnEncoder: the studio's Record (a file) and Go
// Live (an RTMP destination) are two egresses with the same preset on one
// composite; they share one encode: one x264enc and one AAC encoder run
// while both do. Both outputs verify, and stopping one leaves the other
// recording.
func TestRecordAndGoLiveShareAnEncoder(t *testing.T) {
	s := newStudio(t, 3)
	people := s.demo.Participants()
	rtmp := rtmptest.Start(t)
	file := filepath.Join(t.TempDir(), "record.mp4")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := s.startActive(t, &livekit.RoomCompositeEgressRequest{
		RoomName: "demo", Layout: "grid", StreamOutputs: []*livekit.StreamOutput{{Urls: []string{rtmp.URL("live")}}},
	})
	time.Sleep(2300 * time.Millisecond) // mid-GOP
	rec := s.startActive(t, fileRequest(file, livekit.EncodingOptionsPreset_H264_720P_30))
	recording := time.Now()
	stats := s.engine.Stats()
	if len(stats) != 1 || stats[0].VideoEncoders != 1 || stats[0].AudioEncoders != 1 {
		t.Fatalf("Record + Go Live run %+v, want one composite with one video and one audio encoder", stats)
	}
	// A second destination, with an ID, joins the stream (UpdateStream's
	// add_destinations); its StreamInfo carries the ID.
	if _, err := s.engine.UpdateStream(ctx, &livekit.UpdateStreamRequest{EgressId: live.EgressId,
		AddDestinations: []*livekit.StreamDestination{{Id: "backup", Url: rtmp.URL("backup")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.engine.UpdateStream(ctx, &livekit.UpdateStreamRequest{EgressId: live.EgressId,
		AddDestinations: []*livekit.StreamDestination{{Id: "backup", Url: rtmp.URL("other")}}}); err == nil || !strings.Contains(err.Error(), "add_destinations[0].id") {
		t.Errorf("a second destination with the id in use: %v, want an error naming add_destinations[0].id", err)
	}
	if _, err := s.engine.StreamRates(live.EgressId); err != nil { // the rates' start
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	rates, err := s.engine.StreamRates(live.EgressId)
	if err != nil {
		t.Fatal(err)
	}
	final, err := s.engine.Stop(ctx, rec.EgressId)
	if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("stop the recording: %v %v", final.GetStatus(), err)
	}
	recorded := time.Since(recording).Seconds()
	time.Sleep(2 * time.Second)
	if got := s.engine.Stats(); len(got) != 1 || got[0].VideoEncoders != 1 {
		t.Errorf("after the recording stopped: %+v, want the stream's encoder on", got)
	}
	liveFinal, err := s.engine.Stop(ctx, live.EgressId)
	if err != nil || liveFinal.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("stop the stream: %v %v", liveFinal.GetStatus(), err)
	}
	if sr := liveFinal.StreamResults; len(sr) != 2 || sr[0].Id != "" || sr[1].Id != "backup" || sr[1].Status != livekit.StreamInfo_FINISHED {
		t.Errorf("stream results %v, want the plain URL and the destination \"backup\", FINISHED", sr)
	}
	rtmp.CheckRecording(t, "backup", 1280, 720)
	// The rate measured at the sink is what the server received.
	for _, name := range []string{"live", "backup"} {
		got := rates[request.RedactURL(rtmp.URL(name))]
		rec := rtmp.Recordings(name)[0]
		p, err := mediatest.ProbeFile(rec, false)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(rec)
		received := float64(st.Size()) * 8 / 1000 / p.Duration()
		t.Logf("%s: %.0f kb/s measured at the sink, %.0f kb/s in the server's recording", name, got, received)
		if got < 0.6*received || got > 1.5*received {
			t.Errorf("%s: %.0f kb/s measured, the server's recording has %.0f kb/s", name, got, received)
		}
	}
	demotest.VerifyRecording(t, file, 1280, 720, recorded, people)
	rtmp.CheckRecording(t, "live", 1280, 720)
	if gap := maxVideoGap(t, rtmp.Recordings("live")[0]); gap > 2.5/30 {
		t.Errorf("the stream has a %.0f ms gap where the recording joined and left", gap*1000)
	}
}

// TestOneOutputFailsAlone: an egress with a file, HLS segments and images,
// whose file's disk fills after a few seconds: the file ends with what it
// has, the segments and images go on and complete, and the egress ends
// COMPLETE, naming the failed output and why.
func TestOneOutputFailsAlone(t *testing.T) {
	small := disktest.Small(t, 256<<10)
	s := newStudio(t, 3)
	people := s.demo.Participants()
	dir := t.TempDir()
	req := &livekit.RoomCompositeEgressRequest{
		RoomName:    "demo",
		Layout:      "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(small, "full.mp4")}},
		SegmentOutputs: []*livekit.SegmentedFileOutput{{
			FilenamePrefix: filepath.Join(dir, "hls", "seg"), PlaylistName: "index.m3u8", SegmentDuration: 2,
		}},
		ImageOutputs: []*livekit.ImageOutput{{CaptureInterval: 2, Width: 320, Height: 180, FilenamePrefix: filepath.Join(dir, "img", "shot")}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	info := s.startActive(t, req)
	time.Sleep(10 * time.Second)
	mid, err := engine.Items(s.engine.List(ctx, &livekit.ListEgressRequest{EgressId: info.EgressId}))
	if err != nil || len(mid) != 1 || mid[0].Status != livekit.EgressStatus_EGRESS_ACTIVE {
		t.Fatalf("with its file's disk full, the egress is %v (%v), want ACTIVE", mid, err)
	}
	stopped := time.Now()
	final, err := s.engine.Stop(ctx, info.EgressId)
	if err != nil {
		t.Fatal(err)
	}
	if len(final.SegmentResults) != 1 || final.SegmentResults[0].StartedAt == 0 {
		t.Fatalf("segment results %v, want one that started", final.SegmentResults)
	}
	// What the segments must hold: from their first frame to the stop.
	secs := stopped.Sub(time.Unix(0, final.SegmentResults[0].StartedAt)).Seconds()
	t.Logf("final: %s, error %q, details %q", final.Status, final.Error, final.Details)
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Errorf("status %s, want COMPLETE: two of its three outputs completed", final.Status)
	}
	if !strings.Contains(final.Error, "file_outputs[0]") || !strings.Contains(final.Error, "No space left") {
		t.Errorf("error %q does not name the file output and its full disk", final.Error)
	}
	for _, want := range []string{"End reason: " + livekit.EndReasonAPI + "; ", "file_outputs[0]: ", "segment_outputs[0]: complete", "image_outputs[0]: complete"} {
		if !strings.Contains(final.Details, want) {
			t.Errorf("details %q lack %q", final.Details, want)
		}
	}
	// The segments and images run to the end.
	durs := mediatest.PlaylistDurations(t, filepath.Join(dir, "hls", "index.m3u8"))
	var total float64
	for _, d := range durs {
		total += d
	}
	if math.Abs(total-secs) > 0.5 {
		t.Errorf("the segments add up to %.1f s of %.1f s recorded (%v)", total, secs, durs)
	}
	p, err := mediatest.ProbeFile(filepath.Join(dir, "hls", "index.m3u8"), true)
	if err != nil {
		t.Fatalf("the playlist does not play: %v", err)
	}
	if v := p.First("video"); v == nil || v.Width != 1280 || v.Frames() < int((secs-1.5)*30) {
		t.Errorf("the playlist's video %+v, want 1280x720 with about %.0f frames", v, secs*30)
	}
	shots, _ := filepath.Glob(filepath.Join(dir, "img", "shot_*.jpeg"))
	if n := len(shots); n < int(secs/2)-1 {
		t.Errorf("%d images in %.1f s at one every 2 s", n, secs)
	}
	if ir := final.ImageResults; len(ir) != 1 || int(ir[0].ImageCount) != len(shots) {
		t.Errorf("image results %v, want %d images", ir, len(shots))
	}
	// The full disk's file keeps what fit: it plays, with the room in it.
	fr := final.FileResults
	if len(fr) != 1 || fr[0].Size == 0 {
		t.Fatalf("file results %v, want the partial file", fr)
	}
	pf, err := mediatest.ProbeFile(fr[0].Location, true)
	if err != nil {
		t.Fatalf("the partial file does not play: %v", err)
	}
	v := pf.First("video")
	if v == nil || v.Frames() < 15 {
		t.Fatalf("the partial file holds %+v, want at least half a second of video", v)
	}
	t.Logf("the partial file: %d bytes, %.2f s, %d frames", fr[0].Size, pf.Duration(), v.Frames())
	img, err := mediatest.FrameAt(fr[0].Location, pf.Duration()/2)
	if err != nil {
		t.Fatal(err)
	}
	for _, person := range people {
		if !mediatest.Contains(img, person.Color, 50, 6) {
			t.Errorf("the partial file's middle frame has no %s", person.Identity)
		}
	}
}

// TestRoomIDAndTwoImageOutputs: {room_id} in a name and EgressInfo's
// room_id are the room's SID on the LiveKit server; two image outputs run
// side by side, each at its own size and interval, and one with
// disable_manifest gets no manifest; a room the server does not have is
// refused at Start, naming room_name.
func TestRoomIDAndTwoImageOutputs(t *testing.T) {
	s := newStudio(t, 2)
	ctx := context.Background()
	rooms, err := lksdk.NewRoomServiceClient(s.demo.HTTPURL(), s.demo.APIKey(), s.demo.APISecret()).ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{"demo"}})
	if err != nil || len(rooms.Rooms) != 1 {
		t.Fatalf("the demo room: %v %v", rooms, err)
	}
	sid := rooms.Rooms[0].Sid
	dir := t.TempDir()
	info := s.startActive(t, &livekit.RoomCompositeEgressRequest{
		RoomName:    "demo",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, "rec-{room_id}.mp4")}},
		ImageOutputs: []*livekit.ImageOutput{
			{CaptureInterval: 1, Width: 320, Height: 180, FilenamePrefix: filepath.Join(dir, "small", "s")},
			{CaptureInterval: 2, FilenamePrefix: filepath.Join(dir, "big", "b"), DisableManifest: true},
		},
	})
	if info.RoomId != sid {
		t.Errorf("room_id %q, want the room's SID %q", info.RoomId, sid)
	}
	time.Sleep(6 * time.Second)
	final, err := s.engine.Stop(ctx, info.EgressId)
	if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("stop: %v %v", final.GetStatus(), err)
	}
	if want := filepath.Join(dir, "rec-"+sid+".mp4"); len(final.FileResults) != 1 || final.FileResults[0].Filename != want {
		t.Errorf("file results %v, want %s", final.FileResults, want)
	}
	for _, c := range []struct {
		glob      string
		w, h, min int
	}{{filepath.Join(dir, "small", "s_*.jpeg"), 320, 180, 5}, {filepath.Join(dir, "big", "b_*.jpeg"), 1280, 720, 3}} {
		shots, _ := filepath.Glob(c.glob)
		if len(shots) < c.min {
			t.Errorf("%s: %d images, want %d or more", c.glob, len(shots), c.min)
			continue
		}
		f, err := os.Open(shots[0])
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != c.w || cfg.Height != c.h {
			t.Errorf("%s: %dx%d (%v), want %dx%d", shots[0], cfg.Width, cfg.Height, err, c.w, c.h)
		}
	}
	if len(final.ImageResults) != 2 || final.ImageResults[0].ImageCount <= final.ImageResults[1].ImageCount {
		t.Errorf("image results %v, want two, the first (every second) with more images", final.ImageResults)
	}
	if _, err := os.Stat(filepath.Join(dir, "small", info.EgressId+".json")); err != nil {
		t.Errorf("no manifest beside the small images: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "big", info.EgressId+".json")); err == nil {
		t.Error("a manifest beside the images with disable_manifest")
	}

	_, err = s.engine.Start(ctx, &livekit.RoomCompositeEgressRequest{RoomName: "nobody-here", FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, "x.mp4")}}})
	if !errors.Is(err, engine.ErrRoomNotFound) || !strings.Contains(err.Error(), "room_name") {
		t.Errorf("a room the server lacks: %v, want ErrRoomNotFound naming room_name", err)
	}
}

// TestAudioOnlyOutputs: an audio_only request records AAC in an MP4,
// audio-only HLS cut into segments of its own length, and an audio-only
// RTMP stream, all with the room's tones and no video, as LiveKit Egress
// does; no screen is captured for it.
func TestAudioOnlyOutputs(t *testing.T) {
	s := newStudio(t, 2)
	people := s.demo.Participants()
	rtmp := rtmptest.Start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "voices.mp4")
	info := s.startActive(t, &livekit.RoomCompositeEgressRequest{
		RoomName:      "demo",
		AudioOnly:     true,
		FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: file, FileType: livekit.EncodedFileType_MP4}},
		StreamOutputs: []*livekit.StreamOutput{{Urls: []string{rtmp.URL("voices")}}},
		// The playlists name another folder: they go beside the segments
		// anyway, as LiveKit documents it. In the legacy single field.
		//lint:ignore SA1019 the deprecated field is what is tested
		Output: &livekit.RoomCompositeEgressRequest_Segments{Segments: &livekit.SegmentedFileOutput{
			FilenamePrefix: filepath.Join(dir, "hls", "seg"), PlaylistName: "elsewhere/index.m3u8", LivePlaylistName: "elsewhere/live.m3u8", SegmentDuration: 2,
		}},
	})
	if st := s.engine.Stats(); len(st) != 1 || st[0].VideoEncoders != 0 || st[0].AudioEncoders != 1 {
		t.Errorf("audio only runs %+v, want one audio encoder and no video", st)
	}
	time.Sleep(7 * time.Second)
	final, err := s.engine.Stop(context.Background(), info.EgressId)
	if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("stop: %v %v (%s)", final.GetStatus(), err, final.GetError())
	}
	audioOnly := func(what, path string, seconds float64) {
		t.Helper()
		p, err := mediatest.ProbeFile(path, false)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if v, a := p.First("video"), p.First("audio"); v != nil || a == nil || a.CodecName != "aac" {
			t.Errorf("%s: streams %+v / %+v, want AAC audio alone", what, v, a)
		}
		if d := p.Duration(); math.Abs(d-seconds) > 1.5 {
			t.Errorf("%s: %.2f s, want %.0f +/- 1.5", what, d, seconds)
		}
		demotest.VerifyTones(t, path, people)
	}
	audioOnly("the MP4", file, 7)
	playlist := filepath.Join(dir, "hls", "index.m3u8")
	audioOnly("the HLS playlist", playlist, 7)
	if _, err := os.Stat(filepath.Join(dir, "hls", "live.m3u8")); err != nil {
		t.Errorf("the live playlist is not beside the segments: %v", err)
	}
	if sr := final.SegmentResults; len(sr) != 1 || sr[0].PlaylistLocation != playlist {
		t.Errorf("segment results %v, want the playlist at %s", sr, playlist)
	}
	durs := mediatest.PlaylistDurations(t, playlist)
	for i := 0; i < len(durs)-1; i++ {
		if math.Abs(durs[i]-2) > 0.05 {
			t.Errorf("audio segment %d lasts %.3f s, want 2 (all: %v)", i, durs[i], durs)
		}
	}
	if recs := rtmp.Recordings("voices"); len(recs) != 1 {
		t.Errorf("%d RTMP recordings, want 1", len(recs))
	} else {
		audioOnly("the RTMP stream", recs[0], 7)
	}
}

// TestAudioSettings: advanced.audio_frequency 44100 records at 44100 Hz,
// and advanced.audio_codec OPUS puts Opus in the MP4; the two requests run
// side by side on one composite, with one video encoder (same video
// settings) and two audio encoders (different audio settings). One uses
// the legacy single file field: both report their file in the deprecated
// single result too, as LiveKit Egress does for a file-only request.
func TestAudioSettings(t *testing.T) {
	s := newStudio(t, 2)
	people := s.demo.Participants()
	dir := t.TempDir()
	advanced := func(path string, codec livekit.AudioCodec, hz uint32) *livekit.RoomCompositeEgressRequest {
		return &livekit.RoomCompositeEgressRequest{
			RoomName:    "demo",
			FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}},
			Options: &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{
				AudioCodec: codec, AudioFrequency: int32(hz), AudioBitrate: 96,
			}},
		}
	}
	legacy := advanced("", livekit.AudioCodec_AAC, 44100)
	legacy.FileOutputs = nil
	//lint:ignore SA1019 the deprecated field is what is tested
	legacy.Output = &livekit.RoomCompositeEgressRequest_File{File: &livekit.EncodedFileOutput{Filepath: filepath.Join(dir, "44k.mp4")}}
	slow := s.startActive(t, legacy)
	opus := s.startActive(t, advanced(filepath.Join(dir, "opus.mp4"), livekit.AudioCodec_OPUS, 48000))
	if st := s.engine.Stats(); len(st) != 1 || st[0].VideoEncoders != 1 || st[0].AudioEncoders != 2 {
		t.Errorf("running %+v, want one composite with one video and two audio encoders", st)
	}
	time.Sleep(5 * time.Second)
	for _, id := range []string{slow.EgressId, opus.EgressId} {
		final, err := s.engine.Stop(context.Background(), id)
		if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
			t.Fatalf("stop %s: %v %v", id, final.GetStatus(), err)
		}
		//lint:ignore SA1019 the deprecated field is what is tested
		if single := final.GetFile(); single == nil || len(final.FileResults) != 1 || single.Filename != final.FileResults[0].Filename || single.Size != final.FileResults[0].Size {
			t.Errorf("%s: deprecated file result %v, want %v", id, single, final.FileResults)
		}
	}
	for _, c := range []struct{ name, codec, rate string }{{"44k.mp4", "aac", "44100"}, {"opus.mp4", "opus", "48000"}} {
		path := filepath.Join(dir, c.name)
		p := mediatest.VerifyVideo(t, path, mediatest.Expect{Width: 1280, Height: 720, Seconds: 5, Tolerance: 1.5, Audio: c.codec})
		if a := p.First("audio"); a == nil || a.SampleRate != c.rate {
			t.Errorf("%s: audio %+v, want %s Hz", c.name, a, c.rate)
		}
		demotest.VerifyTones(t, path, people)
	}
}

// TestRequestWebhooks: a request's own webhooks are posted as LiveKit's
// are, signed with the key the request names (its secret from the
// engine's keys), each receiver getting the events its filter asks for; a
// signing key the server lacks is refused at Start.
func TestRequestWebhooks(t *testing.T) {
	s := newStudio(t, 1)
	key, secret := s.demo.APIKey(), s.demo.APISecret()
	ends, endsURL := hookstest.New(t, key, secret)
	all, allURL := hookstest.New(t, key, secret)
	dir := t.TempDir()
	req := fileRequest(filepath.Join(dir, "hooked.mp4"), livekit.EncodingOptionsPreset_H264_720P_30)
	req.Webhooks = []*livekit.WebhookConfig{
		{Url: endsURL, SigningKey: key, FilterParams: &livekit.FilterParams{IncludeEvents: []string{"egress_started", "egress_ended"}}},
		{Url: allURL},
	}
	info := s.startActive(t, req)
	time.Sleep(3 * time.Second)
	if final, err := s.engine.Stop(context.Background(), info.EgressId); err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("stop: %v %v", final.GetStatus(), err)
	}
	hookstest.CheckOrder(t, all.WaitEnded(t, info.EgressId, 15*time.Second))
	if got := hookstest.Names(ends.WaitEnded(t, info.EgressId, 15*time.Second)); len(got) != 2 || got[0] != "egress_started/STARTING" && got[0] != "egress_started/ACTIVE" || got[1] != "egress_ended/COMPLETE" {
		t.Errorf("the filtered receiver got %v, want egress_started and egress_ended only", got)
	}

	req.Webhooks = []*livekit.WebhookConfig{{Url: endsURL, SigningKey: "APInotours"}}
	if _, err := s.engine.Start(context.Background(), req); err == nil || !strings.Contains(err.Error(), "webhooks[0].signing_key") {
		t.Errorf("a signing key the server lacks: %v, want an error naming webhooks[0].signing_key", err)
	}
}

// TestDestinationOffAndOn: a destination switched off while live (removed
// with UpdateStream) gets nothing more: its server's recording ends there;
// switched on again (added back), it is sent a new stream from a key
// frame. The other destination's recording runs the whole time without a
// gap.
func TestDestinationOffAndOn(t *testing.T) {
	s := newStudio(t, 2)
	rtmp := rtmptest.Start(t)
	ctx := context.Background()
	info := s.startActive(t, &livekit.RoomCompositeEgressRequest{
		RoomName: "demo", Layout: "grid",
		StreamOutputs: []*livekit.StreamOutput{{Urls: []string{rtmp.URL("stays"), rtmp.URL("toggled")}}},
	})
	began := time.Now()
	update := func(req *livekit.UpdateStreamRequest) time.Time {
		t.Helper()
		req.EgressId = info.EgressId
		if _, err := s.engine.UpdateStream(ctx, req); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	sleepUntil(began.Add(4 * time.Second))
	off := update(&livekit.UpdateStreamRequest{RemoveOutputUrls: []string{rtmp.URL("toggled")}})
	sleepUntil(off.Add(3 * time.Second))
	on := update(&livekit.UpdateStreamRequest{AddOutputUrls: []string{rtmp.URL("toggled")}})
	sleepUntil(on.Add(4 * time.Second))
	stopped := time.Now()
	final, err := s.engine.Stop(ctx, info.EgressId)
	if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("stop: %v %v", final.GetStatus(), err)
	}
	total := stopped.Sub(began).Seconds()

	recs := rtmp.Recordings("toggled")
	if len(recs) != 2 {
		t.Fatalf("toggled: %d recordings, want 2 (before off, after on)", len(recs))
	}
	for i, want := range []float64{off.Sub(began).Seconds(), stopped.Sub(on).Seconds()} {
		p, err := mediatest.ProbeFile(recs[i], true)
		if err != nil {
			t.Fatal(err)
		}
		// Connecting and the first key frame take up to about a second.
		if d := p.Duration(); d < want-1.5 || d > want+0.5 {
			t.Errorf("toggled, recording %d: %.2f s, want about %.2f", i+1, d, want)
		}
		if v := p.First("video"); v == nil || v.Width != 1280 {
			t.Errorf("toggled, recording %d: video %+v", i+1, v)
		}
	}
	rtmp.CheckRecording(t, "stays", 1280, 720)
	stays := rtmp.Recordings("stays")[0]
	p, err := mediatest.ProbeFile(stays, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Duration(); d < total-1.5 {
		t.Errorf("stays: %.2f s of %.2f", d, total)
	}
	if gap := maxVideoGap(t, stays); gap > 2.5/30 {
		t.Errorf("stays has a %.0f ms gap while the other was switched", gap*1000)
	}
}

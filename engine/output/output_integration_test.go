//go:build integration

package output_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/mediatest"
	"roomcast/engine/output"
	"roomcast/engine/pipeline"
	"roomcast/engine/pipeline/pipelinetest"
	"roomcast/engine/request"
	"roomcast/engine/storage"
	"roomcast/engine/waittest"
)

// localEnv is an output's Env writing to local disk, listing what it
// writes in m.
func localEnv(t *testing.T, name, field string, m *output.Manifest) output.Env {
	t.Helper()
	store, err := storage.New(context.Background(), nil, storage.Options{Field: field})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return output.Env{Name: name, Field: field, Store: store, Logf: t.Logf, Changed: func() {}, Manifest: m}
}

var enc = output.Encoding{
	Video: &pipeline.VideoEncoding{BitrateKbps: 1000, KeyFrameInterval: 2},
	Audio: &pipeline.AudioEncoding{Codec: pipeline.AAC, BitrateKbps: 96},
	FPS:   30,
}

// TestSegmentsCutAtTheirOwnBoundaries: HLS with 2 s segments on an encoder
// that two files join while it runs (each asks for a key frame, which
// restarts the encoder's GOP): every segment still lasts 2 s, from the
// segments' own zero on a capture that ran 3 s before them. Each is listed
// as the next one starts (images every 100 ms, from the same frames, serve
// as the clock: when a segment is listed, no image from the second half of
// the next one is), holds H.264 and AAC, and the playlist plays, its audio
// covering its video from the first frame to the last.
func TestSegmentsCutAtTheirOwnBoundaries(t *testing.T) {
	r := pipelinetest.NewRig(t, 640, 360)
	c := r.Capture(t, 30, nil)
	time.Sleep(3 * time.Second)
	dir := t.TempDir()
	manifest := output.NewManifest("EG_test", "RM_test", "demo", "")
	segs := output.NewSegments(request.SegmentOutput{
		Field: "segment_outputs[0]", Dir: dir, FilenamePrefix: "seg", PlaylistName: "index.m3u8",
		LivePlaylistName: "live.m3u8", SegmentDurationSec: 2,
	}, enc, localEnv(t, "hls", "segment_outputs[0]", manifest))
	shots := output.NewImages(request.ImageOutput{
		Field: "image_outputs[0]", CaptureIntervalSec: 1, Width: 160, Height: 90, Dir: dir, FilenamePrefix: "shot",
	}, localEnv(t, "shots", "image_outputs[0]", manifest))
	for _, o := range []output.Output{segs, shots} {
		if err := o.Start(c); err != nil {
			t.Fatal(err)
		}
	}
	waittest.Until(t, 5*time.Second, "the segments' first frame", func() bool { return !segs.Started().IsZero() })
	began := time.Now()

	// Two files join, at 3.3 s and 5.7 s: each forces a key frame.
	var files []*output.File
	for i, at := range []time.Duration{3300 * time.Millisecond, 5700 * time.Millisecond} {
		time.Sleep(time.Until(began.Add(at)))
		f := output.NewFile(request.FileOutput{Field: fmt.Sprintf("file_outputs[%d]", i), FileType: livekit.EncodedFileType_MP4,
			Filepath: filepath.Join(dir, fmt.Sprintf("join%d.mp4", i))}, enc, localEnv(t, fmt.Sprintf("join%d", i), "file", manifest))
		if err := f.Start(c); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if n := c.Elements("x264enc"); n != 1 {
		t.Errorf("%d x264enc for segments and two files of one encoding, want 1", n)
	}

	// Count the images listed when each segment is listed.
	var mu sync.Mutex
	imagesAt := map[int64]int64{}
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			info := &livekit.EgressInfo{}
			segs.Fill(info)
			shots.Fill(info)
			mu.Lock()
			if n := info.SegmentResults[0].SegmentCount; n > 0 {
				if _, seen := imagesAt[n]; !seen {
					imagesAt[n] = info.ImageResults[0].ImageCount
				}
			}
			mu.Unlock()
			select {
			case <-stopWatch:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	time.Sleep(time.Until(began.Add(11 * time.Second)))
	var wg sync.WaitGroup
	for _, o := range []output.Output{segs, shots, files[0], files[1]} {
		wg.Go(o.Stop)
	}
	wg.Wait()
	close(stopWatch)
	<-watched

	for _, o := range []output.Output{segs, shots, files[0], files[1]} {
		if err := o.Err(); err != nil {
			t.Errorf("%s: %v", o.Field(), err)
		}
	}
	durs := mediatest.PlaylistDurations(t, filepath.Join(dir, "index.m3u8"))
	t.Logf("segments: %v", durs)
	if len(durs) < 5 {
		t.Fatalf("%d segments in 11 s, want 5 or 6", len(durs))
	}
	for i, d := range durs[:len(durs)-1] {
		if math.Abs(d-2) > 0.05 {
			t.Errorf("segment %d lasts %.3f s, want 2 (a key frame forced for a file moved a cut)", i, d)
		}
	}
	mu.Lock()
	for n, images := range imagesAt {
		// Segment n ends n*2 s in; an image a second: by the middle of
		// the next segment there are n*2+1 of them, and one more at 0.
		if limit := n*2 + 2; images > limit {
			t.Errorf("segment %d was listed when %d images were (want at most %d): a segment late", n-1, images, limit)
		}
	}
	mu.Unlock()
	for i := range durs {
		path := filepath.Join(dir, fmt.Sprintf("seg_%05d.ts", i))
		p, err := mediatest.ProbeFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		if v, a := p.First("video"), p.First("audio"); v == nil || v.CodecName != "h264" || a == nil || a.CodecName != "aac" {
			t.Errorf("%s: streams %+v / %+v, want h264 and aac", filepath.Base(path), v, a)
		}
	}
	p, err := mediatest.ProbeFile(filepath.Join(dir, "index.m3u8"), false)
	if err != nil {
		t.Fatalf("the playlist does not play: %v", err)
	}
	mediatest.AudioCoversVideo(t, filepath.Join(dir, "index.m3u8"))
	var total float64
	for _, d := range durs {
		total += d
	}
	if math.Abs(p.Duration()-total) > 0.2 {
		t.Errorf("the playlist plays %.2f s, its segments add up to %.2f", p.Duration(), total)
	}
	for i, f := range files {
		info := &livekit.EgressInfo{}
		f.Fill(info)
		fr := info.FileResults[0]
		mediatest.VerifyVideo(t, fr.Location, mediatest.Expect{Width: 640, Height: 360, Seconds: time.Duration(fr.Duration).Seconds(), Tolerance: 0.5, Audio: "aac"})
		t.Logf("file %d: %.2f s", i, time.Duration(fr.Duration).Seconds())
	}
	if loc := manifest.Close(time.Now()); loc != filepath.Join(dir, "EG_test.json") {
		t.Errorf("the manifest is at %q, want beside the outputs", loc)
	}
	checkManifest(t, filepath.Join(dir, "EG_test.json"), shots, durs)
}

// TestClosedCaptureIsFreed: once an output has stopped and its capture
// closed, nothing of the output keeps the capture: the collector frees it.
// go-gst keeps every probe's closure in a table of its own until the probe
// goes, so a closure on a pad of a branch's that reaches the capture (an
// RTMP destination's, waiting for its first data) held it, and with it its
// whole pipeline, for as long as the process ran.
func TestClosedCaptureIsFreed(t *testing.T) {
	r := pipelinetest.NewRig(t, 640, 360)
	refused := closedPort(t)
	silent := silentServer(t)
	cases := []struct {
		name string
		make func(t *testing.T, dir string) output.Output
		// started reports when the output has done what it does.
		started func(o output.Output) bool
	}{
		{"HLS segments", func(t *testing.T, dir string) output.Output {
			return output.NewSegments(request.SegmentOutput{Field: "segments", Dir: dir, FilenamePrefix: "seg", PlaylistName: "index.m3u8", SegmentDurationSec: 2},
				enc, localEnv(t, "hls", "segments", nil))
		}, func(o output.Output) bool { return !o.Started().IsZero() }},
		{"images", func(t *testing.T, dir string) output.Output {
			return output.NewImages(request.ImageOutput{Field: "images", CaptureIntervalSec: 1, Width: 160, Height: 90, Dir: dir, FilenamePrefix: "shot"},
				localEnv(t, "shots", "images", nil))
		}, func(o output.Output) bool { return !o.Started().IsZero() }},
		{"a stream its server refuses", func(t *testing.T, dir string) output.Output {
			return output.NewStream(request.StreamOutput{Field: "stream", Protocol: livekit.StreamProtocol_RTMP,
				Destinations: []request.Destination{{URL: "rtmp://" + refused + "/live/key", Field: "stream.urls[0]"}}}, enc, localEnv(t, "rtmp", "stream", nil))
		}, func(o output.Output) bool { return !o.Running() }},
		{"a stream whose server never answers", func(t *testing.T, dir string) output.Output {
			return output.NewStream(request.StreamOutput{Field: "stream", Protocol: livekit.StreamProtocol_RTMP,
				Destinations: []request.Destination{{URL: "rtmp://" + silent + "/live/key", Field: "stream.urls[0]"}}}, enc, localEnv(t, "rtmp", "stream", nil))
		}, func(output.Output) bool { return true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := func() weak.Pointer[pipeline.Capture] {
				c, err := pipeline.NewCapture(r.Config(t, 30, nil))
				if err != nil {
					t.Fatal(err)
				}
				o := tc.make(t, t.TempDir())
				if err := o.Start(c); err != nil {
					t.Fatal(err)
				}
				waittest.Until(t, 10*time.Second, "the output under way", func() bool { return tc.started(o) })
				o.Stop()
				c.Close()
				return weak.Make(c)
			}
			waittest.Collected(t, run(), "a closed capture")
		})
	}
}

// closedPort is a loopback address where nothing listens: a connection
// to it is refused.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer is a loopback address that takes connections and never
// says a word on them, until the test ends.
func silentServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			conn.Close()
		}
	})
	return l.Addr().String()
}

// checkManifest checks the egress's manifest, as LiveKit Egress writes
// it: the egress and room, both files, the playlist with every segment,
// and every image taken, a second apart.
func checkManifest(t *testing.T, path string, shots *output.Images, segments []float64) {
	t.Helper()
	var m struct {
		EgressID  string `json:"egress_id"`
		RoomID    string `json:"room_id"`
		RoomName  string `json:"room_name"`
		StartedAt int64  `json:"started_at"`
		EndedAt   int64  `json:"ended_at"`
		Files     []struct{ Filename, Location string }
		Playlists []struct {
			Location string
			Segments []struct{ Filename, Location string }
		}
		Images []struct {
			Filename  string
			Timestamp time.Time
			Location  string
		}
	}
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	if m.EgressID != "EG_test" || m.RoomID != "RM_test" || m.RoomName != "demo" || m.EndedAt == 0 {
		t.Errorf("manifest heads %q %q %q ended %d, want EG_test, RM_test, demo and its end", m.EgressID, m.RoomID, m.RoomName, m.EndedAt)
	}
	if len(m.Files) != 2 || filepath.Base(m.Files[0].Filename) == "" {
		t.Errorf("manifest files %+v, want the two files", m.Files)
	}
	if len(m.Playlists) != 1 || len(m.Playlists[0].Segments) != len(segments) || filepath.Base(m.Playlists[0].Location) != "index.m3u8" {
		t.Errorf("manifest playlists %+v, want index.m3u8 with %d segments", m.Playlists, len(segments))
	}
	info := &livekit.EgressInfo{}
	shots.Fill(info)
	if int64(len(m.Images)) != info.ImageResults[0].ImageCount || len(m.Images) < 10 {
		t.Fatalf("manifest lists %d images, the result %d; want the same, 10 or more", len(m.Images), info.ImageResults[0].ImageCount)
	}
	for i := 1; i < len(m.Images); i++ {
		if gap := m.Images[i].Timestamp.Sub(m.Images[i-1].Timestamp); gap < time.Second-time.Second/30 || gap > time.Second+time.Second/30 {
			t.Errorf("images %d and %d are %v apart, want 1 s", i-1, i, gap)
		}
	}
	for _, im := range m.Images {
		if _, err := os.Stat(im.Location); err != nil {
			t.Errorf("manifest lists %s, which is not there: %v", im.Location, err)
		}
	}
}

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		fmt.Println("Xvfb missing: run make deps")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

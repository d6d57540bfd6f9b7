//go:build integration

package session_test

import (
	"context"
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/local"
	"roomcast/engine/local/localtest"
	"roomcast/engine/mediatest"
	"roomcast/engine/session"
	"roomcast/engine/storage/s3test"
	"roomcast/engine/waittest"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	os.Exit(m.Run())
}

// lineUp is how far from where the manifest puts it a person's frame or
// sound may be in the composite: the 100 ms.
const lineUp = 100 * time.Millisecond

// settle is how long the preview runs before the recording starts: a
// cold composite's sound was off its picture by up to 640 ms in its first
// 8 s, by under 10 ms after.
const settle = 8 * time.Second

// fps is the rate frames are searched at: a frame's time is known to a
// frame.
const fps = 30

// firstSeen is the time of the first frame of path showing c, -1 if none.
func firstSeen(t *testing.T, path string, c color.RGBA) float64 {
	t.Helper()
	frames, err := mediatest.Frames(path, fps, 160, 90)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if mediatest.Contains(f, c, 40, 2) {
			return float64(i) / fps
		}
	}
	return -1
}

// linedUp checks that the clapper's ticks in its own file, moved by its
// offset, fall within lineUp of the composite's: what an editor lines the
// files up by.
func linedUp(t *testing.T, own, composite string, offset float64) {
	t.Helper()
	_, ownTicks, err := mediatest.ClapTimes(own, demo.ClapperHz)
	if err != nil {
		t.Fatal(err)
	}
	_, compTicks, err := mediatest.ClapTimes(composite, demo.ClapperHz)
	if err != nil {
		t.Fatal(err)
	}
	var gaps []time.Duration
	for _, o := range ownTicks {
		at := o + time.Duration(offset*float64(time.Second))
		if at < compTicks[0]-time.Second || at > compTicks[len(compTicks)-1]+time.Second/2 {
			continue // outside the composite's recording
		}
		gap := time.Duration(1 << 62)
		for _, c := range compTicks {
			if d := c - at; d.Abs() < gap.Abs() {
				gap = d
			}
		}
		gaps = append(gaps, gap)
		if gap.Abs() > lineUp {
			t.Errorf("the clapper's tick at %.3f s of its file is at %.3f s on the composite's timeline by the manifest; the composite's nearest is %v from there, want within %v", o.Seconds(), at.Seconds(), gap, lineUp)
		}
	}
	t.Logf("clapper: each tick in the composite minus where the manifest puts it: %v", gaps)
	if len(gaps) < 5 {
		t.Errorf("%d of the clapper's ticks fall in the composite, want 5 or more", len(gaps))
	}
}

// TestSessionRecordsEachPerson records the demo room with each person on
// their own: three in the room at the start and a fourth who joins 5 s
// in give the composite and four person files, each of that person's
// colour, and a manifest whose offsets put each person's first frame
// where it shows in the composite (the joiner's first frame, found by
// colour in both, shown in the composite at most compositeDelay after
// where the manifest puts it).
func TestSessionRecordsEachPerson(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 2, Clapper: true})
	out := t.TempDir()
	l := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), OutputDir: out})
	demotest.Tracks(t, d)
	present := d.Participants()
	manifestPath := filepath.Join(out, "show-session.json")
	req := &livekit.RoomCompositeEgressRequest{RoomName: d.Room(), Layout: "grid",
		Options: &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{
			Width: 640, Height: 360, Depth: 24, Framerate: 30, VideoCodec: livekit.VideoCodec_H264_MAIN, VideoBitrate: 1000,
			AudioCodec: livekit.AudioCodec_AAC, AudioBitrate: 64, AudioFrequency: 48000}},
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(out, "show.mp4")}}}
	// The studio records from its preview's composite, running already:
	// a composite's first seconds are out of sync (its page's playout
	// settling), which is the composite's own matter, not the manifest's.
	stopPreview, err := l.Preview(context.Background(), req, func(*image.RGBA) {})
	if err != nil {
		t.Fatal(err)
	}
	defer stopPreview()
	time.Sleep(settle)
	joined := map[string]string{}
	s, info, err := session.Start(context.Background(), session.Config{Studio: l, Composite: req, People: true,
		Manifest: manifestPath, Logf: t.Logf, OnEgress: func(_, identity, id string) { joined[identity] = id }})
	if err != nil {
		t.Fatal(err)
	}
	active := waittest.AwaitStatus(t, l, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 30*time.Second)
	time.Sleep(time.Until(time.Unix(0, active.StartedAt).Add(5 * time.Second)))
	dave, err := d.AddParticipant()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(0, active.StartedAt).Add(11 * time.Second)))
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var m session.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	t.Logf("manifest:\n%s", data)
	if m.Composite.Status != livekit.EgressStatus_EGRESS_COMPLETE.String() || m.Composite.File == "" {
		t.Fatalf("composite %+v, want COMPLETE with its file", m.Composite)
	}
	people := append(present, dave)
	byIdentity := map[string]session.Entry{}
	for _, e := range m.People {
		byIdentity[e.Identity] = e
	}
	if len(m.People) != len(people) {
		t.Errorf("%d people in the manifest, want %d", len(m.People), len(people))
	}
	for _, p := range people {
		e, ok := byIdentity[p.Identity]
		if !ok || e.Status != livekit.EgressStatus_EGRESS_COMPLETE.String() || e.OffsetSeconds == nil || e.File == "" {
			t.Errorf("%s: %+v, want a COMPLETE file with an offset", p.Identity, e)
			continue
		}
		if base := filepath.Base(e.File); filepath.Dir(e.File) != out || len(base) < len(d.Room())+len(p.Identity)+2 || base[:len(d.Room())+len(p.Identity)+2] != d.Room()+"-"+p.Identity+"-" {
			t.Errorf("%s's file %s, want %s/%s-%s-<time>.mp4", p.Identity, e.File, out, d.Room(), p.Identity)
		}
		if p.Identity == demo.ClapperIdentity {
			linedUp(t, e.File, m.Composite.File, *e.OffsetSeconds)
			continue
		}
		own := firstSeen(t, e.File, p.Color)
		if own < 0 {
			t.Errorf("%s's own file never shows %v", p.Identity, p.Color)
			continue
		}
		inComposite := firstSeen(t, m.Composite.File, p.Color)
		at := *e.OffsetSeconds + own // where the manifest puts that frame
		t.Logf("%s: own file from %.3f s on the composite's timeline, first seen %.3f s in it (%.3f s on the timeline), in the composite at %.3f s",
			p.Identity, *e.OffsetSeconds, own, at, inComposite)
		if inComposite < at-lineUp.Seconds() {
			continue // shown in the composite before their own file began: nothing to line up by
		}
		if gap := inComposite - at; gap > lineUp.Seconds() {
			t.Errorf("%s's first frame is at %.3f s on the composite's timeline by the manifest, at %.3f s in the composite: want it there within %s", p.Identity, at, inComposite, lineUp)
		}
	}
	if _, ok := joined[dave.Identity]; !ok {
		t.Errorf("OnEgress never told of %s's egress", dave.Identity)
	}
}

// TestSessionInABucket: a session recorded to an S3 bucket puts its
// manifest beside the composite's file there, while it records (the
// composite ACTIVE in it) and at the end (everyone COMPLETE), and each
// person's file in the bucket shows them alone.
func TestSessionInABucket(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 2})
	srv := s3test.Start(t, "shows")
	l := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret()})
	demotest.Tracks(t, d)
	up := srv.Upload("shows")
	bucket := &livekit.S3Upload{AccessKey: up.AccessKey, Secret: up.Secret, Region: "us-east-1", Endpoint: up.Endpoint, Bucket: "shows", ForcePathStyle: true}
	req := &livekit.RoomCompositeEgressRequest{RoomName: d.Room(), Layout: "grid",
		Options:     &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{Width: 640, Height: 360, Framerate: 15}},
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "shows/show.mp4", Output: &livekit.EncodedFileOutput_S3{S3: bucket}}}}
	const key = "shows/show-session.json"
	s, info, err := session.Start(context.Background(), session.Config{Studio: l, Composite: req, People: true,
		Manifest: key, ManifestUpload: up, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	manifest := func() session.Manifest {
		t.Helper()
		data, _, err := srv.GetObject(context.Background(), "shows", key)
		if err != nil {
			t.Fatalf("the manifest in the bucket: %v", err)
		}
		var m session.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("the manifest in the bucket: %v: %s", err, data)
		}
		return m
	}
	active := waittest.AwaitStatus(t, l, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 30*time.Second)
	time.Sleep(time.Until(time.Unix(0, active.StartedAt).Add(4 * time.Second)))
	if m := manifest(); m.Composite.Status != livekit.EgressStatus_EGRESS_ACTIVE.String() {
		t.Errorf("while recording, the bucket's manifest has the composite %s, want EGRESS_ACTIVE", m.Composite.Status)
	}
	time.Sleep(time.Until(time.Unix(0, active.StartedAt).Add(8 * time.Second)))
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := manifest()
	if m.Composite.Status != livekit.EgressStatus_EGRESS_COMPLETE.String() || m.Composite.File == "" {
		t.Errorf("composite %+v, want COMPLETE with its file", m.Composite)
	}
	people := d.Participants()
	if len(m.People) != len(people) {
		t.Fatalf("%d people in the manifest, want %d", len(m.People), len(people))
	}
	keys, err := srv.Keys(context.Background(), "shows")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("in the bucket: %v", keys)
	for _, p := range people {
		var e *session.Entry
		for i := range m.People {
			if m.People[i].Identity == p.Identity {
				e = &m.People[i]
			}
		}
		if e == nil || e.Status != livekit.EgressStatus_EGRESS_COMPLETE.String() || e.OffsetSeconds == nil {
			t.Errorf("%s: %+v, want COMPLETE with an offset", p.Identity, e)
			continue
		}
		objKey := "shows/" + path.Base(e.File)
		if !slices.Contains(keys, objKey) {
			t.Errorf("%s's file %s is not in the bucket as %s", p.Identity, e.File, objKey)
			continue
		}
		frame, err := mediatest.FrameAt(srv.ObjectFile("shows", objKey), 2)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, other := range people {
			if shown := mediatest.Contains(frame, other.Color, 40, 8); shown != (other.Identity == p.Identity) {
				t.Errorf("%s's file shows %s: %v", p.Identity, other.Identity, shown)
			}
		}
	}
}

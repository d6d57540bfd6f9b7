//go:build integration

package local_test

import (
	"context"
	"errors"
	"image/color"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/mediatest"
	"roomcast/engine/request"
	"roomcast/engine/waittest"
)

// awaitFinal waits (20 s at most) for egress id to end and returns its
// final info.
func (s *studio) awaitFinal(t *testing.T, id string) *livekit.EgressInfo {
	t.Helper()
	var final *livekit.EgressInfo
	waittest.Until(t, 20*time.Second, "the egress ended", func() bool {
		res, err := s.engine.List(context.Background(), &livekit.ListEgressRequest{EgressId: id})
		if err != nil || len(res.Items) != 1 {
			t.Fatalf("List: %v, %d items", err, len(res.Items))
		}
		final = res.Items[0]
		return final.EndedAt != 0
	})
	return final
}

// stopped stops egress id after d from its first frame and returns its
// final info, which must be COMPLETE with one file.
func (s *studio) stopped(t *testing.T, info *livekit.EgressInfo, d time.Duration) *livekit.EgressInfo {
	t.Helper()
	info = waittest.AwaitStatus(t, s.engine, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 20*time.Second)
	time.Sleep(time.Until(time.Unix(0, info.StartedAt).Add(d)))
	final, err := s.engine.Stop(context.Background(), info.EgressId)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, final)
	return final
}

func checkComplete(t *testing.T, final *livekit.EgressInfo) {
	t.Helper()
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(final.FileResults) != 1 {
		t.Fatalf("final %s (%q) with %d files, want EGRESS_COMPLETE with one", final.Status, final.Error, len(final.FileResults))
	}
}

// onlyTone checks that path's sound holds want's tone and none of the
// others'.
func onlyTone(t *testing.T, path string, want demo.Persona, people []demo.Persona) {
	t.Helper()
	mediatest.CheckTone(t, path, want.ToneHz)
	pcm, err := mediatest.AudioPCM(path, 48000, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	own := mediatest.ToneLevel(pcm, 48000, want.ToneHz)
	for _, p := range people {
		if p.ToneHz == want.ToneHz {
			continue
		}
		if other := mediatest.ToneLevel(pcm, 48000, p.ToneHz); other > own/20 {
			t.Errorf("%s's %g Hz at %.4f beside %s's %.4f: one voice was asked", p.Identity, p.ToneHz, other, want.Identity, own)
		}
	}
}

// TestParticipantEgress records one person of the demo room, with no
// browser: bob's picture fills the frame (his colour, scaled from his
// camera's size) and his voice alone is heard.
func TestParticipantEgress(t *testing.T) {
	s := newStudio(t, 3)
	people := s.demo.Participants()
	bob := people[1]
	demotest.Tracks(t, s.demo)
	path := filepath.Join(s.out, "bob.mp4")
	info := s.startPerson(t, bob, path)
	if info.GetParticipant().GetIdentity() != bob.Identity || info.SourceType != livekit.EgressSourceType_EGRESS_SOURCE_TYPE_SDK {
		t.Errorf("info's request %v, source %s: want bob's participant request, SDK", info.Request, info.SourceType)
	}
	waittest.AwaitStatus(t, s.engine, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 20*time.Second)
	if n := len(s.engine.Stats()); n != 0 {
		t.Errorf("%d composites running; a participant egress needs none", n)
	}
	final := s.stopped(t, info, 8*time.Second)
	checkPersonFile(t, final.FileResults[0].Filename, 8, bob, bob, people)
}

// startPerson starts a Participant egress of p at 720p30 to the file path.
func (s *studio) startPerson(t *testing.T, p demo.Persona, path string) *livekit.EgressInfo {
	t.Helper()
	info, err := s.engine.StartParticipant(context.Background(), &livekit.ParticipantEgressRequest{
		RoomName: s.demo.Room(), Identity: p.Identity,
		Options:     &livekit.ParticipantEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_H264_720P_30},
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// checkPersonFile checks a 720p30 recording of one person's picture (the
// frame's middle in their colour) and one person's voice alone.
func checkPersonFile(t *testing.T, path string, seconds float64, picture, voice demo.Persona, people []demo.Persona) {
	t.Helper()
	mediatest.VerifyVideo(t, path, mediatest.Expect{Width: 1280, Height: 720, Seconds: seconds, Audio: "aac", Colors: []color.RGBA{picture.Color}})
	frame, err := mediatest.FrameAt(path, seconds/2)
	if err != nil {
		t.Fatal(err)
	}
	if c := frame.At(640, 360); !mediatest.Near(c, picture.Color, 40) {
		t.Errorf("the frame's middle is %v, want %s's %v", c, picture.Identity, picture.Color)
	}
	onlyTone(t, path, voice, people)
}

// TestTrackCompositeEgress records two tracks of two people as one: alice's
// camera with carol's microphone is alice's colour with carol's tone alone.
func TestTrackCompositeEgress(t *testing.T) {
	s := newStudio(t, 3)
	people := s.demo.Participants()
	alice, carol := people[0], people[2]
	tracks := demotest.Tracks(t, s.demo)
	path := filepath.Join(s.out, "alice-carol.mp4")
	info, err := s.engine.StartTrackComposite(context.Background(), &livekit.TrackCompositeEgressRequest{
		RoomName:     s.demo.Room(),
		VideoTrackId: tracks[alice.Identity][livekit.TrackType_VIDEO].Sid,
		AudioTrackId: tracks[carol.Identity][livekit.TrackType_AUDIO].Sid,
		Options:      &livekit.TrackCompositeEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_H264_720P_30},
		FileOutputs:  []*livekit.EncodedFileOutput{{Filepath: path}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetTrackComposite() == nil {
		t.Errorf("info's request %T, want the track composite request", info.Request)
	}
	s.stopped(t, info, 6*time.Second)
	checkPersonFile(t, path, 6, alice, carol, people)
}

// TestParticipantEgressFollowsThePerson records bob while his camera is
// muted and unmuted, changes size and he leaves: the muted part shows his
// placeholder, the picture comes back scaled to the frame, and his
// leaving ends the egress COMPLETE, its file whole.
func TestParticipantEgressFollowsThePerson(t *testing.T) {
	s := newStudio(t, 2)
	bob := s.demo.Participants()[1]
	demotest.Tracks(t, s.demo)
	path := filepath.Join(s.out, "bob.mp4")
	info := s.startPerson(t, bob, path)
	info = waittest.AwaitStatus(t, s.engine, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 20*time.Second)
	at := func(d time.Duration) { time.Sleep(time.Until(time.Unix(0, info.StartedAt).Add(d))) }
	steps := []struct {
		at time.Duration
		do func() error
	}{
		{2 * time.Second, func() error { return s.demo.SetMuted(bob.Identity, true, true) }},
		{4 * time.Second, func() error { return s.demo.SetMuted(bob.Identity, true, false) }},
		{5 * time.Second, func() error { return s.demo.SetVideoSize(bob.Identity, 320, 240) }},
		{8 * time.Second, func() error { return s.demo.RemoveParticipant(bob.Identity) }},
	}
	for _, st := range steps {
		at(st.at)
		if err := st.do(); err != nil {
			t.Fatal(err)
		}
	}
	final := s.awaitFinal(t, info.EgressId)
	checkComplete(t, final)
	if !strings.Contains(final.Details, livekit.EndReasonSrcClosed) {
		t.Errorf("details %q, want the end reason %q", final.Details, livekit.EndReasonSrcClosed)
	}
	mediatest.VerifyVideo(t, path, mediatest.Expect{Width: 1280, Height: 720, Seconds: 8, Tolerance: 1.5, Audio: "aac"})
	cases := []struct {
		at   float64
		want color.RGBA
		what string
	}{
		{1, bob.Color, "his camera"},
		{3.2, color.RGBA{0x2b, 0x2b, 0x2b, 0xff}, "his placeholder while muted"},
		{7, bob.Color, "his camera at 320x240, scaled"},
	}
	for _, c := range cases {
		frame, err := mediatest.FrameAt(path, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := frame.At(640, 200); !mediatest.Near(got, c.want, 40) {
			t.Errorf("at %.1f s the frame shows %v, want %s (%v)", c.at, got, c.what, c.want)
		}
	}
}

// TestParticipantClapperPaired records the clapper as a participant: each
// flip of its picture is paired with its own tick in the file. No timing
// goal (the bench judges the offsets, which this logs).
func TestParticipantClapperPaired(t *testing.T) {
	s := newStudio(t, 0)
	clapper, err := s.demo.AddClapper()
	if err != nil {
		t.Fatal(err)
	}
	demotest.Tracks(t, s.demo)
	path := filepath.Join(s.out, "clapper.mp4")
	info := s.startPerson(t, clapper, path)
	s.stopped(t, info, 10*time.Second)
	offsets, err := mediatest.AVOffsets(path, demo.ClapperHz)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d flips, each with its own tick, offsets %v", len(offsets), offsets)
	if want := int(8 * time.Second / demo.ClapperPeriod); len(offsets) < want {
		t.Errorf("%d flips paired with their ticks in 10 s, want at least %d", len(offsets), want)
	}
}

// TestTrackRequestsRefused: a participant or track that is not in the
// room, or a track of the wrong kind, is refused with the request, naming
// its field, before anything is on the board.
func TestTrackRequestsRefused(t *testing.T) {
	s := newStudio(t, 2)
	alice := s.demo.Participants()[0]
	tracks := demotest.Tracks(t, s.demo)
	file := []*livekit.EncodedFileOutput{{Filepath: filepath.Join(s.out, "x.mp4")}}
	cases := []struct {
		name  string
		start func() error
		field string
	}{
		{"nobody", func() error {
			_, err := s.engine.StartParticipant(context.Background(), &livekit.ParticipantEgressRequest{RoomName: s.demo.Room(), Identity: "nobody", FileOutputs: file})
			return err
		}, "identity"},
		{"no identity", func() error {
			_, err := s.engine.StartParticipant(context.Background(), &livekit.ParticipantEgressRequest{RoomName: s.demo.Room(), FileOutputs: file})
			return err
		}, "identity"},
		{"unknown video track", func() error {
			_, err := s.engine.StartTrackComposite(context.Background(), &livekit.TrackCompositeEgressRequest{RoomName: s.demo.Room(), VideoTrackId: "TR_nothing", FileOutputs: file})
			return err
		}, "video_track_id"},
		{"audio given as video", func() error {
			_, err := s.engine.StartTrackComposite(context.Background(), &livekit.TrackCompositeEgressRequest{RoomName: s.demo.Room(), VideoTrackId: tracks[alice.Identity][livekit.TrackType_AUDIO].Sid, FileOutputs: file})
			return err
		}, "video_track_id"},
		{"no track", func() error {
			_, err := s.engine.StartTrackComposite(context.Background(), &livekit.TrackCompositeEgressRequest{RoomName: s.demo.Room(), FileOutputs: file})
			return err
		}, "video_track_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.start()
			var fe *request.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("error %v, want one naming %s", err, c.field)
			}
			t.Log(err)
		})
	}
	res, err := s.engine.List(context.Background(), &livekit.ListEgressRequest{})
	if err != nil || len(res.Items) != 0 {
		t.Errorf("List: %v, %d egresses, want none", err, len(res.Items))
	}
}

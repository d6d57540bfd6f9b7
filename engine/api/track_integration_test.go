//go:build integration

package api

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"roomcast/engine/demo/demotest"
	"roomcast/engine/mediatest"
	"roomcast/engine/waittest"
)

// TestTrackEgressAPI: LiveKit's SDK starts a TrackEgress of bob's
// microphone through the API; it is ACTIVE at once, listed, stopped with
// StopEgress and ends COMPLETE with the file LiveKit names ({room_name}-
// {track_id}-{time}.ogg in the request's folder): Opus, his tone, as long
// as it ran. What a track copy cannot do is refused, naming the field,
// before anything runs.
func TestTrackEgressAPI(t *testing.T) {
	s := newStage(t, 2)
	bob := s.demo.Participants()[1]
	url := s.serve(t, Config{})
	sdk := lksdk.NewEgressClient(url, s.demo.APIKey(), s.demo.APISecret())
	ctx := context.Background()
	audio := demotest.Tracks(t, s.demo)[bob.Identity][livekit.TrackType_AUDIO].Sid
	dir := t.TempDir()

	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			name string
			req  *livekit.TrackEgressRequest
			says string
		}{
			{"websocket", &livekit.TrackEgressRequest{RoomName: s.demo.Room(), TrackId: audio,
				Output: &livekit.TrackEgressRequest_WebsocketUrl{WebsocketUrl: "ws://127.0.0.1:9/audio"}}, "websocket_url"},
			{"unknown track", &livekit.TrackEgressRequest{RoomName: s.demo.Room(), TrackId: "TR_nothere",
				Output: &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: dir + "/"}}}, "track_id"},
		} {
			_, err := sdk.StartTrackEgress(ctx, c.req)
			if code(err) != twirp.InvalidArgument || !strings.Contains(err.Error(), c.says) {
				t.Errorf("%s: %v, want invalid_argument naming %s", c.name, err, c.says)
			}
		}
	})

	info, err := sdk.StartTrackEgress(ctx, &livekit.TrackEgressRequest{RoomName: s.demo.Room(), TrackId: audio,
		Output: &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: dir + "/"}}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != livekit.EgressStatus_EGRESS_ACTIVE || info.GetTrack().GetTrackId() != audio {
		t.Fatalf("started as %s for %+v, want ACTIVE for %s", info.Status, info.GetTrack(), audio)
	}
	t.Run("admitted at a track copy's cost", func(t *testing.T) {
		// Room for one copy (0.05 cores) and not two: the one running
		// leaves none for a second.
		tight := lksdk.NewEgressClient(s.serve(t, Config{Capacity: Capacity{CPUs: 0.07}}), s.demo.APIKey(), s.demo.APISecret())
		_, err := tight.StartTrackEgress(ctx, &livekit.TrackEgressRequest{RoomName: s.demo.Room(), TrackId: audio,
			Output: &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: dir + "/second"}}})
		if code(err) != twirp.ResourceExhausted || !strings.Contains(err.Error(), "1 track copy running") {
			t.Errorf("a second copy within 0.07 CPUs: %v, want resource_exhausted saying 1 track copy runs", err)
		}
	})
	time.Sleep(4 * time.Second) // media to record, not a wait for an event
	if _, err := sdk.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: info.EgressId}); err != nil {
		t.Fatal(err)
	}
	list, err := sdk.ListEgress(ctx, &livekit.ListEgressRequest{EgressId: info.EgressId})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("listed %v, %v", list, err)
	}
	final := list.Items[0]
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(final.FileResults) != 1 {
		t.Fatalf("ended %s (%s), %d files", final.Status, final.Error, len(final.FileResults))
	}
	f := final.FileResults[0]
	if !strings.HasPrefix(filepath.Base(f.Filename), s.demo.Room()+"-"+audio+"-") || filepath.Ext(f.Filename) != ".ogg" || filepath.Dir(f.Filename) != dir {
		t.Errorf("written to %s, want %s/%s-%s-<time>.ogg", f.Filename, dir, s.demo.Room(), audio)
	}
	if !strings.Contains(final.Details, livekit.EndReasonAPI) {
		t.Errorf("details %q, want the end reason %q", final.Details, livekit.EndReasonAPI)
	}
	probe, err := mediatest.ProbeFile(f.Filename, false)
	if err != nil {
		t.Fatal(err)
	}
	if a := probe.First("audio"); a == nil || a.CodecName != "opus" {
		t.Fatalf("audio stream %+v, want opus", a)
	}
	if dur, res := probe.Duration(), time.Duration(f.Duration).Seconds(); dur < 3 || dur > 5.5 || res < 3 || res > 5.5 {
		t.Errorf("the file lasts %.2f s, its result says %.2f s: want about 4", dur, res)
	}
	mediatest.CheckTone(t, f.Filename, bob.ToneHz)
}

// TestParticipantEgressAPI: LiveKit's SDK records bob as a participant
// through the API, admitted at a participant recording's cost; it ends
// COMPLETE with his colour, and a participant not in the room is
// invalid_argument naming identity.
func TestParticipantEgressAPI(t *testing.T) {
	s := newStage(t, 2)
	bob := s.demo.Participants()[1]
	demotest.Tracks(t, s.demo)
	sdk := lksdk.NewEgressClient(s.serve(t, Config{}), s.demo.APIKey(), s.demo.APISecret())
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bob.mp4")
	req := func(identity string) *livekit.ParticipantEgressRequest {
		return &livekit.ParticipantEgressRequest{RoomName: s.demo.Room(), Identity: identity,
			FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}}}
	}
	if _, err := sdk.StartParticipantEgress(ctx, req("nobody")); code(err) != twirp.InvalidArgument || !strings.Contains(err.Error(), "identity") {
		t.Errorf("a participant not in the room: %v, want invalid_argument naming identity", err)
	}
	tight := lksdk.NewEgressClient(s.serve(t, Config{Capacity: Capacity{CPUs: 0.3}}), s.demo.APIKey(), s.demo.APISecret())
	if _, err := tight.StartParticipantEgress(ctx, req(bob.Identity)); code(err) != twirp.ResourceExhausted || !strings.Contains(err.Error(), "a participant recording needs 0.4") {
		t.Errorf("within 0.3 CPUs: %v, want resource_exhausted saying a participant recording needs 0.4", err)
	}
	info, err := sdk.StartParticipantEgress(ctx, req(bob.Identity))
	if err != nil {
		t.Fatal(err)
	}
	waittest.AwaitStatus(t, s.engine, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 20*time.Second)
	time.Sleep(3 * time.Second) // media to record, not a wait for an event
	if _, err := sdk.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: info.EgressId}); err != nil {
		t.Fatal(err)
	}
	final := waittest.AwaitStatus(t, s.engine, info.EgressId, livekit.EgressStatus_EGRESS_COMPLETE, 20*time.Second)
	if final.GetParticipant().GetIdentity() != bob.Identity || len(final.FileResults) != 1 {
		t.Fatalf("final %v, want bob's participant egress with one file", final)
	}
	frame, err := mediatest.FrameAt(path, 1.5)
	if err != nil {
		t.Fatal(err)
	}
	if !mediatest.Contains(frame, bob.Color, 40, 8) {
		t.Errorf("no %v (bob's colour) in the frame at 1.5 s", bob.Color)
	}
}

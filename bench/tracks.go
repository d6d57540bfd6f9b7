package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine"
)

// trackCopyCost is the CPU of copying tracks as sent (TrackEgress): the
// engine's CPU with a copy of every track of the demo room running, less
// its CPU with none, per track. No composite runs meanwhile (the room
// view the engine keeps ready is Chromium's, not the engine's).
func (b *bench) trackCopyCost(room *demoRoom, window time.Duration) ([]figure, error) {
	ctx := context.Background()
	people, err := room.participants(ctx)
	if err != nil {
		return nil, err
	}
	idle := measureCPU(window)
	var ids []string
	kinds := map[livekit.TrackType]int{}
	for _, p := range people {
		for _, tr := range p.Tracks {
			info, err := b.studio.StartTrack(ctx, &livekit.TrackEgressRequest{RoomName: "demo", TrackId: tr.Sid,
				Output: &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: filepath.Join(b.dir, "tracks") + "/"}}})
			if err != nil {
				return nil, fmt.Errorf("%s's %s track: %w", p.Identity, tr.Type, err)
			}
			ids = append(ids, info.EgressId)
			kinds[tr.Type]++
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the demo room publishes no track")
	}
	time.Sleep(2 * time.Second) // the subscriptions' set-up is not the steady cost
	copying := measureCPU(window)
	for _, id := range ids {
		info, err := b.studio.Stop(ctx, id)
		if err != nil {
			return nil, err
		}
		if info.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(info.FileResults) != 1 || info.FileResults[0].Size == 0 {
			return nil, fmt.Errorf("track egress %s ended %s (%s)", id, info.Status, info.Error)
		}
	}
	n := float64(len(ids))
	return []figure{{
		Name: "CPU per track recording (copied as sent, no transcode)", Value: (copying.engine - idle.engine) / n, Unit: "cores", Goal: 0.02, Better: "<=",
		Note: fmt.Sprintf("engine %.3f cores copying %d tracks (%d audio, %d video), %.3f with none", copying.engine, len(ids),
			kinds[livekit.TrackType_AUDIO], kinds[livekit.TrackType_VIDEO], idle.engine),
	}}, nil
}

// participants lists the people in the demo room, with their tracks.
func (d *demoRoom) participants(ctx context.Context) ([]*livekit.ParticipantInfo, error) {
	httpURL := "http" + strings.TrimPrefix(d.env["LIVEKIT_URL"], "ws")
	rooms := lksdk.NewRoomServiceClient(httpURL, d.env["LIVEKIT_API_KEY"], d.env["LIVEKIT_API_SECRET"])
	res, err := rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "demo"})
	if err != nil {
		return nil, err
	}
	// An earlier step's composite page may still be leaving the room.
	return slices.DeleteFunc(res.Participants, func(p *livekit.ParticipantInfo) bool { return !engine.IsPerson(p) }), nil
}

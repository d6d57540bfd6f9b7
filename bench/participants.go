package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/demo"
)

// participantCost is the CPU of recording people on their own
// (ParticipantEgress at 720p30: their tracks decoded, scaled, encoded
// again, no browser): the engine's CPU with recordings of two people of
// the demo room, one the clapper, less its CPU with none, per recording.
// Two, not all four: four took 1.3 of the 2 cores beside the demo's own
// senders and the LiveKit server, and a saturated machine bills each
// recording for the wait (0.32-0.34 a recording with four). The
// clapper's recording then gives the A/V offset of every flip in such a
// file.
// recordedPeople is how many people participantCost records at once.
const recordedPeople = 2

func (b *bench) participantCost(room *demoRoom, window time.Duration) ([]figure, error) {
	if err := room.addClapper(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	people, err := room.participants(ctx)
	if err != nil {
		return nil, err
	}
	idle := measureCPU(window)
	ids := map[string]string{} // egress ID by identity
	for _, p := range people {
		_, clapped := ids[demo.ClapperIdentity]
		if len(ids) == recordedPeople || (len(ids) == recordedPeople-1 && !clapped && p.Identity != demo.ClapperIdentity) {
			continue // the clapper is always one of them
		}
		info, err := b.studio.StartParticipant(ctx, &livekit.ParticipantEgressRequest{RoomName: "demo", Identity: p.Identity,
			Options:     &livekit.ParticipantEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_H264_720P_30},
			FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(b.dir, "people", p.Identity+".mp4")}}})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Identity, err)
		}
		ids[p.Identity] = info.EgressId
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the demo room has nobody in it")
	}
	time.Sleep(3 * time.Second) // the joins and encoders' start are not the steady cost
	recording := measureCPU(window)
	clapper := ""
	for identity, id := range ids {
		info, err := b.studio.Stop(ctx, id)
		if err != nil {
			return nil, err
		}
		if info.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(info.FileResults) != 1 || info.FileResults[0].Size == 0 {
			return nil, fmt.Errorf("%s's egress %s ended %s (%s)", identity, id, info.Status, info.Error)
		}
		if identity == demo.ClapperIdentity {
			clapper = info.FileResults[0].Filename
		}
	}
	n := float64(len(ids))
	figs := []figure{{
		Name: "CPU per participant recording, 720p30 (transcoded, no browser)", Value: (recording.engine - idle.engine) / n, Unit: "cores", Goal: 0.25, Better: "<=",
		Note: fmt.Sprintf("engine %.3f cores recording %d people, %.3f with none", recording.engine, len(ids), idle.engine),
	}}
	if clapper != "" {
		figs = append(figs, flipFigures(clapper, "participant recording")...)
	}
	return figs, nil
}

//lint:file-ignore SA1019 LiveKit's deprecated single-output fields (file, stream, segments) of a TrackCompositeEgressRequest are still accepted, as LiveKit Egress accepts them.

package request

import (
	"strings"

	"github.com/livekit/protocol/livekit"
)

// TrackSource is what a Participant or TrackComposite egress records, in
// place of a composite's room view: one person's camera (or screen share)
// and microphone, followed as they come and go, or two tracks by ID.
type TrackSource struct {
	Participant  string // the identity, for a Participant egress
	ScreenShare  bool   // their screen share and its sound, not camera and microphone
	AudioTrackID string // for a TrackComposite egress; either may be empty
	VideoTrackID string
}

// Participant is LiveKit's ParticipantEgressRequest as a start request:
// its encoding and outputs are a composite's, checked by Build; its
// source is the participant's tracks (Plan.Tracks).
func Participant(req *livekit.ParticipantEgressRequest) (*Start, error) {
	if req == nil {
		return nil, invalid("request", "missing; give a ParticipantEgressRequest")
	}
	if strings.TrimSpace(req.Identity) == "" {
		return nil, invalid("identity", "required; give the identity of the participant to record")
	}
	c := &livekit.RoomCompositeEgressRequest{
		RoomName: req.RoomName, FileOutputs: req.FileOutputs, StreamOutputs: req.StreamOutputs,
		SegmentOutputs: req.SegmentOutputs, ImageOutputs: req.ImageOutputs, Webhooks: req.Webhooks,
	}
	switch o := req.Options.(type) {
	case *livekit.ParticipantEgressRequest_Preset:
		c.Options = &livekit.RoomCompositeEgressRequest_Preset{Preset: o.Preset}
	case *livekit.ParticipantEgressRequest_Advanced:
		c.Options = &livekit.RoomCompositeEgressRequest_Advanced{Advanced: o.Advanced}
	}
	return &Start{composite: c, participant: req,
		tracks: &TrackSource{Participant: req.Identity, ScreenShare: req.ScreenShare}}, nil
}

// TrackComposite is LiveKit's TrackCompositeEgressRequest as a start
// request: an audio track, a video track, or both, by ID. With one of
// them only, the outputs carry that medium only.
func TrackComposite(req *livekit.TrackCompositeEgressRequest) (*Start, error) {
	if req == nil {
		return nil, invalid("request", "missing; give a TrackCompositeEgressRequest")
	}
	if req.AudioTrackId == "" && req.VideoTrackId == "" {
		return nil, invalid("video_track_id", "required, or audio_track_id: give the SID (TR_...) of at least one track to record")
	}
	c := &livekit.RoomCompositeEgressRequest{
		RoomName: req.RoomName, FileOutputs: req.FileOutputs, StreamOutputs: req.StreamOutputs,
		SegmentOutputs: req.SegmentOutputs, ImageOutputs: req.ImageOutputs, Webhooks: req.Webhooks,
		AudioOnly: req.VideoTrackId == "", VideoOnly: req.AudioTrackId == "",
	}
	switch o := req.Options.(type) {
	case *livekit.TrackCompositeEgressRequest_Preset:
		c.Options = &livekit.RoomCompositeEgressRequest_Preset{Preset: o.Preset}
	case *livekit.TrackCompositeEgressRequest_Advanced:
		c.Options = &livekit.RoomCompositeEgressRequest_Advanced{Advanced: o.Advanced}
	}
	// The deprecated single output, as the composite request has it.
	switch o := req.Output.(type) {
	case *livekit.TrackCompositeEgressRequest_File:
		c.Output = &livekit.RoomCompositeEgressRequest_File{File: o.File}
	case *livekit.TrackCompositeEgressRequest_Stream:
		c.Output = &livekit.RoomCompositeEgressRequest_Stream{Stream: o.Stream}
	case *livekit.TrackCompositeEgressRequest_Segments:
		c.Output = &livekit.RoomCompositeEgressRequest_Segments{Segments: o.Segments}
	}
	return &Start{composite: c, trackComposite: req,
		tracks: &TrackSource{AudioTrackID: req.AudioTrackId, VideoTrackID: req.VideoTrackId}}, nil
}

// RedactParticipant is RedactRequest for a ParticipantEgressRequest.
func RedactParticipant(req *livekit.ParticipantEgressRequest) *livekit.ParticipantEgressRequest {
	c := cloneOf(req)
	redactOutputs(nil, nil, c.StreamOutputs, c.FileOutputs, c.SegmentOutputs, c.ImageOutputs, c.Webhooks)
	return c
}

// RedactTrackComposite is RedactRequest for a TrackCompositeEgressRequest.
func RedactTrackComposite(req *livekit.TrackCompositeEgressRequest) *livekit.TrackCompositeEgressRequest {
	c := cloneOf(req)
	redactOutputs(c.GetStream(), singleUploads(c.GetFile(), c.GetSegments()), c.StreamOutputs, c.FileOutputs, c.SegmentOutputs, c.ImageOutputs, c.Webhooks)
	return c
}

// String names the source for logs: whose tracks in which room.
func (t TrackSource) String() string {
	switch {
	case t.Participant != "" && t.ScreenShare:
		return t.Participant + "'s screen share"
	case t.Participant != "":
		return t.Participant
	}
	return strings.Trim(t.VideoTrackID+"+"+t.AudioTrackID, "+")
}

// Source names what p records, for logs: its composite, or its tracks.
func (p *Plan) Source() string {
	if p.Tracks != nil {
		return p.RoomName + "/" + p.Tracks.String()
	}
	return p.CompositeKey().String()
}

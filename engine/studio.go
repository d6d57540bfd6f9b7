// Package engine is the studio's engine as the window, the API and the
// command line see it: the Studio interface, which the embedded engine
// (engine/local) and a LiveKit Egress service (Remote) both implement,
// and what goes with it (egress states, errors, how to connect). It
// builds without cgo.
package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Studio runs room-composite egresses. Requests and results are LiveKit's
// own types, so the same calls can go to the embedded engine or to a
// LiveKit Egress service.
type Studio interface {
	// Start begins an egress and returns its info (STARTING). Progress
	// arrives through Watch.
	Start(ctx context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error)
	// StartEgress is Start for LiveKit's unified request: a template
	// source is a room composite; other sources are refused.
	StartEgress(ctx context.Context, req *livekit.StartEgressRequest) (*livekit.EgressInfo, error)
	// Stop ends an egress: its outputs are finalised; the composite (and a
	// preview on it) keeps running.
	Stop(ctx context.Context, egressID string) (*livekit.EgressInfo, error)
	// UpdateLayout switches a running egress's composite to another
	// built-in layout; the recording goes on.
	UpdateLayout(ctx context.Context, egressID, layout string) (*livekit.EgressInfo, error)
	// UpdateStream adds and removes RTMP destinations of a running egress.
	UpdateStream(ctx context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error)
	// List reports egresses, filtered as LiveKit's ListEgress does, one
	// page at a time when the engine pages (req.PageToken from the last
	// response's NextPageToken).
	List(ctx context.Context, req *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error)
	// Watch delivers every EgressInfo update until ctx ends.
	Watch(ctx context.Context) <-chan *livekit.EgressInfo
	// Preview runs (or joins) the composite for req's room, layout and
	// preset without recording, and hands small RGBA frames to onFrame
	// until the returned stop is called.
	Preview(ctx context.Context, req *livekit.RoomCompositeEgressRequest, onFrame func(*image.RGBA)) (stop func(), err error)
	// Rooms lists the rooms of the LiveKit server whose rooms are
	// recorded, with their participant counts.
	Rooms(ctx context.Context) ([]*livekit.Room, error)
	// Close stops every egress cleanly, then every composite.
	Close() error
}

// CompositeStats are a running composite's live figures.
type CompositeStats struct {
	Key string
	// GrabbedFrames counts frames grabbed from the screen; against
	// Running x FPS it gives the share of frames delivered.
	GrabbedFrames uint64
	// EncoderDroppedFrames counts grabbed frames the video encoders had
	// no time for (the machine short of CPU): missing from every output.
	EncoderDroppedFrames uint64
	FPS                  int
	Running              time.Duration
	// VideoEncoders and AudioEncoders count the encoders running on it:
	// one per distinct encoding, however many egresses share it.
	VideoEncoders, AudioEncoders int
	// Unsynced lists the people whose camera and microphone the LiveKit
	// server sends as separate WebRTC streams (its room.sync_streams is
	// off): the composite's browser cannot lip-sync them.
	Unsynced []string
}

// Statser is a Studio that reports its composites' figures (the embedded
// engine does; a remote service has none to give).
type Statser interface {
	Stats() []CompositeStats
}

// AudioLevel is a composite's sound as its outputs record it, read by its
// meter 20 times a second.
type AudioLevel struct {
	// Peak and RMS are the loudest channel's over the last reading, in
	// dBFS (-Inf for digital silence).
	Peak, RMS float64
	At        time.Time
	// ClippedAt is when a sample last came within 0.1 dB of full scale
	// (zero: never); SilentSince, since when the sound has been under
	// -60 dBFS (zero: it is not).
	ClippedAt, SilentSince time.Time
}

// PersonLevel is one person's sound as a composite's page plays it.
type PersonLevel struct {
	Identity, Name string
	MicOn          bool
	// RMS and Peak over the last ~43 ms, in dBFS (at least -100).
	RMS, Peak float64
}

// Meter is a Studio that meters its composites' sound (the embedded engine
// does; a remote service has no such figures).
type Meter interface {
	// AudioLevel is the sound of the composite that req records or
	// previews; false when that composite is not running.
	AudioLevel(req *livekit.RoomCompositeEgressRequest) (AudioLevel, bool)
	// PeopleLevels is the sound of each person the composite that req
	// records or previews shows, in join order; nil when that composite
	// is not running or its template has no meters.
	PeopleLevels(ctx context.Context, req *livekit.RoomCompositeEgressRequest) ([]PersonLevel, error)
}

// DisplayDelayer is a Studio that can tell how late its composites show
// each person (the embedded engine's layout page measures it), for a
// person's own recording to be lined up with the composite.
type DisplayDelayer interface {
	// DisplayDelays is, by identity, how long after each person's camera
	// frames arrive the picture of the composite that req records holds
	// them; nil when that composite is not running or its template does
	// not say.
	DisplayDelays(ctx context.Context, req *livekit.RoomCompositeEgressRequest) (map[string]time.Duration, error)
}

// TrackRecorder is a Studio that records from tracks rather than a room
// view, as LiveKit's other egresses do (the embedded engine does): a
// single track as its publisher sent it (TrackEgress), one person's
// camera and microphone (ParticipantEgress), or an audio and a video
// track (TrackCompositeEgress), the last two transcoded to the request's
// outputs. The egress is then stopped, listed and watched as any other.
type TrackRecorder interface {
	StartTrack(ctx context.Context, req *livekit.TrackEgressRequest) (*livekit.EgressInfo, error)
	StartParticipant(ctx context.Context, req *livekit.ParticipantEgressRequest) (*livekit.EgressInfo, error)
	StartTrackComposite(ctx context.Context, req *livekit.TrackCompositeEgressRequest) (*livekit.EgressInfo, error)
}

// PeopleLister is a Studio that can say who is in a room (the embedded
// engine can: it holds the server's key).
type PeopleLister interface {
	// People lists the identities of the people in room: those who
	// joined to take part, not recorders, egresses or agents.
	People(ctx context.Context, room string) ([]string, error)
}

// PeopleOf is the identities of the people among a room's participants
// (see IsPerson).
func PeopleOf(participants []*livekit.ParticipantInfo) []string {
	var out []string
	for _, p := range participants {
		if IsPerson(p) {
			out = append(out, p.Identity)
		}
	}
	return out
}

// IsPerson reports whether a participant joined to take part: hidden ones
// (recorders join hidden), egresses and agents are not people.
func IsPerson(p *livekit.ParticipantInfo) bool {
	return !p.Permission.GetHidden() && p.Kind != livekit.ParticipantInfo_EGRESS && p.Kind != livekit.ParticipantInfo_AGENT
}

// RateMeter is a Studio that measures what its streams send (the
// embedded engine does).
type RateMeter interface {
	// StreamRates is each connected destination's send rate in kbit/s,
	// by its URL as the egress's StreamInfo has it (the key redacted).
	StreamRates(egressID string) (map[string]float64, error)
}

// Mark is a marked moment of a recording.
type Mark struct {
	Index int // 1, 2, … within its egress
	At    time.Time
	Label string
	// Outputs are the outputs that keep it ("file_outputs[0]",
	// "segment_outputs[0]"); a stream or images keep none.
	Outputs []string
}

// Marker is a Studio that marks moments of its recordings (the embedded
// engine does; LiveKit's API has no such call).
type Marker interface {
	// Mark adds a marker, labelled label ("" for none), now, to every
	// file and segments output of the egress: beside each, as WebVTT
	// chapters and a JSON list, and in the HLS playlists.
	Mark(ctx context.Context, egressID, label string) (Mark, error)
	// Relabel changes the label of marker index of the egress.
	Relabel(ctx context.Context, egressID string, index int, label string) error
}

// Pauser is a Studio whose recordings pause (the embedded engine; LiveKit's
// API has no such call).
type Pauser interface {
	// Pause stops the egress's files, segments and images where they
	// are, while its composite and its streams go on.
	Pause(ctx context.Context, egressID string) error
	// Resume writes them on, from a key frame, the paused stretch cut out
	// of their time lines (HLS: after an EXT-X-DISCONTINUITY).
	Resume(ctx context.Context, egressID string) error
}

// ErrNotFound is returned for an egress ID the engine does not know.
var ErrNotFound = errors.New("egress not found")

// ErrRoomNotFound is returned for a room the LiveKit server does not have
// (LiveKit Egress refuses such a request the same way).
var ErrRoomNotFound = errors.New("room not found")

// NotFound is ErrNotFound for one egress ID.
func NotFound(id string) error { return fmt.Errorf("%w: %q", ErrNotFound, id) }

// Connection says whose rooms are recorded and by which engine: this
// machine's, on a LiveKit server or on the embedded demo room, or a
// LiveKit Egress service.
type Connection struct {
	// UseDemo (or an empty LiveKitURL) records the embedded demo room.
	UseDemo bool
	// LiveKitURL, APIKey and APISecret name the LiveKit server.
	LiveKitURL, APIKey, APISecret string
	// TLSCA is a CA certificate file this machine's engine trusts for the
	// server's TLS besides the system's (livekit.tls_ca): a self-signed
	// deployment's.
	TLSCA string
	// EngineURL, when set, is the LiveKit Egress service that records (a
	// LiveKit server with Egress, or another machine's roomcast serve),
	// reached with the same key and secret; "" for this machine's engine.
	EngineURL string
	// OutputDir is where this machine's engine writes relative paths and
	// keeps what waits for an upload.
	OutputDir string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Session is a Studio opened for a Connection.
type Session struct {
	Studio Studio
	// Server names the connection for people: "demo room on ws://...".
	Server string
	// DemoRoom is the embedded demo's room, "" for a configured server.
	DemoRoom string
	// Stop, if set, stops what the session started besides the Studio
	// (the demo room), after the Studio is closed.
	Stop func() error
}

// Close closes the Studio (finalising its recordings), then what the
// session started.
func (s *Session) Close() error {
	err := s.Studio.Close()
	if s.Stop != nil {
		err = errors.Join(err, s.Stop())
	}
	return err
}

// Connector opens a Session; slow (it may start a LiveKit server), so the
// window calls it off the UI goroutine.
type Connector func(ctx context.Context, c Connection) (*Session, error)

// Items is the egresses of one List's answer, as in
// engine.Items(studio.List(ctx, req)).
func Items(resp *livekit.ListEgressResponse, err error) ([]*livekit.EgressInfo, error) {
	return resp.GetItems(), err
}

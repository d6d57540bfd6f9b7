// Package subscriber records from a room without a browser, as LiveKit's
// Participant and TrackComposite egresses do: a hidden, subscribe-only
// participant (a recorder's grant) subscribes to one person's camera (or
// screen share) and microphone, or to two tracks named by ID, and hands
// their RTP packets to a capture pipeline (pipeline.TrackFeed) that
// decodes, scales and mixes them in place of a composite's screen and
// sound. Outputs attach to that capture as they do to a composite's.
package subscriber

import (
	"fmt"
	"strings"
	"sync"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"roomcast/engine/internal/recorder"
	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// Config is whom to record and how big.
type Config struct {
	// URL, APIKey and APISecret reach the LiveKit server; Room is the
	// room to record from.
	URL, APIKey, APISecret, Room string
	// Identity is the recorder's own, hidden from the room.
	Identity string
	// Source is the tracks to record.
	Source request.TrackSource
	// Audio and Video say which media the outputs take.
	Audio, Video bool
	// Width, Height and FPS are the picture's: a camera of another size
	// is scaled to fit, with bars.
	Width, Height, FPS int
	Logf               func(format string, args ...any)
}

// Source is a room's tracks being fed to a capture.
type Source struct {
	cfg  Config
	room *lksdk.Room
	// person is the participant whose tracks are followed (their identity),
	// or, for tracks by ID, their publisher's.
	person string

	mu      sync.Mutex
	capture *pipeline.Capture // set once, before any track is subscribed
	// current is the track feeding each medium (by "audio", "video"); a
	// pump whose track is no longer current stops.
	current map[string]*webrtc.TrackRemote
	// gone counts the tracks by ID that were unpublished.
	gone   map[string]bool
	ended  chan struct{}
	endErr error
	once   sync.Once
	closed bool
}

// defaultFormats are what a capture decodes for a person who publishes
// no such track when the recording starts: what LiveKit's clients send
// unless told otherwise.
var defaultFormats = map[string]pipeline.RTPFormat{
	"video": {MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, PayloadType: 96},
	"audio": {MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, PayloadType: 111},
}

// Start joins the room, subscribes to the tracks and starts the capture.
// It fails at once, naming the request's field, for a participant not in
// the room, a track not published in it, or a codec it cannot decode.
func Start(cfg Config) (*Source, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Source{cfg: cfg, current: map[string]*webrtc.TrackRemote{}, gone: map[string]bool{}, ended: make(chan struct{})}
	cb := lksdk.NewRoomCallback()
	cb.OnTrackPublished = s.published
	cb.OnTrackSubscribed = s.subscribed
	cb.OnTrackUnpublished = s.unpublished
	cb.OnTrackMuted = func(pub lksdk.TrackPublication, p lksdk.Participant) { s.muted(pub, p, true) }
	cb.OnTrackUnmuted = func(pub lksdk.TrackPublication, p lksdk.Participant) { s.muted(pub, p, false) }
	cb.OnParticipantDisconnected = s.left
	cb.OnDisconnected = func() { s.end(nil, "the room closed") }
	room, err := recorder.Join(cfg.URL, cfg.APIKey, cfg.APISecret, cfg.Room, cfg.Identity, cb)
	if err != nil {
		return nil, err
	}
	s.room = room
	pubs, err := s.find()
	if err != nil {
		room.Disconnect()
		return nil, err
	}
	feed := &pipeline.TrackFeed{Placeholder: s.person}
	for _, media := range []string{"video", "audio"} {
		if !s.wants(media) {
			continue
		}
		f := defaultFormats[media]
		if pub := pubs[media]; pub != nil && pub.MimeType() != "" {
			f.MimeType = pub.MimeType()
		}
		if !pipeline.Decodes(f.MimeType) {
			room.Disconnect()
			return nil, &request.FieldError{Field: s.field(media), Msg: fmt.Sprintf("the %s track is %s, which this engine cannot decode (VP8, VP9, H.264 and Opus it can)", media, f.MimeType)}
		}
		if media == "video" {
			feed.Video = &f
		} else {
			feed.Audio = &f
		}
	}
	capture, err := pipeline.NewCapture(pipeline.CaptureConfig{Tracks: feed, Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS, Logf: cfg.Logf})
	if err != nil {
		room.Disconnect()
		return nil, err
	}
	s.mu.Lock()
	s.capture = capture
	s.mu.Unlock()
	go s.watchCapture()
	// Again, now that published subscribes too: a track published
	// between the first look and the capture is in this one.
	if again, err := s.find(); err == nil {
		pubs = again
	}
	for media, pub := range pubs {
		if err := pub.SetSubscribed(true); err != nil {
			s.Close()
			return nil, fmt.Errorf("subscribe to %s's %s: %w", s.person, media, err)
		}
	}
	cfg.Logf("subscriber: recording %s from room %s", s.describe(pubs), cfg.Room)
	return s, nil
}

// wants reports whether the outputs take media and the source has it.
func (s *Source) wants(media string) bool {
	src := s.cfg.Source
	if media == "video" {
		return s.cfg.Video && (src.Participant != "" || src.VideoTrackID != "")
	}
	return s.cfg.Audio && (src.Participant != "" || src.AudioTrackID != "")
}

// field is the request's field that chose media's track.
func (s *Source) field(media string) string {
	if s.cfg.Source.Participant != "" {
		return "identity"
	}
	return media + "_track_id"
}

// find looks up whom to record, and the publications to subscribe to now
// (by "audio", "video"): a participant's may be missing (a camera off),
// which their later publication fills.
func (s *Source) find() (map[string]*lksdk.RemoteTrackPublication, error) {
	src := s.cfg.Source
	pubs := map[string]*lksdk.RemoteTrackPublication{}
	if src.Participant != "" {
		p := s.room.GetParticipantByIdentity(src.Participant)
		if p == nil {
			return nil, &request.FieldError{Field: "identity", Msg: fmt.Sprintf("%q is not in room %q; give the identity of someone in it (lk room participants list)", src.Participant, s.cfg.Room)}
		}
		s.person = p.Identity()
		for _, pub := range p.TrackPublications() {
			if rp, ok := pub.(*lksdk.RemoteTrackPublication); ok {
				if media := s.followed(rp); media != "" && s.wants(media) {
					pubs[media] = rp
				}
			}
		}
		return pubs, nil
	}
	for _, want := range []struct{ media, sid string }{{"video", src.VideoTrackID}, {"audio", src.AudioTrackID}} {
		if want.sid == "" || !s.wants(want.media) {
			continue
		}
		pub, owner := recorder.FindTrack(s.room, want.sid)
		field := want.media + "_track_id"
		if pub == nil {
			return nil, &request.FieldError{Field: field, Msg: fmt.Sprintf("%s is not published in room %q; list the room's tracks (lk room participants list) for a SID", want.sid, s.cfg.Room)}
		}
		if kind := strings.ToLower(pub.Kind().String()); kind != want.media {
			return nil, &request.FieldError{Field: field, Msg: fmt.Sprintf("%s is %s's %s track; give a %s track here", want.sid, owner, kind, want.media)}
		}
		pubs[want.media] = pub
		if s.person == "" {
			s.person = owner
		}
	}
	return pubs, nil
}

// followed is the medium a publication of the recorded participant
// feeds ("audio", "video"), or "" for none: their camera and microphone,
// or with ScreenShare their screen and its sound.
func (s *Source) followed(pub *lksdk.RemoteTrackPublication) string {
	video, audio := livekit.TrackSource_CAMERA, livekit.TrackSource_MICROPHONE
	if s.cfg.Source.ScreenShare {
		video, audio = livekit.TrackSource_SCREEN_SHARE, livekit.TrackSource_SCREEN_SHARE_AUDIO
	}
	switch pub.Source() {
	case video:
		return "video"
	case audio:
		return "audio"
	}
	return ""
}

// mediaOf is what an arriving publication feeds, "" for none.
func (s *Source) mediaOf(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) string {
	src := s.cfg.Source
	var media string
	switch {
	case src.Participant != "":
		if rp.Identity() == src.Participant {
			media = s.followed(pub)
		}
	case pub.SID() == src.VideoTrackID:
		media = "video"
	case pub.SID() == src.AudioTrackID:
		media = "audio"
	}
	if media == "" || !s.wants(media) {
		return ""
	}
	return media
}

// published subscribes to a participant's new camera or microphone (a
// camera turned back on is a new track).
func (s *Source) published(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if s.mediaOf(pub, rp) == "" || s.pipe() == nil {
		return // before the capture, Start subscribes
	}
	if err := pub.SetSubscribed(true); err != nil {
		s.cfg.Logf("subscriber: subscribe to %s's %s: %v", rp.Identity(), pub.Source(), err)
	}
}

// subscribed makes an arriving track the one its medium records.
func (s *Source) subscribed(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	media := s.mediaOf(pub, rp)
	if media == "" {
		return
	}
	codec := track.Codec()
	f := pipeline.RTPFormat{MimeType: codec.MimeType, ClockRate: codec.ClockRate, PayloadType: uint8(codec.PayloadType)}
	if err := s.pipe().SetRTPFormat(media == "video", f); err != nil {
		s.cfg.Logf("subscriber: %s's %s: %v; it is not recorded", rp.Identity(), pub.Source(), err)
		return
	}
	s.mu.Lock()
	s.current[media] = track
	s.mu.Unlock()
	if media == "video" {
		// Start from a key frame now, not from the publisher's next one.
		rp.WritePLI(track.SSRC())
		s.showCamera(!pub.IsMuted())
	}
	s.cfg.Logf("subscriber: recording %s's %s (%s, %s)", rp.Identity(), pub.Source(), pub.SID(), codec.MimeType)
	go s.pump(media, track)
}

// pump hands a track's packets to the capture while it is its medium's
// current track.
func (s *Source) pump(media string, track *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		current, closed := s.current[media] == track, s.closed
		s.mu.Unlock()
		if !current || closed {
			return
		}
		if err := s.pipe().PushRTP(media == "video", append([]byte(nil), buf[:n]...)); err != nil {
			s.cfg.Logf("subscriber: %v", err)
			return
		}
	}
}

// muted hides the recorded camera under the placeholder while it is
// muted (a muted microphone is silence by itself).
func (s *Source) muted(pub lksdk.TrackPublication, p lksdk.Participant, muted bool) {
	rpub, ok := pub.(*lksdk.RemoteTrackPublication)
	rp, isRemote := p.(*lksdk.RemoteParticipant)
	if !ok || !isRemote || s.mediaOf(rpub, rp) != "video" {
		return
	}
	s.showCamera(!muted)
}

func (s *Source) showCamera(on bool) {
	if c := s.pipe(); c != nil {
		if err := c.ShowCamera(on); err != nil {
			s.cfg.Logf("subscriber: %v", err)
		}
	}
}

// unpublished hides a participant's camera that went (their placeholder,
// their silence, until they leave or publish again) and ends a
// TrackComposite once all its tracks are gone.
func (s *Source) unpublished(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if s.mediaOf(pub, rp) == "video" {
		s.showCamera(false)
	}
	src := s.cfg.Source
	if src.Participant != "" || (pub.SID() != src.AudioTrackID && pub.SID() != src.VideoTrackID) {
		return
	}
	s.mu.Lock()
	s.gone[pub.SID()] = true
	all := true
	for media, sid := range map[string]string{"audio": src.AudioTrackID, "video": src.VideoTrackID} {
		if s.wants(media) && !s.gone[sid] {
			all = false
		}
	}
	s.mu.Unlock()
	if all {
		s.end(nil, "its tracks were unpublished")
	}
}

func (s *Source) left(rp *lksdk.RemoteParticipant) {
	if s.cfg.Source.Participant != "" && rp.Identity() == s.cfg.Source.Participant {
		s.end(nil, rp.Identity()+" left the room")
	}
}

func (s *Source) watchCapture() {
	select {
	case err := <-s.pipe().Failed():
		s.end(err, "the capture failed")
	case <-s.ended:
	}
}

func (s *Source) end(err error, why string) {
	s.once.Do(func() {
		s.cfg.Logf("subscriber: ended: %s", why)
		s.mu.Lock()
		s.endErr = err
		s.mu.Unlock()
		close(s.ended)
	})
}

func (s *Source) describe(pubs map[string]*lksdk.RemoteTrackPublication) string {
	var parts []string
	for _, media := range []string{"video", "audio"} {
		switch pub := pubs[media]; {
		case pub != nil:
			parts = append(parts, fmt.Sprintf("%s %s (%s)", media, pub.SID(), pub.MimeType()))
		case s.wants(media):
			parts = append(parts, media+" (none published yet)")
		}
	}
	return s.person + ": " + strings.Join(parts, ", ")
}

// Capture is the pipeline the tracks feed; outputs attach to it.
func (s *Source) Capture() *pipeline.Capture { return s.pipe() }

// pipe is the capture, nil while Start makes it.
func (s *Source) pipe() *pipeline.Capture {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.capture
}

// Ended is closed when the source ended on its own: the participant
// left, the tracks went, the room closed, or the capture failed.
func (s *Source) Ended() <-chan struct{} { return s.ended }

// Err is why the source ended: nil when its tracks or the room went.
func (s *Source) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endErr
}

// Person is the identity of the participant recorded (for tracks by ID,
// the video's publisher, else the audio's).
func (s *Source) Person() string { return s.person }

// Close leaves the room and stops the capture (after the outputs were
// detached from it). Safe to call more than once.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.end(nil, "closed")
	s.room.Disconnect()
	return s.pipe().Close()
}

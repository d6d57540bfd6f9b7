// Package demo runs the embedded default: a LiveKit server on loopback with
// a room of synthetic participants, each publishing a coloured camera and a
// sine tone (and, on request, a grey screen share), for the studio to
// record when nothing else is configured; and, on request, a clapper to
// measure A/V sync with.
package demo

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
)

// DefaultRoom and DefaultParticipants are what `roomcast demo` starts with.
const (
	DefaultRoom         = "demo"
	DefaultParticipants = 3
)

// requiredElements are the GStreamer elements the participants' media
// processes use; checked up front so a missing plugin is one clear line.
var requiredElements = []string{"videotestsrc", "textoverlay", "clocksync", "vp8enc", "avmux_ivf", "x264enc", "h264parse", "audiotestsrc", "opusenc", "oggmux", "fdsink"}

// Options configures Start. Zero values mean the defaults.
type Options struct {
	Room         string // default "demo"
	Participants int    // default 3; 0 with NoParticipants for an empty room
	// NoParticipants starts an empty room (Participants is then ignored).
	NoParticipants bool
	// Clapper also joins the clapper, to measure A/V sync with (see
	// ClapperHz).
	Clapper bool
	// CameraCodec is what the participants' cameras send: "vp8" (the
	// default) or "h264" (constrained baseline). The clapper and screen
	// shares send VP8 either way.
	CameraCodec string
	// APIKey and APISecret, when empty, are made fresh for this run.
	APIKey, APISecret string
	// ServerURL, when set, puts the room on a LiveKit server that runs
	// already (ws:// or wss://, with APIKey and APISecret, both required)
	// instead of starting one: the demo's participants anywhere.
	ServerURL string
	// ServerBinary is the livekit-server to run; empty means FindServer.
	ServerBinary string
	// Redis, when set (host:port), is the message bus of the server it
	// starts: the server then dispatches egress to the workers on it.
	Redis string
	// Webhooks are URLs the server it starts posts its webhooks to,
	// signed with the demo's key.
	Webhooks []string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Demo is a running embedded LiveKit server with its synthetic room.
type Demo struct {
	srv    *server
	room   string
	camera cameraCodec
	logf   func(string, ...any)

	mu           sync.Mutex
	participants map[string]*participant
	next         int // index of the next persona to join
	closed       bool
}

// Start launches the server, creates the room and joins the participants.
// On any error everything started so far is stopped again.
func Start(ctx context.Context, opt Options) (*Demo, error) {
	if opt.Room == "" {
		opt.Room = DefaultRoom
	}
	if opt.Participants == 0 && !opt.NoParticipants {
		opt.Participants = DefaultParticipants
	}
	if opt.Participants < 0 || opt.Participants > 64 {
		return nil, fmt.Errorf("participants: %d is out of range; use 0 to 64", opt.Participants)
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	camera, err := cameraCodecNamed(opt.CameraCodec)
	if err != nil {
		return nil, err
	}
	if err := CheckMediaTools(); err != nil {
		return nil, err
	}
	srv, err := openServer(ctx, opt)
	if err != nil {
		return nil, err
	}
	d := &Demo{srv: srv, room: opt.Room, camera: camera, logf: opt.Logf, participants: map[string]*participant{}}
	if _, err := d.rooms().CreateRoom(ctx, &livekit.CreateRoomRequest{Name: opt.Room, EmptyTimeout: 24 * 3600}); err != nil {
		d.Close()
		return nil, fmt.Errorf("create room %q: %w", opt.Room, err)
	}
	for range opt.Participants {
		if _, err := d.AddParticipant(); err != nil {
			d.Close()
			return nil, err
		}
	}
	if opt.Clapper {
		if _, err := d.AddClapper(); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// openServer starts the demo's own server, or names the one opt gives.
func openServer(ctx context.Context, opt Options) (*server, error) {
	if opt.ServerURL != "" {
		if opt.APIKey == "" || opt.APISecret == "" {
			return nil, errors.New("demo on a server of its own: give its API key and secret as well as its URL")
		}
		return &server{url: opt.ServerURL, key: opt.APIKey, secret: opt.APISecret}, nil
	}
	bin := opt.ServerBinary
	if bin == "" {
		var err error
		if bin, err = FindServer(); err != nil {
			return nil, err
		}
	}
	return startServer(ctx, bin, opt)
}

// CheckMediaTools reports the first missing GStreamer tool or element, with
// the command that installs it.
func CheckMediaTools() error {
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		return errors.New("gst-launch-1.0 not found: run `make deps` (package gstreamer1.0-tools)")
	}
	for _, el := range requiredElements {
		if err := exec.Command("gst-inspect-1.0", "--exists", el).Run(); err != nil {
			return fmt.Errorf("GStreamer element %q is missing: run `make deps` (GStreamer plugins base, good, bad, libav)", el)
		}
	}
	return nil
}

// URL is the server's WebSocket URL (ws://127.0.0.1:PORT, or
// Options.ServerURL).
func (d *Demo) URL() string { return d.srv.url }

// APIKey is the key that signs tokens for this server.
func (d *Demo) APIKey() string { return d.srv.key }

// APISecret is the secret that signs tokens for this server.
func (d *Demo) APISecret() string { return d.srv.secret }

// Room is the demo room's name.
func (d *Demo) Room() string { return d.room }

// HTTPURL is the server's base URL for the Twirp APIs (http://127.0.0.1:PORT,
// or https for a wss:// server).
func (d *Demo) HTTPURL() string { return "http" + strings.TrimPrefix(d.srv.url, "ws") }

func (d *Demo) rooms() *lksdk.RoomServiceClient {
	return lksdk.NewRoomServiceClient(d.HTTPURL(), d.srv.key, d.srv.secret)
}

// Participants lists who is in the demo room now, in order of joining.
func (d *Demo) Participants() []Persona { return d.ParticipantsIn(d.room) }

// ParticipantsIn lists who is in room now, in order of joining.
func (d *Demo) ParticipantsIn(room string) []Persona {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Persona, 0, len(d.participants))
	for _, p := range d.participants {
		if p.roomName == room {
			out = append(out, p.persona)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ToneHz < out[j].ToneHz })
	return out
}

// AddParticipant joins the next persona of the palette to the demo room.
func (d *Demo) AddParticipant() (Persona, error) { return d.addTo(d.room) }

// AddRoom creates another room on the server with n participants of its
// own. They continue the palette, so no colour or tone is in two rooms.
func (d *Demo) AddRoom(ctx context.Context, name string, n int) ([]Persona, error) {
	if name == "" || name == d.room {
		return nil, fmt.Errorf("room %q: give a name other than the demo room's", name)
	}
	if _, err := d.rooms().CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name, EmptyTimeout: 24 * 3600}); err != nil {
		return nil, fmt.Errorf("create room %q: %w", name, err)
	}
	var joined []Persona
	for range n {
		p, err := d.addTo(name)
		if err != nil {
			return joined, err
		}
		joined = append(joined, p)
	}
	return joined, nil
}

// addTo joins the next persona of the palette to room.
func (d *Demo) addTo(room string) (Persona, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return Persona{}, errors.New("demo is closed")
	}
	persona := PersonaFor(d.next)
	d.next++
	d.mu.Unlock()
	if err := d.join(room, persona); err != nil {
		return Persona{}, err
	}
	return persona, nil
}

// AddClapper joins the clapper (see ClapperHz), once.
func (d *Demo) AddClapper() (Persona, error) {
	if _, err := d.get(ClapperIdentity); err == nil {
		return Persona{}, errors.New("the clapper is in the demo room already")
	}
	persona := clapperPersona()
	if err := d.join(d.room, persona); err != nil {
		return Persona{}, err
	}
	return persona, nil
}

func (d *Demo) join(room string, persona Persona) error {
	p, err := joinParticipant(d.srv.url, d.srv.key, d.srv.secret, room, persona, d.camera, d.logf)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		p.leave()
		return errors.New("demo is closed")
	}
	d.participants[persona.Identity] = p
	d.logf("%s joined %q (%s, %g Hz)", persona.Identity, room, colorName(persona), persona.ToneHz)
	return nil
}

// RemoveParticipant makes a participant leave the room.
func (d *Demo) RemoveParticipant(identity string) error {
	p, err := d.take(identity)
	if err != nil {
		return err
	}
	p.leave()
	d.logf("%s left %q", identity, p.roomName)
	return nil
}

// SetMuted mutes or unmutes a participant's camera (video true) or
// microphone (video false).
func (d *Demo) SetMuted(identity string, video, muted bool) error {
	p, err := d.get(identity)
	if err != nil {
		return err
	}
	if video {
		p.videoPub.SetMuted(muted)
	} else {
		p.audioPub.SetMuted(muted)
	}
	return nil
}

// StartScreenShare makes a participant share a screen: a second video
// track, with source SCREEN_SHARE, 1280x720 at 15 fps, all
// ScreenShareColor but for "<Name>'s screen" in its bottom right corner.
// It fails for an unknown identity and for a participant sharing already.
func (d *Demo) StartScreenShare(identity string) error {
	p, err := d.get(identity)
	if err != nil {
		return err
	}
	if err := p.startShare(); err != nil {
		return err
	}
	d.logf("%s started a screen share (%dx%d, %d fps)", identity, shareWidth, shareHeight, shareFPS)
	return nil
}

// StopScreenShare ends a participant's screen share: its track is
// unpublished. It fails for an unknown identity and for a participant not
// sharing.
func (d *Demo) StopScreenShare(identity string) error {
	p, err := d.get(identity)
	if err != nil {
		return err
	}
	if err := p.stopShare(); err != nil {
		return err
	}
	d.logf("%s stopped the screen share", identity)
	return nil
}

// SetVolume changes the amplitude (0..1) of a participant's tone, so tests
// can make one participant the loudest speaker.
func (d *Demo) SetVolume(identity string, volume float64) error {
	if volume < 0 || volume > 1 {
		return fmt.Errorf("volume: %g is out of range; use 0 to 1", volume)
	}
	p, err := d.get(identity)
	if err != nil {
		return err
	}
	return p.startMedia(volume, webrtc.RTPCodecTypeAudio)
}

// SetVideoSize changes the size of a participant's camera picture, as a
// publisher's camera or bandwidth does mid-call: the same track goes on
// with key frames of the new size.
func (d *Demo) SetVideoSize(identity string, width, height int) error {
	if width < 16 || height < 16 || width%2 != 0 || height%2 != 0 {
		return fmt.Errorf("video size %dx%d: use even sizes of at least 16x16", width, height)
	}
	p, err := d.get(identity)
	if err != nil {
		return err
	}
	if p.persona.Clapper {
		return fmt.Errorf("%s: the clapper's picture keeps its size", identity)
	}
	p.mu.Lock()
	p.width, p.height = width, height
	p.mu.Unlock()
	if err := p.startMedia(defaultVolume, webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	d.logf("%s's camera is now %dx%d", identity, width, height)
	return nil
}

func (d *Demo) get(identity string) (*participant, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.participants[identity]
	if !ok {
		return nil, fmt.Errorf("participant %q is not in the demo room", identity)
	}
	return p, nil
}

func (d *Demo) take(identity string) (*participant, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.participants[identity]
	if !ok {
		return nil, fmt.Errorf("participant %q is not in the demo room", identity)
	}
	delete(d.participants, identity)
	return p, nil
}

// Close makes every participant leave (ending their screen shares) and
// stops the server, leaving no process or port behind. Safe to call more
// than once.
func (d *Demo) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	parts := d.participants
	d.participants = nil
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Go(p.leave)
	}
	wg.Wait()
	d.srv.stop()
	return nil
}

func colorName(p Persona) string {
	return fmt.Sprintf("#%02x%02x%02x", p.Color.R, p.Color.G, p.Color.B)
}

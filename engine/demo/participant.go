package demo

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// Video and audio that every synthetic participant publishes.
const (
	videoWidth    = 640
	videoHeight   = 360
	videoFPS      = 30
	opusFrameMS   = 20
	defaultVolume = 0.3
)

// Persona is what identifies a synthetic participant on screen and on air:
// a solid colour with the name drawn on it, and a sine tone.
type Persona struct {
	Identity string
	Name     string
	Color    color.RGBA
	ToneHz   float64
}

// palette gives the first participants fixed, easily told apart colours and
// tones (alice red 440 Hz, bob green 660 Hz, carol blue 880 Hz, ...).
var palette = []struct {
	name string
	rgb  uint32
}{
	{"alice", 0xff0000}, {"bob", 0x00ff00}, {"carol", 0x0000ff},
	{"dave", 0xffff00}, {"erin", 0xff00ff}, {"frank", 0x00ffff},
	{"grace", 0xff8000}, {"heidi", 0x8000ff}, {"ivan", 0x00ff80},
	{"judy", 0xff0080}, {"mallory", 0x80ff00}, {"niaj", 0x0080ff},
	{"olivia", 0x804000}, {"peggy", 0x008080}, {"rupert", 0x800080},
	{"sybil", 0x808000},
}

// PersonaFor returns the i-th (0-based) persona. Past the named palette,
// identities are numbered and colours cycle; tones keep rising by 220 Hz.
func PersonaFor(i int) Persona {
	p := palette[i%len(palette)]
	id := p.name
	if i >= len(palette) {
		id = fmt.Sprintf("%s%d", p.name, i/len(palette)+1)
	}
	return Persona{
		Identity: id,
		Name:     strings.ToUpper(id[:1]) + id[1:],
		Color:    color.RGBA{R: uint8(p.rgb >> 16), G: uint8(p.rgb >> 8), B: uint8(p.rgb), A: 255},
		ToneHz:   440 + 220*float64(i),
	}
}

// participant is one synthetic publisher: a LiveKit connection with a
// camera and a microphone track, each fed by its own gst-launch process.
type participant struct {
	persona  Persona
	room     *lksdk.Room
	videoPub *lksdk.LocalTrackPublication
	audioPub *lksdk.LocalTrackPublication
	video    *trackPump
	audio    *trackPump
}

func joinParticipant(url, key, secret, roomName string, p Persona, logf func(string, ...any)) (*participant, error) {
	videoTrack, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	if err != nil {
		return nil, fmt.Errorf("%s: video track: %w", p.Identity, err)
	}
	audioTrack, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		return nil, fmt.Errorf("%s: audio track: %w", p.Identity, err)
	}
	room, err := lksdk.ConnectToRoom(url, lksdk.ConnectInfo{
		APIKey:              key,
		APISecret:           secret,
		RoomName:            roomName,
		ParticipantIdentity: p.Identity,
		ParticipantName:     p.Name,
	}, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false), lksdk.WithLogger(protologger.GetDiscardLogger()))
	if err != nil {
		return nil, fmt.Errorf("%s: join room %q: %w", p.Identity, roomName, err)
	}
	part := &participant{persona: p, room: room}
	part.videoPub, err = room.LocalParticipant.PublishTrack(videoTrack, &lksdk.TrackPublicationOptions{
		Name: "camera", Source: livekit.TrackSource_CAMERA, VideoWidth: videoWidth, VideoHeight: videoHeight,
	})
	if err == nil {
		part.audioPub, err = room.LocalParticipant.PublishTrack(audioTrack, &lksdk.TrackPublicationOptions{
			Name: "microphone", Source: livekit.TrackSource_MICROPHONE, Stereo: true,
		})
	}
	if err != nil {
		room.Disconnect()
		return nil, fmt.Errorf("%s: publish: %w", p.Identity, err)
	}
	part.video = newTrackPump(p.Identity+"/video", videoTrack, readIVF, time.Second/videoFPS, logf)
	part.audio = newTrackPump(p.Identity+"/audio", audioTrack, readOpus, opusFrameMS*time.Millisecond, logf)
	if err := part.video.start(videoPipeline(p), nil); err != nil {
		part.leave()
		return nil, err
	}
	if err := part.audio.start(audioPipeline(p, defaultVolume), toneLevel(defaultVolume)); err != nil {
		part.leave()
		return nil, err
	}
	return part, nil
}

// leave stops the media and disconnects. Safe to call more than once.
func (p *participant) leave() {
	p.video.stop()
	p.audio.stop()
	p.room.Disconnect()
}

func videoPipeline(p Persona) []string {
	rgb := uint32(p.Color.R)<<16 | uint32(p.Color.G)<<8 | uint32(p.Color.B)
	return strings.Fields(fmt.Sprintf(
		"videotestsrc is-live=true pattern=solid-color foreground-color=0xff%06x "+
			"! video/x-raw,width=%d,height=%d,framerate=%d/1 "+
			"! textoverlay text=%s font-desc=Sans,48 valignment=bottom halignment=left "+
			"! videoconvert ! vp8enc deadline=1 cpu-used=8 keyframe-max-dist=%d target-bitrate=400000 "+
			"! avmux_ivf ! fdsink fd=1",
		rgb, videoWidth, videoHeight, videoFPS, p.Name, videoFPS))
}

func audioPipeline(p Persona, volume float64) []string {
	return strings.Fields(fmt.Sprintf(
		"audiotestsrc is-live=true wave=sine freq=%g volume=%g samplesperbuffer=960 "+
			"! audio/x-raw,rate=48000,channels=2 "+
			"! opusenc frame-size=%d bitrate=64000 ! oggmux ! fdsink fd=1",
		p.ToneHz, volume, opusFrameMS))
}

// toneLevel is the RTP audio level (RFC 6464: -dBov, 0 the loudest, 127
// silence) of a sine tone of amplitude volume (0..1 of full scale), sent
// with every Opus frame. The LiveKit server picks the active speakers from
// this header extension only (it does not decode the audio), so without it
// nobody ever speaks. A sine's RMS is volume/sqrt(2), and 0 dBov is the RMS
// of a full-scale square wave, as in WebRTC's RmsLevel: volume 0.3 is level
// 13, 1.0 is 3, 0.05 is 29; the server counts 35 and below as speaking.
func toneLevel(volume float64) *lksdk.SampleWriteOptions {
	level := uint8(127)
	if volume > 0 {
		level = uint8(math.Round(math.Min(127, math.Max(0, -20*math.Log10(volume/math.Sqrt2)))))
	}
	return &lksdk.SampleWriteOptions{AudioLevel: &level}
}

// frameReader returns a function that yields one encoded frame per call.
type frameReader func(io.Reader) (func() ([]byte, error), error)

func readIVF(r io.Reader) (func() ([]byte, error), error) {
	ivf, _, err := ivfreader.NewWith(r)
	if err != nil {
		return nil, fmt.Errorf("ivf header: %w", err)
	}
	return func() ([]byte, error) {
		frame, _, err := ivf.ParseNextFrame()
		return frame, err
	}, nil
}

func readOpus(r io.Reader) (func() ([]byte, error), error) {
	ogg := newOggPacketReader(r)
	headers := 0
	return func() ([]byte, error) {
		for {
			pkt, err := ogg.Next()
			if err != nil {
				return nil, err
			}
			// OpusHead and OpusTags are stream headers, not audio.
			if headers < 2 {
				headers++
				continue
			}
			return pkt, nil
		}
	}, nil
}

// trackPump runs one gst-launch process and writes each frame it produces
// to a LiveKit track. The process can be swapped (to change the volume)
// while the track stays published.
type trackPump struct {
	name     string
	track    *lksdk.LocalTrack
	read     frameReader
	duration time.Duration
	logf     func(string, ...any)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func newTrackPump(name string, track *lksdk.LocalTrack, read frameReader, d time.Duration, logf func(string, ...any)) *trackPump {
	return &trackPump{name: name, track: track, read: read, duration: d, logf: logf}
}

// start replaces the running process, if any, with one running pipeline.
// opts (nil for none) go with every frame that process produces.
func (t *trackPump) start(pipeline []string, opts *lksdk.SampleWriteOptions) error {
	t.stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	cmd := exec.Command("gst-launch-1.0", append([]string{"-q"}, pipeline...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start gst-launch-1.0: %w (run `make deps`)", t.name, err)
	}
	next, err := t.read(out)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("%s: gst-launch-1.0 produced no media: %w; it said: %s", t.name, err, strings.TrimSpace(stderr.String()))
	}
	done := make(chan struct{})
	t.cmd, t.done = cmd, done
	go func() {
		defer close(done)
		for {
			frame, err := next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.EPIPE) {
					t.logf("%s: media source ended: %v", t.name, err)
				}
				break
			}
			if err := t.track.WriteSample(media.Sample{Data: frame, Duration: t.duration}, opts); err != nil {
				t.logf("%s: write sample: %v", t.name, err)
			}
		}
		_ = cmd.Wait()
	}()
	return nil
}

// stop ends the process and waits for its pump. Safe to call more than once.
func (t *trackPump) stop() {
	t.mu.Lock()
	cmd, done := t.cmd, t.done
	t.cmd, t.done = nil, nil
	t.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

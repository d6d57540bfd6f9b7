package demo

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
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

// A screen share (Demo.StartScreenShare) is 16:9 like a laptop's screen,
// at a slide deck's modest frame rate, which spares the CPU.
const (
	shareWidth  = 1280
	shareHeight = 720
	shareFPS    = 15
)

// ScreenShareColor fills every screen share: grey is 128 away in some
// channel from every persona's colour (their channels are 0x00, 0x80 or
// 0xff, never all 0x80), and far from both themes' backgrounds (near black
// and near white), so a picture tells the share from any camera.
var ScreenShareColor = color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xff}

// Persona is what identifies a synthetic participant on screen and on air:
// a solid colour with the name drawn on it, and a sine tone; or, for the
// clapper, a flashing picture and a tick on each flash.
type Persona struct {
	Identity string
	Name     string
	Color    color.RGBA
	ToneHz   float64
	Clapper  bool
}

// The clapper is the participant that A/V sync is measured with
// (Options.Clapper): its picture flips between black and white every
// ClapperPeriod (black with a white ball bouncing, then white with a black
// one), and a 100 ms tick of ClapperHz starts at each flip, those at flips
// to black ClapperMarkerRatio as loud (audiotestsrc's marker ticks: every
// other one, the first at time 0), so that a sound paired with the wrong
// flip shows. ClapperHz is far from the first personas' tones (440,
// 660, 880 Hz, ...), so that a filter tells the tick from them in a
// recording.
const (
	ClapperIdentity = "clapper"
	ClapperHz       = 3000
	// ClapperPeriod is videotestsrc's: pattern=ball flip=true inverts the
	// picture every 50 frames.
	ClapperPeriod = 50 * time.Second / videoFPS
	// ClapperMarkerRatio is how loud a tick at a flip to black is against
	// one at a flip to white: far enough below 1 to tell them apart after
	// Opus and AAC, and above a half, where a tick's onset is found.
	ClapperMarkerRatio = 0.6
)

func clapperPersona() Persona {
	return Persona{Identity: ClapperIdentity, Name: "Clapper", Color: color.RGBA{R: 255, G: 255, B: 255, A: 255}, ToneHz: ClapperHz, Clapper: true}
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

// mediaSpec is one gst-launch process of a participant: its pipeline and
// the kinds of track its outputs feed, in the order of mediaProcess's fds.
type mediaSpec struct {
	pipeline []string
	kinds    []webrtc.RTPCodecType
}

// media lists the processes that make p's camera (in codec) and
// microphone at volume: one each, or for the clapper one for both, so that
// its picture and its sound run on one clock.
func (p Persona) media(volume float64, width, height int, codec cameraCodec) []mediaSpec {
	video, audio := webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio
	if p.Clapper {
		return []mediaSpec{{clapperPipeline(volume), []webrtc.RTPCodecType{video, audio}}}
	}
	return []mediaSpec{
		{videoPipeline(p, width, height, codec), []webrtc.RTPCodecType{video}},
		{audioPipeline(p, volume), []webrtc.RTPCodecType{audio}},
	}
}

// participant is one synthetic publisher: a LiveKit connection with a
// camera and a microphone track, fed by gst-launch processes, and while it
// shares its screen a third track.
type participant struct {
	persona  Persona
	roomName string
	room     *lksdk.Room
	videoPub *lksdk.LocalTrackPublication
	audioPub *lksdk.LocalTrackPublication
	video    *lksdk.LocalTrack
	audio    *lksdk.LocalTrack
	camera   cameraCodec     // of video
	procs    []*mediaProcess // one per persona.media spec, in its order
	logf     func(string, ...any)

	mu    sync.Mutex   // guards share, left and the camera's size
	share *screenShare // nil when not sharing
	left  bool
	// width and height are the camera's picture (SetVideoSize).
	width, height int
}

// screenShare is a running screen share: its publication and the process
// that makes its picture.
type screenShare struct {
	pub  *lksdk.LocalTrackPublication
	proc *mediaProcess
}

// cameraCodec is how a picture is encoded and framed on its way from
// gst-launch to its track.
type cameraCodec struct {
	name string // as Options.CameraCodec names it
	// capability is the track's codec.
	capability webrtc.RTPCodecCapability
	// tail encodes raw video into an fdsink (formatted with the key-frame
	// distance in frames, then the fd).
	tail string
	read frameReader
}

// The pipelines' tails: encoders, each into an fdsink at fd (see
// feedFD). oggmux flushes every Opus packet at once (its default holds
// pages for up to 0.5 s), so the sound is not sent in bursts.
//
// The H.264 is constrained baseline (what every browser decodes, and a
// profile-level-id the SDP states) from one thread, so that each picture
// is one slice, which readH264 needs to find a picture's end; zerolatency
// leaves out x264's look-ahead, which would hold frames back. h264parse
// frames it as avc3: each NAL after its length, parameter sets in-band.
const (
	vp8Tail  = "videoconvert ! vp8enc deadline=1 cpu-used=8 keyframe-max-dist=%d target-bitrate=400000 ! avmux_ivf ! fdsink fd=%d"
	h264Tail = "videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast threads=1 key-int-max=%d bitrate=400 " +
		"! video/x-h264,profile=constrained-baseline ! h264parse ! video/x-h264,stream-format=avc3,alignment=au ! fdsink fd=%d"
	opusTail = "opusenc frame-size=%d bitrate=64000 ! oggmux max-delay=0 max-page-delay=0 ! fdsink fd=%d"
)

var (
	vp8Camera  = cameraCodec{"vp8", webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, vp8Tail, readIVF}
	h264Camera = cameraCodec{"h264", webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, h264Tail, readH264}
	// cameraCodecs are the codecs Options.CameraCodec can name.
	cameraCodecs = []cameraCodec{vp8Camera, h264Camera}
)

// cameraCodecNamed is the codec Options.CameraCodec names; "" is VP8.
func cameraCodecNamed(name string) (cameraCodec, error) {
	if name == "" {
		return vp8Camera, nil
	}
	var names []string
	for _, c := range cameraCodecs {
		if strings.EqualFold(c.name, name) {
			return c, nil
		}
		names = append(names, c.name)
	}
	return cameraCodec{}, fmt.Errorf("camera codec %q: use one of %s", name, strings.Join(names, ", "))
}

// newTrack makes a track for the frames of a media process.
func (c cameraCodec) newTrack() (*lksdk.LocalTrack, error) {
	return lksdk.NewLocalSampleTrack(c.capability)
}

// joinParticipant joins p, its camera in codec (the clapper's is always
// VP8, as its timing was measured with it).
func joinParticipant(url, key, secret, roomName string, p Persona, codec cameraCodec, logf func(string, ...any)) (*participant, error) {
	if p.Clapper {
		codec = vp8Camera
	}
	videoTrack, err := codec.newTrack()
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
	part := &participant{persona: p, roomName: roomName, room: room, video: videoTrack, audio: audioTrack, camera: codec, logf: logf}
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
	for _, spec := range p.media(defaultVolume, videoWidth, videoHeight, codec) {
		var kinds []string
		for _, k := range spec.kinds {
			kinds = append(kinds, k.String())
		}
		part.procs = append(part.procs, &mediaProcess{name: p.Identity + "/" + strings.Join(kinds, "+"), logf: logf})
	}
	part.width, part.height = videoWidth, videoHeight
	if err := part.startMedia(defaultVolume, 0); err != nil {
		part.leave()
		return nil, err
	}
	return part, nil
}

// startMedia (re)starts the participant's media processes at volume and
// the camera's size; with only set, just those that make that kind (to
// change the volume, or the camera's size).
func (p *participant) startMedia(volume float64, only webrtc.RTPCodecType) error {
	p.mu.Lock()
	width, height := p.width, p.height
	p.mu.Unlock()
	for i, spec := range p.persona.media(volume, width, height, p.camera) {
		if only != 0 && !slices.Contains(spec.kinds, only) {
			continue
		}
		feeds := make([]feed, len(spec.kinds))
		for j, kind := range spec.kinds {
			feeds[j] = feed{track: p.video, read: p.camera.read, duration: time.Second / videoFPS}
			if kind == webrtc.RTPCodecTypeAudio {
				feeds[j] = feed{track: p.audio, read: readOpus, duration: opusFrameMS * time.Millisecond, opts: toneLevel(volume)}
			}
		}
		if err := p.procs[i].start(spec.pipeline, feeds...); err != nil {
			return err
		}
	}
	return nil
}

// startShare publishes a screen share (a second video track with source
// SCREEN_SHARE) and starts the process that makes its picture.
func (p *participant) startShare() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := p.persona.Identity
	switch {
	case p.left:
		return fmt.Errorf("%s has left the room", id)
	case p.share != nil:
		return fmt.Errorf("%s is sharing a screen already; stop that share first", id)
	}
	track, err := vp8Camera.newTrack()
	if err != nil {
		return fmt.Errorf("%s: screen share track: %w", id, err)
	}
	pub, err := p.room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "screen", Source: livekit.TrackSource_SCREEN_SHARE, VideoWidth: shareWidth, VideoHeight: shareHeight,
	})
	if err != nil {
		return fmt.Errorf("%s: publish screen share: %w", id, err)
	}
	proc := &mediaProcess{name: id + "/screen", logf: p.logf}
	// The caption goes bottom right, clear of the name label that the page
	// draws bottom left over a share filling the frame.
	picture := solidVideo(ScreenShareColor, shareWidth, shareHeight, shareFPS, p.persona.Name+"'s screen", "right", vp8Camera)
	if err := proc.start(picture, feed{track: track, read: vp8Camera.read, duration: time.Second / shareFPS}); err != nil {
		_ = p.room.LocalParticipant.UnpublishTrack(pub.SID())
		return err
	}
	p.share = &screenShare{pub: pub, proc: proc}
	return nil
}

// stopShare stops the screen share's process and unpublishes its track.
func (p *participant) stopShare() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.share == nil {
		return fmt.Errorf("%s is not sharing a screen", p.persona.Identity)
	}
	s := p.share
	p.share = nil
	// The process first: unpublishing closes the track it writes to.
	s.proc.stop()
	if err := p.room.LocalParticipant.UnpublishTrack(s.pub.SID()); err != nil {
		return fmt.Errorf("%s: unpublish screen share: %w", p.persona.Identity, err)
	}
	return nil
}

// leave stops the media and disconnects (which unpublishes every track).
// Safe to call more than once.
func (p *participant) leave() {
	p.mu.Lock()
	p.left = true
	if p.share != nil {
		p.share.proc.stop()
		p.share = nil
	}
	p.mu.Unlock()
	for _, m := range p.procs {
		m.stop()
	}
	p.room.Disconnect()
}

func videoPipeline(p Persona, width, height int, codec cameraCodec) []string {
	return solidVideo(p.Color, width, height, videoFPS, p.Name, "left", codec)
}

// solidVideo is a live picture of one colour with text in a bottom corner
// (halign "left" or "right"), in codec at feedFD(0): a camera's, or a
// screen share's.
func solidVideo(c color.RGBA, width, height, fps int, text, halign string, codec cameraCodec) []string {
	rgb := uint32(c.R)<<16 | uint32(c.G)<<8 | uint32(c.B)
	src := strings.Fields(fmt.Sprintf(
		"videotestsrc is-live=true pattern=solid-color foreground-color=0xff%06x "+
			"! video/x-raw,width=%d,height=%d,framerate=%d/1 ! textoverlay",
		rgb, width, height, fps))
	// The text is one argument, spaces and all: gst-launch escapes them.
	tail := strings.Fields(fmt.Sprintf("font-desc=Sans,48 valignment=bottom halignment=%s ! "+codec.tail, halign, fps, feedFD(0)))
	return slices.Concat(src, []string{"text=" + text}, tail)
}

func audioPipeline(p Persona, volume float64) []string {
	return strings.Fields(fmt.Sprintf(
		"audiotestsrc is-live=true wave=sine freq=%g volume=%g samplesperbuffer=960 "+
			"! audio/x-raw,rate=48000,channels=2 ! "+opusTail,
		p.ToneHz, volume, opusFrameMS, feedFD(0)))
}

// clapperPipeline makes the clapper's picture (on feedFD(0)) and sound (on
// feedFD(1)). Its sources are not live: their first frame and first sample
// are both at time 0, so flip n and tick n are at the same point of their
// streams (the ball flips every 50 frames, a tick starts every 80000
// samples; the interval is rounded up as audiotestsrc rounds the samples
// down), and clocksync releases each buffer when the clock reaches its
// timestamp. (Live sources each count from when they started, tens of ms
// apart.)
//
// Samples are stamped for the receivers when they reach the track, so a
// tick must reach it with its flip. The sound is released one Opus frame
// early: opusenc waits for the next buffer (its look-ahead) and oggmux
// holds one packet back, two frames in all, but audiotestsrc 1.22 starts
// every tick after the first one buffer (here one frame) early.
func clapperPipeline(volume float64) []string {
	return strings.Fields(fmt.Sprintf(
		"videotestsrc pattern=ball flip=true ! video/x-raw,width=%d,height=%d,framerate=%d/1 ! clocksync ! "+vp8Tail+" "+
			"audiotestsrc wave=ticks freq=%d sine-periods-per-tick=%d tick-interval=%d volume=%g "+
			"marker-tick-period=2 marker-tick-volume=%g samplesperbuffer=%d "+
			"! audio/x-raw,rate=48000,channels=2 ! clocksync ts-offset=%d ! "+opusTail,
		videoWidth, videoHeight, videoFPS, videoFPS, feedFD(0),
		ClapperHz, ClapperHz/10, (ClapperPeriod + 1).Nanoseconds(), volume, volume*ClapperMarkerRatio, 48*opusFrameMS,
		-(opusFrameMS * time.Millisecond).Nanoseconds(), opusFrameMS, feedFD(1)))
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

// readH264 yields the pictures of an avc3 stream (h264Tail), each in Annex
// B as the SDK's payloader splits it: the NALs up to and including the
// picture's one slice (access unit delimiters, parameter sets and SEI go
// with the picture they precede). It waits for the stream's first bytes,
// as the other readers wait for their header.
func readH264(r io.Reader) (func() ([]byte, error), error) {
	br := bufio.NewReader(r)
	if _, err := br.Peek(4); err != nil {
		return nil, fmt.Errorf("h264: %w", err)
	}
	var size [4]byte
	return func() ([]byte, error) {
		var picture []byte
		for {
			if _, err := io.ReadFull(br, size[:]); err != nil {
				return nil, err
			}
			n := binary.BigEndian.Uint32(size[:])
			if n == 0 || n > 1<<22 {
				return nil, fmt.Errorf("h264: a NAL of %d bytes: not an avc3 stream", n)
			}
			start := len(picture)
			picture = append(picture, 0, 0, 0, 1)
			picture = append(picture, make([]byte, n)...)
			if _, err := io.ReadFull(br, picture[start+4:]); err != nil {
				return nil, err
			}
			// 1 and 5 are the slices of a picture (non-IDR, IDR).
			if t := picture[start+4] & 0x1f; t == 1 || t == 5 {
				return picture, nil
			}
		}
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

// feed is one output of a media process: the frames it writes to its fd
// (feedFD) go to track.
type feed struct {
	track    *lksdk.LocalTrack
	read     frameReader
	duration time.Duration             // of each frame
	opts     *lksdk.SampleWriteOptions // sent with every frame; nil for none
}

// feedFD is the fd the i-th feed of a process is written to: stdout, then
// 3, 4, ... (exec.Cmd.ExtraFiles).
func feedFD(i int) int {
	if i == 0 {
		return 1
	}
	return 2 + i
}

// mediaProcess runs one gst-launch process and writes the frames of each of
// its feeds to that feed's track. The process can be swapped (to change the
// volume) while the tracks stay published.
type mediaProcess struct {
	name string
	logf func(string, ...any)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	// rtp is each track's last RTP timestamp: a swapped process goes on
	// from it (the SDK refuses a timestamp that goes back).
	rtp map[*lksdk.LocalTrack]uint32
}

// start replaces the running process, if any, with one running pipeline,
// whose fdsinks write feeds[i] to feedFD(i).
func (m *mediaProcess) start(pipeline []string, feeds ...feed) error {
	m.stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	cmd := exec.Command("gst-launch-1.0", append([]string{"-q"}, pipeline...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	outs := make([]io.ReadCloser, len(feeds))
	var pipes []*os.File // both ends of the outputs past stdout
	closePipes := func() {
		for _, f := range pipes {
			f.Close()
		}
	}
	for i := range feeds {
		if i == 0 {
			out, err := cmd.StdoutPipe()
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			outs[i] = out
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			closePipes()
			return fmt.Errorf("%s: %w", m.name, err)
		}
		outs[i] = r
		pipes = append(pipes, r, w)
		cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	}
	if err := cmd.Start(); err != nil {
		closePipes()
		return fmt.Errorf("%s: start gst-launch-1.0: %w (run `make deps`)", m.name, err)
	}
	// The child holds the write ends now; ours must go, or the readers
	// would never see the end of the stream.
	for _, w := range cmd.ExtraFiles {
		w.Close()
	}
	// Each output's header comes on its own pipe: read them side by side,
	// so that one waiting cannot fill the other's pipe. A failed one ends
	// the process, so that the others do not wait for ever.
	nexts := make([]func() ([]byte, error), len(feeds))
	errs := make([]error, len(feeds))
	var wg sync.WaitGroup
	for i, f := range feeds {
		wg.Go(func() {
			if nexts[i], errs[i] = f.read(outs[i]); errs[i] != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = cmd.Wait()
		closePipes()
		return fmt.Errorf("%s: gst-launch-1.0 produced no media: %w; it said: %s", m.name, err, strings.TrimSpace(stderr.String()))
	}
	done := make(chan struct{})
	m.cmd, m.done = cmd, done
	var pumps sync.WaitGroup
	for i, f := range feeds {
		pumps.Go(func() {
			// Closing its pipe when a feed ends makes the process fail
			// on its next write, so one broken output ends them all.
			defer outs[i].Close()
			m.pump(f, nexts[i])
		})
	}
	go func() {
		defer close(done)
		pumps.Wait()
		_ = cmd.Wait()
	}()
	return nil
}

// pump writes each frame of one feed to its track until the stream ends.
// Each frame's RTP timestamp is given, counted in whole clock ticks: from
// a Duration alone the SDK truncates a video frame's 1/30 s to 2999 ticks
// of 90 kHz, a clock 333 ppm slow, and a receiver's picture drifted
// against its sound over a long recording (+200 ms in an hour).
func (m *mediaProcess) pump(f feed, next func() ([]byte, error)) {
	ticks := uint32(math.Round(f.duration.Seconds() * float64(f.track.Codec().ClockRate)))
	m.mu.Lock()
	if m.rtp == nil {
		m.rtp = map[*lksdk.LocalTrack]uint32{}
	}
	rtp, ok := m.rtp[f.track]
	m.mu.Unlock()
	if !ok {
		rtp = rand.Uint32()
	}
	defer func() {
		m.mu.Lock()
		m.rtp[f.track] = rtp
		m.mu.Unlock()
	}()
	for {
		frame, err := next()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.EPIPE) {
				m.logf("%s: media source ended: %v", m.name, err)
			}
			return
		}
		if rtp += ticks; rtp == 0 {
			rtp++ // 0 is "none" to the SDK; a tick late is nothing
		}
		if err := f.track.WriteSample(media.Sample{Data: frame, Duration: f.duration, PacketTimestamp: rtp}, f.opts); err != nil {
			m.logf("%s: write sample: %v", m.name, err)
		}
	}
}

// stop ends the process and waits for its pumps. Safe to call more than
// once.
func (m *mediaProcess) stop() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd, m.done = nil, nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

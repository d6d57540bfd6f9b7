package pipeline

/*
A capture fed by tracks (a participant's, or any two tracks of a room)
takes its picture and sound from RTP packets handed to PushRTP, in place
of the screen and the sink's monitor; the rest (raw tees, encoders,
outputs, meter, preview) is the same:

	videotestsrc(live, half size) ! textoverlay(name) ───────────────────────────────────┐
	appsrc(RTP) ! rtpjitterbuffer ! depay ! decoder ! i420scale(letterbox) ! videorate ──┴─► compositor ! I420 WxH@fps ! tee rawvideo
	appsrc(RTP) ! rtpjitterbuffer ! rtpopusdepay ! opusdec ! S16 ───┬─► audiomixer ! tee rawaudio
	audiotestsrc(live silence) ──────────────────────────────────────┘

The placeholder and the silence keep both running whatever the tracks
do: a camera muted or gone is hidden at once (ShowCamera), the
placeholder showing, as the layouts show a muted camera; one whose
packets stop unannounced shows its last frame for trackHold first. The
compositor, an aggregator as the mixer is, starts its timeline at its
first input's time, for the mixer's reason (see captureDescription).

The camera's frames are put on the compositor's grid by videorate, each
at the nearest of its times. The compositor shows in a frame the
camera's frame that began within it, so a frame a hair before a grid
time (the jitter buffer's timestamps move with its estimate of the
sender's clock) was shown a whole frame early: in a clapper's recording
the sound was 55 ms behind its picture where it was 26 ms in another,
constant within each.
*/

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"

	"roomcast/engine/yuv"
)

// TrackFeed is a capture's picture and sound as RTP packets.
type TrackFeed struct {
	// Video and Audio are the tracks' formats; nil for a capture without
	// that medium.
	Video, Audio *RTPFormat
	// Placeholder is the name shown while no picture comes.
	Placeholder string
}

// RTPFormat is what a track's packets carry.
type RTPFormat struct {
	MimeType    string // as WebRTC names it: "video/VP8", "audio/opus"
	ClockRate   uint32
	PayloadType uint8
}

// decoders turn each codec's RTP packets back into raw media, by MIME
// type in lower case.
//
// VP8's frames are BT.601 with centred chroma (its specification knows no
// other), but vp8dec leaves both out of its caps when its input comes
// from RTP. Left out, GStreamer takes a size's default: BT.601 for a
// 640x360 camera, but BT.709 for a 1280x720 one, whose colours would
// then be read wrong. (With videoscale, which took each end's default,
// the 640x360 camera was also converted to BT.709 on every frame: 0.04
// core of a 720p30 participant recording; i420scale keeps its input's.)
var decoders = map[string]string{
	"video/vp8":  "rtpvp8depay ! vp8dec ! capssetter caps=\"video/x-raw,colorimetry=bt601,chroma-site=jpeg\"",
	"video/vp9":  "rtpvp9depay ! vp9dec",
	"video/h264": "rtph264depay ! avdec_h264",
	"audio/opus": "rtpopusdepay ! opusdec plc=true",
}

// Decodes reports whether a capture can take a track of this MIME type.
func Decodes(mimeType string) bool {
	_, ok := decoders[strings.ToLower(mimeType)]
	return ok
}

// trackJitter is how long a track's jitter buffer holds packets to put
// them in order and wait for a late one; audio and video wait the same,
// so that a person's sound and picture come out as they came in.
const trackJitter = 200 * time.Millisecond

// trackHold is how long the last frame of a camera stays up when its
// packets stop without a word (ShowCamera says when a camera is muted or
// gone) before the placeholder shows. At 500 ms, a machine overloaded on
// purpose (four recordings and a profiler on two cores) flashed the
// placeholder between late frames.
const trackHold = 2 * time.Second

// placeholderColor is the placeholder's background (ARGB), the layouts'
// dark tile.
const placeholderColor = 0xff2b2b2b

// Names of the elements PushRTP feeds.
const (
	videoRTPName = "video-rtp"
	audioRTPName = "audio-rtp"
)

func (f RTPFormat) caps(media string) string {
	enc := strings.ToUpper(strings.TrimPrefix(strings.ToLower(f.MimeType), media+"/"))
	return fmt.Sprintf("application/x-rtp,media=%s,clock-rate=%d,encoding-name=%s,payload=%d", media, f.ClockRate, enc, f.PayloadType)
}

func (f *RTPFormat) check(media string) error {
	if f == nil {
		return nil
	}
	if !strings.HasPrefix(strings.ToLower(f.MimeType), media+"/") || !Decodes(f.MimeType) {
		return fmt.Errorf("capture: a %s track of %s cannot be decoded here", media, f.MimeType)
	}
	return nil
}

// rtpSource is an appsrc that stamps each packet with its arrival on the
// pipeline's clock, which the jitter buffer then smooths.
func rtpSource(name, caps string) string {
	return fmt.Sprintf("appsrc name=%s is-live=true format=time do-timestamp=true max-bytes=2000000 caps=\"%s\" "+
		"! rtpjitterbuffer latency=%d ", name, caps, trackJitter.Milliseconds())
}

func trackVideoDescription(cfg CaptureConfig) string {
	f := cfg.Tracks.Video
	frame := i420(cfg.Width, cfg.Height, cfg.FPS)
	// The placeholder is drawn at half the frame's width and height and
	// scaled up by the compositor, which does so only while it shows: an
	// opaque camera over the whole frame hides it, and the compositor
	// skips a pad so hidden. At full size, drawing it cost 0.03 core of a
	// 720p30 participant recording that showed only the camera.
	pw, ph := (cfg.Width/2)&^1, (cfg.Height/2)&^1 // I420 wants even sizes
	small := i420(pw, ph, cfg.FPS)
	// The name, as big as a tenth of the frame's height.
	font := max(ph/10, 8)
	// The placeholder is a live source of the frame's own rate: at 1 fps,
	// its frame's length became the compositor's latency, and a camera
	// muted at a moment was hidden 1.2 s of recording before it.
	return fmt.Sprintf("videotestsrc name=placeholder is-live=true pattern=solid-color foreground-color=%d ! %s "+
		"! textoverlay text=\"%s\" valignment=center halignment=center font-desc=\"Sans %dpx\" shaded-background=false ! frame. "+
		"%s! %s name=grab ! videoconvert ! video/x-raw,format=I420 ! "+yuv.Scale+
		" ! video/x-raw,format=I420,width=%d,height=%d,pixel-aspect-ratio=1/1 "+
		"! videorate skip-to-first=true max-duplication-time=%d ! video/x-raw,framerate=%d/1 "+
		"! queue name=camera max-size-time=1000000000 max-size-buffers=0 max-size-bytes=0 ! frame. "+
		"compositor name=frame background=black start-time-selection=first sink_0::width=%d sink_0::height=%d sink_1::max-last-buffer-repeat=%d ! %s "+
		"! queue max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000 leaky=downstream "+
		"! tee name=rawvideo allow-not-linked=true ",
		uint32(placeholderColor), small, escapeText(cfg.Tracks.Placeholder), font,
		rtpSource(videoRTPName, f.caps("video")), decoders[strings.ToLower(f.MimeType)],
		cfg.Width, cfg.Height, trackHold.Nanoseconds(), cfg.FPS,
		cfg.Width, cfg.Height, trackHold.Nanoseconds(), frame)
}

// i420 is the caps of raw frames of that size and rate.
func i420(width, height, fps int) string {
	return fmt.Sprintf("video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1", width, height, fps)
}

func trackAudioDescription(cfg CaptureConfig) string {
	f := cfg.Tracks.Audio
	return fmt.Sprintf("%s! %s ! audioconvert ! audioresample ! %s ! queue max-size-time=1000000000 max-size-buffers=0 max-size-bytes=0 name=voice ! sound. ",
		rtpSource(audioRTPName, f.caps("audio")), decoders[strings.ToLower(f.MimeType)], rawAudioCaps)
}

// escapeText makes s safe inside a quoted property of a pipeline
// description.
func escapeText(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// PushRTP hands the capture one RTP packet of its video (or audio) track.
// A full queue (the pipeline stalled) drops the packet, as a network
// would, rather than hold the caller.
func (c *Capture) PushRTP(video bool, pkt []byte) error {
	src := c.audioRTP
	if video {
		src = c.videoRTP
	}
	if src == nil {
		return fmt.Errorf("capture: no %s track to feed", mediaOf(video))
	}
	if ret := src.PushBuffer(gst.NewBufferFromBytes(pkt)); ret != gst.FlowOK {
		return fmt.Errorf("capture: the %s track's packet was refused (%s)", mediaOf(video), ret)
	}
	return nil
}

// SetRTPFormat changes what the video (or audio) packets carry from now
// on: a participant's new camera track may use another payload type. The
// codec must stay the one the capture decodes.
func (c *Capture) SetRTPFormat(video bool, f RTPFormat) error {
	media, src, was := mediaOf(video), c.audioRTP, c.cfg.Tracks.Audio
	if video {
		src, was = c.videoRTP, c.cfg.Tracks.Video
	}
	if src == nil {
		return fmt.Errorf("capture: no %s track to feed", media)
	}
	if !strings.EqualFold(f.MimeType, was.MimeType) {
		return fmt.Errorf("capture: the %s track is now %s; this capture decodes %s", media, f.MimeType, was.MimeType)
	}
	caps := gst.NewCapsFromString(f.caps(media))
	if caps == nil {
		return fmt.Errorf("capture: bad caps %q", f.caps(media))
	}
	src.SetCaps(caps)
	return nil
}

func mediaOf(video bool) string {
	if video {
		return videoKind
	}
	return audioKind
}

// cameraWait is how long the placeholder waits for a camera's first frame
// (see holdPlaceholder): a person without a camera gets the placeholder
// that much later.
const cameraWait = 3 * time.Second

// holdPlaceholder keeps the placeholder out of the compositor until the
// camera's first frame reaches it (or cameraWait), so that the
// compositor's frames fall on the camera's: it starts its timeline at its
// first input's time and steps one frame from there, showing in each of
// its frames the camera's frame that began within it. Started on the
// placeholder's time, it showed each camera frame up to a frame early, by
// the phase between the two, new at every start: a clapper's sound was
// 20-55 ms behind its picture, constant within a recording, different in
// each (12 recordings, in all four modes of the jitter buffer).
func holdPlaceholder(placeholder, camera *gst.Pad) {
	var once sync.Once
	id := placeholder.AddProbe(gst.PadProbeTypeBlockDownstream, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn { return gst.PadProbeOK })
	release := func() { once.Do(func() { placeholder.RemoveProbe(id) }) }
	camera.AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		release()
		return gst.PadProbeRemove
	})
	time.AfterFunc(cameraWait, release)
}

// ShowCamera shows the camera's picture (on), or hides it under the
// placeholder (off: muted, unpublished), from the compositor's next frame.
func (c *Capture) ShowCamera(on bool) error {
	if c.cfg.Tracks == nil || c.cfg.Tracks.Video == nil {
		return errors.New("capture: no camera to show")
	}
	frame, err := c.pipeline.GetElementByName("frame")
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	pad := frame.GetStaticPad("sink_1")
	if pad == nil {
		return errors.New("capture: the compositor has no camera pad")
	}
	alpha := 0.0
	if on {
		alpha = 1
	}
	return pad.SetProperty("alpha", alpha)
}

// trackSources finds the appsrcs of a capture fed by tracks.
func (c *Capture) trackSources() error {
	for _, s := range []struct {
		name string
		fmt  *RTPFormat
		to   **app.Source
	}{{videoRTPName, c.cfg.Tracks.Video, &c.videoRTP}, {audioRTPName, c.cfg.Tracks.Audio, &c.audioRTP}} {
		if s.fmt == nil {
			continue
		}
		el, err := c.pipeline.GetElementByName(s.name)
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		*s.to = app.SrcFromElement(el)
	}
	if c.cfg.Tracks.Video != nil {
		placeholder, err := c.pipeline.GetElementByName("placeholder")
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		camera, err := c.pipeline.GetElementByName("camera")
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		holdPlaceholder(placeholder.GetStaticPad("src"), camera.GetStaticPad("src"))
	}
	return nil
}

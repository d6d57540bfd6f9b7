package pipeline

/*
Encoders are shared. Each is a tap on a raw tee of the capture, ending in
a tee of its own that every output using it is attached to:

	rawvideo ─► venc-N-video-in (leaky 1 s) ! x264enc ! video/x-h264,profile ! h264parse ─► tee venc-N
	rawaudio ─► aenc-N-audio-in (leaky 1 s) ! audiorate ! audioconvert ! audioresample ! rate,channels ! voaacenc ! aacparse ─► tee aenc-N
	                                                                                                     (or opusenc ! opusparse)

An encoder is keyed by its settings (VideoEncoding, AudioEncoding) on its
capture, whose size and frame rate it takes: every output asking for the
same settings hangs off one encoder, which starts with the first and stops
with the last. The contract this needs of an output:

  - it starts at a key frame: one is forced for it (forceKeyUnit), and its
    delta frames before it are dropped (see Attach);
  - its time zero is that key frame, applied after the encoder, on its own
    input (the encoder runs on the capture's timeline);
  - a key frame forced for another output is no cut of its own: an HLS
    output cuts only at its own boundaries and asks for a key frame at
    each (Attachment.RequestKeyFrame).

Settings that differ make another encoder: the bitrate, the profile and
the GOP (an HLS output's segment length sets its GOP; see request's
keyFrames). An Ogg file has an audio encoder of its own (AudioEncoding's
Owner). Rate control is the same for every encoder: average bitrate
with x264's veryfast preset and zerolatency tune. (nal-hrd=cbr, which
some RTMP services like, would be a key field too; it is not used.)
*/

import (
	"fmt"
	"slices"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// encoderQueue is how much raw media an encoder's input holds: a slow
// encoder drops frames rather than stall the capture, and at most a second
// waits before it.
const encoderQueue = time.Second

// VideoEncoding is an H.264 encoder's settings; its size and frame rate
// are its capture's. It is comparable: equal settings on one capture are
// one encoder.
type VideoEncoding struct {
	BitrateKbps int
	// KeyFrameInterval is the GOP length in seconds; GOPs are fixed
	// (no key frames at scene cuts), which HLS segments need.
	KeyFrameInterval float64
	// Profile is baseline, main or high ("" is main).
	Profile string
}

// AudioCodec is an audio encoder's codec.
type AudioCodec int

// Audio codecs.
const (
	AAC AudioCodec = iota
	Opus
)

func (c AudioCodec) String() string {
	if c == Opus {
		return "opus"
	}
	return "aac"
}

// AudioEncoding is an audio encoder's settings. It is comparable: equal
// settings on one capture are one encoder.
type AudioEncoding struct {
	Codec       AudioCodec
	BitrateKbps int
	SampleRate  int // Hz; 0 is 48000
	Channels    int // 0 is 2
	// Owner, when set, gives the branch of that name an encoder of its
	// own, started for it. An Ogg file needs it: Ogg numbers its pages by
	// the samples the encoder made since it started (granule positions),
	// so on a shared encoder a file joining later would start hours in.
	Owner string
}

// format is the encoding's sample rate and channels, defaults applied.
func (a AudioEncoding) format() (rate, channels int) {
	rate, channels = a.SampleRate, a.Channels
	if rate == 0 {
		rate = 48000
	}
	if channels == 0 {
		channels = 2
	}
	return rate, channels
}

// aacRates are the sampling frequencies an AAC AudioSpecificConfig names
// by index (ISO/IEC 14496-3, 1.6.3.4).
var aacRates = []int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// trackCaps are caps of the encoding's output, as a muxer needs them to
// describe a track, for an audio input that got none: a branch stopped
// before its encoder made a single frame (its sound stalled while the
// machine was starved) sends its muxer EOS on a pad without caps, and
// mp4mux then writes a track without a sample description, which no
// player opens (ffprobe: "invalid STSD entries 0"). With these the file
// plays, its sound track empty. AAC is LC (what voaacenc makes), its
// codec data the 2-byte AudioSpecificConfig: object type 2, the rate's
// index, the channels; framed, as aacparse says it (mpegtsmux refuses
// AAC caps without). "" if it cannot say.
func (a AudioEncoding) trackCaps() string {
	rate, channels := a.format()
	if a.Codec == Opus {
		return fmt.Sprintf("audio/x-opus,channel-mapping-family=0,rate=%d,channels=%d", rate, channels)
	}
	index := slices.Index(aacRates, rate)
	if index < 0 {
		return "" // a rate without an index (requests allow none)
	}
	config := 2<<11 | index<<7 | channels<<3
	return fmt.Sprintf("audio/mpeg,mpegversion=4,stream-format=raw,framed=true,rate=%d,channels=%d,codec_data=(buffer)%04x", rate, channels, config)
}

// encoder is one shared encode on a capture.
type encoder struct {
	name  string
	kind  string
	tap   *tap
	tee   *gst.Element
	users int        // attachments using it; guarded by Capture.mu
	flow  *flowWatch // its output, watched for stalls
}

// encoderOwner routes an encoder's element errors to every output it
// feeds: without their encoder they have nothing more to write.
type encoderOwner struct {
	c *Capture
	e *encoder
}

func (o *encoderOwner) fail(err error) {
	o.c.mu.Lock()
	var users []*Attachment
	for _, a := range o.c.attachments {
		if a.uses(o.e) {
			users = append(users, a)
		}
	}
	o.c.mu.Unlock()
	for _, a := range users {
		a.fail(fmt.Errorf("encoder %s: %w", o.e.name, err))
	}
}

func (o *encoderOwner) message(string, *gst.Structure) {}

// videoEncoder builds a video encoder's bin: x264enc, its profile, and
// h264parse.
func videoEncoder(name string, v VideoEncoding, width, height, fps int) (*encoder, error) {
	gop := int(v.KeyFrameInterval * float64(fps))
	if gop < 1 {
		gop = fps * 4
	}
	profile := v.Profile
	if profile == "" {
		profile = "main"
	}
	b := NewBinBuilder(name + "-enc")
	// zerolatency: no look-ahead or B-frames, so an output attached to a
	// running capture writes its first frame in about 50 ms, not 600 (a
	// measure of 50 attach cycles on a 2-core box). key-int-max with
	// scenecut off gives fixed GOPs.
	x264 := b.Make("x264enc", "x264", Props{
		"bitrate": v.BitrateKbps, "speed-preset": "veryfast", "tune": "zerolatency",
		"key-int-max": gop, "option-string": "scenecut=0", "threads": x264Threads(width, height, fps),
	})
	caps := b.Make("capsfilter", "profile", Props{"caps": "video/x-h264,profile=" + profile})
	// config-interval -1: SPS and PPS before every key frame, so an output
	// joining at one can decode it.
	parse := b.Make("h264parse", "parse", Props{"config-interval": -1})
	b.Link(x264, caps, parse)
	return newEncoder(name, videoKind, b, x264, parse)
}

// singleThreadPixels is the pixel rate up to which x264 encodes on one
// thread: 720p30. Its threads (sliced, on as many slices as cores) cost
// more than they give on frames that small, each one's work handed
// across threads that wake and sleep many times a frame: a 720p30
// encode of a participant's upscaled camera took 0.10 core on its own
// threads and 0.083 on one, in a gst-launch copy of it. Larger frames
// keep them, for a frame's encode to stay within its time.
const singleThreadPixels = 1280 * 720 * 30

// x264Threads is x264enc's threads for frames of that size and rate: 1,
// or 0 for x264's own choice.
func x264Threads(width, height, fps int) int {
	if width*height*fps <= singleThreadPixels {
		return 1
	}
	return 0
}

// AACEncoder is the AAC encoder's element: VisualOn's, which costs a
// 48 kHz stereo stream 0.008 core on this kind of machine where FFmpeg's
// (avenc_aac) costs 0.024, for the same AAC-LC (measured encoding 60 s
// of tone as fast as each goes). It takes up to 320 kbps, as LiveKit
// Egress's AAC does (request refuses more).
const AACEncoder = "voaacenc"

// audioEncoder builds an audio encoder's bin: holes filled, conversion to
// its rate and channels, then AAC or Opus, parsed.
func audioEncoder(name string, a AudioEncoding) (*encoder, error) {
	rate, channels := a.format()
	encName, parseName := AACEncoder, "aacparse"
	if a.Codec == Opus {
		encName, parseName = "opusenc", "opusparse"
	}
	b := NewBinBuilder(name + "-enc")
	// A hole in the raw sound (a stall longer than a queue keeps lets the
	// oldest go) becomes silence: the encoded sound stays continuous, each
	// sample at its time, however a muxer or player treats a gap. It
	// starts at the encoder's first buffer, not at the capture's zero.
	fill := b.Make("audiorate", "fill", Props{"skip-to-first": true})
	convert := b.Make("audioconvert", "convert", nil)
	resample := b.Make("audioresample", "resample", nil)
	caps := b.Make("capsfilter", "format", Props{"caps": fmt.Sprintf("audio/x-raw,rate=%d,channels=%d", rate, channels)})
	enc := b.Make(encName, a.Codec.String(), Props{"bitrate": a.BitrateKbps * 1000})
	parse := b.Make(parseName, "parse", nil)
	b.Link(fill, convert, resample, caps, enc, parse)
	return newEncoder(name, audioKind, b, fill, parse)
}

// newEncoder makes an encoder (not yet attached) of the bin b built, fed
// at first's sink pad: a tap holding the bin, and the tee after it in the
// capture's pipeline (pads of a tee inside the tap's bin could not be
// linked to other bins).
func newEncoder(name, kind string, b *BinBuilder, first, last *gst.Element) (*encoder, error) {
	in := b.Pad(first, "sink")
	bin, err := b.Bin()
	if err != nil {
		return nil, err
	}
	t, err := newTap(bin, []entry{{kind: kind, pad: in}}, encoderQueue)
	if err != nil {
		return nil, err
	}
	tee, err := Make("tee", name, Props{"allow-not-linked": true})
	if err != nil {
		return nil, err
	}
	if err := t.feed(last, tee); err != nil {
		return nil, err
	}
	return &encoder{name: name, kind: kind, tap: t, tee: tee}, nil
}

// encoderLocked returns the running encoder for key, starting it on the
// raw tee of its kind if none runs, and counts one more user. Needs c.mu.
func (c *Capture) encoderLocked(kind string, key any) (*encoder, error) {
	if e := c.encoders[key]; e != nil {
		e.users++
		return e, nil
	}
	raw := c.videoTee
	if kind == audioKind {
		raw = c.audioTee
	}
	if raw == nil {
		return nil, fmt.Errorf("the capture has no %s to encode", kind)
	}
	c.nextEncoder++
	var (
		e   *encoder
		err error
	)
	switch k := key.(type) {
	case VideoEncoding:
		e, err = videoEncoder(fmt.Sprintf("venc%d", c.nextEncoder), k, c.cfg.Width, c.cfg.Height, c.cfg.FPS)
	case AudioEncoding:
		e, err = audioEncoder(fmt.Sprintf("aenc%d", c.nextEncoder), k)
	default:
		return nil, fmt.Errorf("no encoder for %T", key)
	}
	if err != nil {
		return nil, err
	}
	c.setOwners(e.tap.elementNames(), &encoderOwner{c: c, e: e})
	if err := e.tap.attach(c.pipeline.Bin, map[string]*gst.Element{kind: raw}, nil); err != nil {
		c.setOwners(e.tap.elementNames(), nil)
		return nil, err
	}
	if kind == videoKind {
		// A full queue signals overrun once for each frame it lets go to
		// take a new one (leaky downstream frees one frame's time). The
		// handler lives in go-gst's table until the pipeline is freed, so
		// it holds the counter alone: holding the capture, it held the
		// pipeline for good (TestClosedCaptureIsFreed).
		drops := c.encoderDrops
		e.tap.input(videoKind).queue.Connect("overrun", func() { drops.Add(1) })
	}
	e.users = 1
	e.flow = c.watchFlow(e.tee, "output of encoder "+e.name)
	c.encoders[key] = e
	c.cfg.Logf("capture: encoder %s started: %+v", e.name, key)
	return e, nil
}

// releaseEncoderLocked counts one user less; the last one out stops the
// encoder. Needs c.mu.
func (c *Capture) releaseEncoderLocked(key any) {
	e := c.encoders[key]
	if e == nil {
		return
	}
	if e.users--; e.users > 0 {
		return
	}
	delete(c.encoders, key)
	c.unwatchFlow(e.flow)
	_ = e.tap.detach(false, 0)
	c.setOwners(e.tap.elementNames(), nil)
	c.cfg.Logf("capture: encoder %s stopped", e.name)
}

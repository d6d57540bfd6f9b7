package request

import (
	"math"
	"strconv"

	"github.com/livekit/protocol/livekit"
)

// Defaults: LiveKit Egress's for unset fields, except the sample rate (48
// kHz, which both AAC and Opus take, where Egress's pipeline says 44.1 kHz).
// The size is exported: an engine keeps a room view of it ready at first.
const (
	DefaultWidth            = 1280
	DefaultHeight           = 720
	defaultFPS              = 30
	defaultVideoKbps        = 3000
	defaultAudioKbps        = 128
	defaultSampleRate       = 48000
	defaultChannels         = 2
	defaultKeyFrameInterval = 4.0 // s; LiveKit's StreamKeyframeInterval
)

// Limits on advanced options.
const (
	minWidth     = 500  // Chromium draws no window narrower (LiveKit's docs say so too)
	minHeight    = 144  // 144p, the smallest common video height
	maxDimension = 3840 // 4K UHD, either way round
	maxFPS       = 60
	minVideoKbps = 100
	maxVideoKbps = 50000
	minAudioKbps = 8 // Opus's lowest useful rate
	maxAudioKbps = 512
	maxKFI       = 60.0 // s
)

// Presets lists the encoding presets a room composite accepts, in enum order
// (PASSTHROUGH, which skips transcoding, is not one of them).
var Presets = []livekit.EncodingOptionsPreset{
	livekit.EncodingOptionsPreset_H264_720P_30,
	livekit.EncodingOptionsPreset_H264_720P_60,
	livekit.EncodingOptionsPreset_H264_1080P_30,
	livekit.EncodingOptionsPreset_H264_1080P_60,
	livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30,
	livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_60,
	livekit.EncodingOptionsPreset_PORTRAIT_H264_1080P_30,
	livekit.EncodingOptionsPreset_PORTRAIT_H264_1080P_60,
}

type presetSpec struct{ width, height, fps, videoKbps int }

// presetSpecs are LiveKit's (egress pkg/config/encoding.go). Audio is the
// same for all: 128 kbps, 48 kHz, stereo.
var presetSpecs = map[livekit.EncodingOptionsPreset]presetSpec{
	livekit.EncodingOptionsPreset_H264_720P_30:           {1280, 720, 30, 3000},
	livekit.EncodingOptionsPreset_H264_720P_60:           {1280, 720, 60, 4500},
	livekit.EncodingOptionsPreset_H264_1080P_30:          {1920, 1080, 30, 4500},
	livekit.EncodingOptionsPreset_H264_1080P_60:          {1920, 1080, 60, 6000},
	livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30:  {720, 1280, 30, 3000},
	livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_60:  {720, 1280, 60, 4500},
	livekit.EncodingOptionsPreset_PORTRAIT_H264_1080P_30: {1080, 1920, 30, 4500},
	livekit.EncodingOptionsPreset_PORTRAIT_H264_1080P_60: {1080, 1920, 60, 6000},
}

func presetNames() []string {
	names := make([]string, len(Presets))
	for i, p := range Presets {
		names[i] = p.String()
	}
	return names
}

// checkPreset returns the spec of a composite preset, or an error for
// PASSTHROUGH and numbers outside the enum.
func checkPreset(field string, p livekit.EncodingOptionsPreset) (presetSpec, error) {
	if spec, ok := presetSpecs[p]; ok {
		return spec, nil
	}
	if p == livekit.EncodingOptionsPreset_PASSTHROUGH {
		return presetSpec{}, invalid(field, "PASSTHROUGH skips transcoding, which a room composite cannot do (it renders a web page); use one of %s", oneOf(presetNames()))
	}
	return presetSpec{}, invalid(field, "%s is not a preset; use one of %s", quote(enumName(p)), oneOf(presetNames()))
}

// encoding fills Plan.Video and Plan.Audio from the preset or the advanced
// options; the audio codec and key frame interval are settled later, once
// the outputs are known.
func (b *builder) encoding() error {
	p := b.plan
	p.Audio = Audio{BitrateKbps: defaultAudioKbps, SampleRate: defaultSampleRate, Channels: defaultChannels}
	p.Video = Video{KeyFrameIntervalSec: defaultKeyFrameInterval, Codec: livekit.VideoCodec_H264_MAIN, Profile: "main"}

	switch opts := b.req.Options.(type) {
	case nil:
		return b.preset(livekit.EncodingOptionsPreset_H264_720P_30)
	case *livekit.RoomCompositeEgressRequest_Preset:
		return b.preset(opts.Preset)
	case *livekit.RoomCompositeEgressRequest_Advanced:
		if opts.Advanced == nil {
			return b.preset(livekit.EncodingOptionsPreset_H264_720P_30)
		}
		return b.advancedOptions(opts.Advanced)
	}
	return invalid("preset", "unknown options type %T; give preset or advanced", b.req.Options)
}

func (b *builder) preset(preset livekit.EncodingOptionsPreset) error {
	spec, err := checkPreset("preset", preset)
	if err != nil {
		return err
	}
	b.plan.Preset = preset.String()
	v := &b.plan.Video
	v.Width, v.Height, v.FPS, v.BitrateKbps = spec.width, spec.height, spec.fps, spec.videoKbps
	return nil
}

func (b *builder) advancedOptions(a *livekit.EncodingOptions) error {
	v, au := &b.plan.Video, &b.plan.Audio
	var err error
	if v.Width, err = dimension("advanced.width", a.Width, DefaultWidth, minWidth,
		"the narrowest window Chromium draws"); err != nil {
		return err
	}
	if v.Height, err = dimension("advanced.height", a.Height, DefaultHeight, minHeight,
		"the smallest common video height (144p)"); err != nil {
		return err
	}
	switch a.Depth {
	case 0, 24:
	case 8, 16:
		return unsupported("advanced.depth", "%d-bit is not supported by Roomcast, which renders at 24 bits; use 24 or leave depth out", a.Depth)
	default:
		return invalid("advanced.depth", "%d is not a colour depth; use 24 or leave depth out", a.Depth)
	}
	if v.FPS, err = inRange("advanced.framerate", a.Framerate, defaultFPS, 1, maxFPS, "fps", "30 or 60"); err != nil {
		return err
	}
	if v.BitrateKbps, err = inRange("advanced.video_bitrate", a.VideoBitrate, defaultVideoKbps, minVideoKbps, maxVideoKbps, "kbps", "3000 for 720p30 or 4500 for 1080p30"); err != nil {
		return err
	}
	if au.BitrateKbps, err = inRange("advanced.audio_bitrate", a.AudioBitrate, defaultAudioKbps, minAudioKbps, maxAudioKbps, "kbps", "128"); err != nil {
		return err
	}
	if a.AudioFrequency != 0 {
		if !sampleRates[int(a.AudioFrequency)] {
			return invalid("advanced.audio_frequency", "%d Hz is not a sample rate Roomcast encodes; use 48000 or 44100", a.AudioFrequency)
		}
		au.SampleRate = int(a.AudioFrequency)
	}

	switch a.VideoCodec {
	case livekit.VideoCodec_DEFAULT_VC, livekit.VideoCodec_H264_MAIN:
	case livekit.VideoCodec_H264_BASELINE:
		v.Codec, v.Profile = livekit.VideoCodec_H264_BASELINE, "baseline"
	case livekit.VideoCodec_H264_HIGH:
		v.Codec, v.Profile = livekit.VideoCodec_H264_HIGH, "high"
	case livekit.VideoCodec_VP8:
		return unsupported("advanced.video_codec", "VP8 is not supported by Roomcast, which encodes H.264 only; use H264_MAIN (or H264_BASELINE, H264_HIGH)")
	default:
		return invalid("advanced.video_codec", "%s is not a video codec; use H264_MAIN, H264_BASELINE or H264_HIGH", quote(enumName(a.VideoCodec)))
	}

	switch a.AudioCodec {
	case livekit.AudioCodec_DEFAULT_AC:
	case livekit.AudioCodec_AAC, livekit.AudioCodec_OPUS:
		au.Codec = a.AudioCodec
		b.audioCodecSet = true
	case livekit.AudioCodec_AC_MP3:
		return unsupported("advanced.audio_codec", "MP3 is not supported by Roomcast; use AAC or OPUS, or leave audio_codec out to get the one the outputs need")
	default:
		return invalid("advanced.audio_codec", "%s is not an audio codec; use AAC or OPUS, or leave audio_codec out", quote(enumName(a.AudioCodec)))
	}

	if k := a.KeyFrameInterval; k != 0 {
		minKFI := 1 / float64(v.FPS)
		switch {
		case math.IsNaN(k) || math.IsInf(k, 0):
			return invalid("advanced.key_frame_interval", "%v is not a number of seconds; use 4, or leave it out", k)
		case k < 0:
			return invalid("advanced.key_frame_interval", "%s s is negative; use 4, or leave it out", fmtFloat(k))
		case k < minKFI:
			return invalid("advanced.key_frame_interval", "%s s is shorter than one frame at %d fps; use %s s or more (4 is usual)", fmtFloat(k), v.FPS, fmtFloat(minKFI))
		case k > maxKFI:
			return invalid("advanced.key_frame_interval", "%s s is over %g s (players would wait too long for a picture); use 4", fmtFloat(k), maxKFI)
		}
		v.KeyFrameIntervalSec = k
		b.explicitKFI = true
	}

	// read through reflection: the fields are deprecated, and only warned about
	m := a.ProtoReflect()
	if fs := m.Descriptor().Fields(); m.Has(fs.ByName("audio_quality")) || m.Has(fs.ByName("video_quality")) {
		b.warn("advanced.audio_quality, advanced.video_quality: deprecated by LiveKit and ignored; set audio_bitrate and video_bitrate instead")
	}
	return nil
}

// sampleRates are the rates Roomcast's AAC encoder takes; Opus takes the
// subset in opusRates.
var (
	sampleRates = map[int]bool{8000: true, 11025: true, 12000: true, 16000: true, 22050: true,
		24000: true, 32000: true, 44100: true, 48000: true, 88200: true, 96000: true}
	opusRates = map[int]bool{8000: true, 12000: true, 16000: true, 24000: true, 48000: true}
)

// dimension checks a width or height: zero takes def, else it must be even
// and within [min, maxDimension].
func dimension(field string, val int32, def, lowest int, why string) (int, error) {
	switch {
	case val == 0:
		return def, nil
	case val < int32(lowest):
		return 0, invalid(field, "%d is under %d px, %s; use %d or more", val, lowest, why, lowest)
	case val > maxDimension:
		return 0, invalid(field, "%d is over %d px (4K UHD), the largest Roomcast encodes; use %d or less", val, maxDimension, maxDimension)
	case val%2 != 0:
		return 0, invalid(field, "%d is odd, and H.264 needs even sizes; use %d or %d", val, val-1, val+1)
	}
	return int(val), nil
}

// inRange checks a number that zero defaults.
func inRange(field string, val int32, def, lo, hi int, unit, hint string) (int, error) {
	if val == 0 {
		return def, nil
	}
	if int(val) < lo || int(val) > hi {
		return 0, invalid(field, "%d %s is outside %d to %d; use e.g. %s, or leave it out (default %d)", val, unit, lo, hi, hint, def)
	}
	return int(val), nil
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// enumName is an enum value's proto name, or its number when it has none.
func enumName(e interface{ String() string }) string { return e.String() }

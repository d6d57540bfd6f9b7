// Package request validates a LiveKit RoomCompositeEgressRequest and normalises it into the Plan the engine runs.
package request

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Options carries what Build needs besides the request.
type Options struct {
	// Now is the time used for {time} and {utc} and for automatic names;
	// zero means time.Now().
	Now time.Time
	// RoomID replaces {room_id}; it may be empty when the room is not known yet.
	RoomID string
	// OutputDir is the local folder that relative file, segment and image paths
	// are resolved against; empty means the current directory.
	OutputDir string
	// Warnings are copied to the front of Plan.Warnings (Load passes Parse's here).
	Warnings []string
	// DefaultUpload, when set, is where file, segment and image outputs that
	// name no storage of their own are uploaded: the server's default bucket
	// from its config file (storage.s3), as LiveKit Egress's s3 block is.
	DefaultUpload *livekit.S3Upload
	// APIKeys are the names of the server's API keys, the first its own:
	// a webhook's signing_key must be one of them. nil leaves signing keys
	// unchecked (a remote service judges them).
	APIKeys []string
}

// Plan is a validated request with every default filled in. Build returns a
// new Plan; the engine must not change it.
type Plan struct {
	// RoomName is the LiveKit room to record.
	RoomName string
	// Layout is the built-in layout, lower case ("grid" by default), or with
	// CustomBaseURL the layout passed to that template as written (maybe empty).
	Layout string
	// CustomBaseURL is the http(s) URL of the operator's own template, or "".
	CustomBaseURL string
	// AudioOnly and VideoOnly say what the outputs carry; never both. A request
	// whose only outputs are images is made VideoOnly, as in LiveKit Egress.
	AudioOnly bool
	VideoOnly bool
	// Preset is the preset's name, or "" when advanced options were given.
	Preset string
	// Video is the composite's size and frame rate and the H.264 encoder's
	// settings; it is filled in for audio-only requests too (the size of the
	// browser window), but no video is encoded then.
	Video Video
	// Audio is the audio encoder's settings; unused when VideoOnly.
	Audio Audio
	// Files, Streams, Segments and Images are the outputs; at least one is
	// non-empty, and each but Images holds at most one entry.
	Files    []FileOutput
	Streams  []StreamOutput
	Segments []SegmentOutput
	Images   []ImageOutput
	// Webhooks are the request's own webhook receivers.
	Webhooks []Webhook
	// Tracks, for a Participant or TrackComposite egress, is what it
	// records in place of a composite (Layout and CustomBaseURL unused).
	Tracks *TrackSource
	// Warnings are things the operator should know: fixed extensions,
	// ignored fields, the segments-preset quirk. They never hold secrets.
	Warnings []string
}

// Webhook is one receiver of the egress's webhooks: its URL (which may
// hold a secret: show it with RedactURL's care), the name of the API key
// that signs its posts ("" when not checked: see Options.APIKeys), and the
// events it wants (Include: only these; Exclude: all but these).
type Webhook struct {
	Field, URL, SigningKey string
	Include, Exclude       []string
}

// Video is the video part of the composite and its encoder.
type Video struct {
	Width, Height int // pixels, even, Width >= 500
	FPS           int // 1 to 60
	BitrateKbps   int
	// KeyFrameIntervalSec is the distance between key frames: 4 s by
	// default; with segments, a divisor of the segment duration.
	KeyFrameIntervalSec float64
	// Codec is H264_BASELINE, H264_MAIN or H264_HIGH.
	Codec livekit.VideoCodec
	// Profile is the H.264 profile for the encoder caps: "baseline", "main" or
	// "high". The level is left to the encoder.
	Profile string
}

// Audio is the audio encoder's settings.
type Audio struct {
	BitrateKbps int
	SampleRate  int // Hz
	Channels    int // always 2
	// Codec is AAC or OPUS: OGG files carry Opus, everything else AAC unless
	// advanced.audio_codec says OPUS for an MP4.
	Codec livekit.AudioCodec
}

// FileOutput is one recorded file.
type FileOutput struct {
	// Field is the request field it came from: "file_outputs[0]" or the
	// legacy "file".
	Field string
	// FileType is MP4 or OGG (DEFAULT_FILETYPE resolved).
	FileType livekit.EncodedFileType
	// Filepath is the file's name with its extension: for local disk an
	// absolute path or one joined to Options.OutputDir; for an upload the
	// object key in the bucket.
	Filepath string
	// Upload is where the file goes when done; nil means local disk only.
	Upload          *Upload
	DisableManifest bool
}

// StreamOutput is one set of RTMP destinations fed by the same encoder.
type StreamOutput struct {
	Field string // "stream_outputs[0]" or "stream"
	// Protocol is RTMP.
	Protocol livekit.StreamProtocol
	// Destinations are the urls, then the destinations, of the request: no
	// two alike; none when other outputs exist (they are added later with
	// UpdateStream). Their URLs hold stream keys: show them with RedactURL.
	Destinations []Destination
}

// Destination is one RTMP destination: an rtmp:// or rtmps:// URL with
// host, app and stream key, and the ID the request gave it (a
// StreamDestination's; "" for a plain URL), which its StreamInfo carries.
// Field names its URL in the request, for messages.
type Destination struct {
	ID, URL, Field string
}

// SegmentOutput is one HLS recording: a playlist beside its segments.
type SegmentOutput struct {
	Field string // "segment_outputs[0]" or "segments"
	// Protocol is HLS_PROTOCOL (MPEG-TS segments).
	Protocol livekit.SegmentedFileProtocol
	// Dir is the folder of the playlists and segments: for local disk an
	// absolute path or one joined to Options.OutputDir ("." for the current
	// directory); for an upload a key prefix without a trailing slash ("" for
	// the bucket's root).
	Dir string
	// FilenamePrefix is the segments' base name: <prefix>_00000.ts, or with
	// the TIMESTAMP suffix <prefix>_<timestamp>.ts.
	FilenamePrefix string
	// PlaylistName is the playlist's base name, ending in .m3u8.
	PlaylistName string
	// LivePlaylistName is the sliding live playlist's base name, or "" for none.
	LivePlaylistName   string
	SegmentDurationSec int // 1 to 60, 6 by default
	Suffix             livekit.SegmentedFileSuffix
	Upload             *Upload // nil means local disk only
	DisableManifest    bool
}

// ImageOutput is a series of JPEG snapshots of the composite.
type ImageOutput struct {
	Field              string // "image_outputs[0]"
	CaptureIntervalSec int    // seconds between images, at least 1
	Width, Height      int    // pixels; the composite's size by default
	// Dir is the images' folder, as SegmentOutput.Dir.
	Dir string
	// FilenamePrefix is the images' base name: <prefix>_00000.jpeg, or per
	// Suffix <prefix>_<timestamp>.jpeg or <prefix>.jpeg overwritten each time.
	FilenamePrefix  string
	Suffix          livekit.ImageFileSuffix
	ImageCodec      livekit.ImageCodec // IC_JPEG
	Upload          *Upload            // nil means local disk only
	DisableManifest bool
}

// Upload is an S3 (or S3-compatible) destination. Empty AccessKey and Secret
// mean the default AWS credentials of the environment; empty Region means the
// storage package's default. Its String method redacts the credentials.
type Upload struct {
	AccessKey          string
	Secret             string
	SessionToken       string
	Region             string
	Endpoint           string // http(s) URL of an S3-compatible server, or ""
	Bucket             string
	ForcePathStyle     bool
	Metadata           map[string]string
	Tagging            string // URL-query form: "k1=v1&k2=v2"
	ContentDisposition string
}

// Load parses protojson request bytes and builds their plan: Parse's
// warnings follow opt.Warnings at the front of Plan.Warnings.
func Load(data []byte, opt Options) (*Plan, error) {
	req, warnings, err := Parse(data)
	if err != nil {
		return nil, err
	}
	opt.Warnings = append(append([]string(nil), opt.Warnings...), warnings...)
	return Build(req, opt)
}

// Build validates req and returns its normalised plan. The error, if any, is
// a *FieldError naming the first bad field and the fix. Build does not change
// req and has no side effects (it creates no folders).
func Build(req *livekit.RoomCompositeEgressRequest, opt Options) (*Plan, error) {
	if req == nil {
		return nil, invalid("request", "missing; give a RoomCompositeEgressRequest")
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	b := &builder{req: req, opt: opt, plan: &Plan{}}
	b.plan.Warnings = append(b.plan.Warnings, opt.Warnings...)
	b.names = namer{room: req.RoomName, roomID: opt.RoomID, now: opt.Now, warn: b.warn}

	steps := []func() error{b.source, b.encoding, b.outputs, b.codecs, b.keyFrames}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return b.plan, nil
}

// builder holds the state of one Build call.
type builder struct {
	req   *livekit.RoomCompositeEgressRequest
	opt   Options
	plan  *Plan
	names namer

	// from encoding: whether advanced options set these
	explicitKFI   bool
	audioCodecSet bool

	// from outputs: the proto field of each output, for messages
	fileField, streamField, segmentField string
}

func (b *builder) warn(msg string) { b.plan.Warnings = append(b.plan.Warnings, msg) }

// source checks what is recorded: room, layout or template, audio/video.
func (b *builder) source() error {
	req, p := b.req, b.plan
	if strings.TrimSpace(req.RoomName) == "" {
		return invalid("room_name", "required; name the LiveKit room to record")
	}
	if hasControl(req.RoomName) {
		return invalid("room_name", "%s holds a control character; use the room's name as LiveKit shows it", quote(req.RoomName))
	}
	p.RoomName = req.RoomName

	if req.AudioOnly && req.VideoOnly {
		return invalid("video_only", "cannot be combined with audio_only; keep one (or neither, to record audio and video)")
	}
	p.AudioOnly, p.VideoOnly = req.AudioOnly, req.VideoOnly

	if req.AudioMixing != livekit.AudioMixing_DEFAULT_MIXING {
		return unsupported("audio_mixing", "%s is not supported by Roomcast, which mixes all participants as the layout plays them; leave audio_mixing out", enumName(req.AudioMixing))
	}

	if err := b.layout(); err != nil {
		return err
	}
	return b.webhooks()
}

// webhooks checks the request's own webhooks: an http(s) URL each, signed
// with one of the server's keys (its name in signing_key; none: the
// server's first), and events filtered as asked.
func (b *builder) webhooks() error {
	for i, w := range b.req.Webhooks {
		field := index("webhooks", i)
		if w == nil {
			return invalid(field, "empty; give its url, or remove it")
		}
		u, err := url.Parse(strings.TrimSpace(w.Url))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid(join(field, "url"), "%s is not an http:// or https:// URL", quote(redactWebURL(w.Url)))
		}
		key := w.SigningKey
		switch {
		case b.opt.APIKeys == nil: // the keys are the service's to judge
		case key == "":
			key = b.opt.APIKeys[0]
		case !slices.Contains(b.opt.APIKeys, key):
			return invalid(join(field, "signing_key"), "%s is not an API key of this server; give the name of one of its keys, or leave signing_key out to sign with the server's own", quote(redactKey(key)))
		}
		hook := Webhook{Field: field, URL: u.String(), SigningKey: key}
		if f := w.FilterParams; f != nil {
			hook.Include, hook.Exclude = f.IncludeEvents, f.ExcludeEvents
		}
		b.plan.Webhooks = append(b.plan.Webhooks, hook)
	}
	return nil
}

// CompositeKey identifies a composite: requests with equal keys share one
// running virtual screen, browser and capture (see Serves for the one
// exception).
type CompositeKey struct {
	Room          string
	Layout        string
	CustomBaseURL string
	Width, Height int
	FPS           int
	// AudioOnly: the screen is not captured. Such a composite serves only
	// audio-only requests.
	AudioOnly bool
	// Owner, when set, is the one egress the composite serves, one a
	// LiveKit server dispatched: its recorder joins the room with that
	// egress ID as its identity, as LiveKit's recorder does, since the
	// server's UpdateLayout sets that participant's metadata.
	Owner string
}

// CompositeKey returns the key of the composite p records from.
func (p *Plan) CompositeKey() CompositeKey {
	return CompositeKey{
		Room:          p.RoomName,
		Layout:        p.Layout,
		CustomBaseURL: p.CustomBaseURL,
		Width:         p.Video.Width,
		Height:        p.Video.Height,
		FPS:           p.Video.FPS,
		AudioOnly:     p.AudioOnly,
	}
}

// Serves reports whether a running composite with key k can record a
// request whose composite is want: the same key, or, for an audio-only
// request, the same view with its screen captured too (its sound is the
// same; the reverse has no picture to give).
func (k CompositeKey) Serves(want CompositeKey) bool {
	if k == want {
		return true
	}
	k.AudioOnly = true
	return want.AudioOnly && k == want
}

// String shows the key for logs, with the template URL redacted.
func (k CompositeKey) String() string {
	src := k.Layout
	if k.CustomBaseURL != "" {
		src = redactWebURL(k.CustomBaseURL) + "#" + k.Layout
	}
	s := fmt.Sprintf("%s/%s@%dx%dp%d", k.Room, src, k.Width, k.Height, k.FPS)
	if k.AudioOnly {
		s += " audio-only"
	}
	if k.Owner != "" {
		s += " for " + k.Owner
	}
	return s
}

// CompositeOf returns the key of the composite req records from: its room,
// layout, encoding and audio_only checked as Build checks them; its
// outputs do not matter (a preview has none, and a stored request's
// redacted URLs may no longer parse).
func CompositeOf(req *livekit.RoomCompositeEgressRequest) (CompositeKey, error) {
	if req == nil {
		return CompositeKey{}, invalid("request", "missing; give a RoomCompositeEgressRequest")
	}
	r := &livekit.RoomCompositeEgressRequest{
		RoomName:      req.RoomName,
		Layout:        req.Layout,
		AudioOnly:     req.AudioOnly,
		VideoOnly:     req.VideoOnly,
		CustomBaseUrl: req.CustomBaseUrl,
		AudioMixing:   req.AudioMixing,
		Options:       req.Options,
		FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: "composite"}},
	}
	if req.AudioOnly {
		r.FileOutputs[0].FileType = livekit.EncodedFileType_OGG
	}
	p, err := Build(r, Options{Now: time.Unix(0, 0)})
	if err != nil {
		return CompositeKey{}, err
	}
	return p.CompositeKey(), nil
}

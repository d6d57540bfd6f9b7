package request

import (
	"errors"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// Start is a start request in either of LiveKit's forms: the
// RoomCompositeEgressRequest, or the unified StartEgressRequest with a
// template source, which is read as the RoomCompositeEgressRequest it
// amounts to. Build validates either; errors and the plan's fields name
// the fields of the form the caller sent.
type Start struct {
	composite *livekit.RoomCompositeEgressRequest
	unified   *livekit.StartEgressRequest // nil for the composite form
	// participant or trackComposite is the request as sent, when it came
	// in that form; tracks is then its source.
	participant    *livekit.ParticipantEgressRequest
	trackComposite *livekit.TrackCompositeEgressRequest
	tracks         *TrackSource
	// renames map the composite's field paths to the unified request's,
	// most specific first.
	renames []rename
}

type rename struct{ from, to string }

// Composite is the start request req, in the RoomComposite form.
func Composite(req *livekit.RoomCompositeEgressRequest) *Start {
	return &Start{composite: req}
}

// Unified reads a StartEgressRequest. Only a template source is a room
// composite: a web or media source, an output kind this form adds later,
// or storage on a stream is refused here, naming the field.
func Unified(req *livekit.StartEgressRequest) (*Start, error) {
	if req == nil {
		return nil, invalid("request", "missing; give a StartEgressRequest")
	}
	s := &Start{unified: req}
	c := &livekit.RoomCompositeEgressRequest{RoomName: req.RoomName, Webhooks: req.Webhooks}
	switch src := req.Source.(type) {
	case *livekit.StartEgressRequest_Template:
		t := src.Template
		if t == nil {
			t = &livekit.TemplateSource{}
		}
		c.Layout, c.AudioOnly, c.VideoOnly, c.CustomBaseUrl = t.Layout, t.AudioOnly, t.VideoOnly, t.CustomBaseUrl
		for _, f := range []string{"layout", "audio_only", "video_only", "custom_base_url"} {
			s.renames = append(s.renames, rename{f, "template." + f})
		}
	case *livekit.StartEgressRequest_Web:
		return nil, unsupported("web", "Roomcast records rooms through a layout template, not any web page; use template (a built-in layout, or custom_base_url for your own template that follows the layout contract)")
	case *livekit.StartEgressRequest_Media:
		return nil, unsupported("media", "Roomcast records room composites only, not tracks straight from the room; use template, or a LiveKit Egress service for track and participant egress")
	default:
		return nil, invalid("template", "required: a StartEgressRequest needs a source; give template with a layout, e.g. {\"template\": {\"layout\": \"grid\"}}")
	}
	switch enc := req.Encoding.(type) {
	case *livekit.StartEgressRequest_Preset:
		c.Options = &livekit.RoomCompositeEgressRequest_Preset{Preset: enc.Preset}
	case *livekit.StartEgressRequest_Advanced:
		c.Options = &livekit.RoomCompositeEgressRequest_Advanced{Advanced: enc.Advanced}
	}
	if len(req.Outputs) == 0 {
		return nil, invalid("outputs", "required: give at least one of file, stream, segments or images, e.g. {\"outputs\": [{\"file\": {\"filepath\": \"{room_name}-{time}.mp4\"}}]}")
	}
	for i, o := range req.Outputs {
		if err := s.output(c, index("outputs", i), o); err != nil {
			return nil, err
		}
	}
	s.composite = c
	return s, nil
}

// output adds one entry of outputs to c, with its storage: its own (the
// output's storage, else the segments' or images' own upload field), else
// the request's.
func (s *Start) output(c *livekit.RoomCompositeEgressRequest, field string, o *livekit.Output) error {
	if o == nil {
		return invalid(field, "empty; give file, stream, segments or images, or remove it")
	}
	storage, storageField := o.Storage, join(field, "storage")
	if storage == nil {
		storage, storageField = s.unified.Storage, "storage"
	}
	var to string
	switch cfg := o.Config.(type) {
	case *livekit.Output_File:
		f := cfg.File
		if f == nil {
			f = &livekit.FileOutput{}
		}
		out := &livekit.EncodedFileOutput{FileType: f.FileType, Filepath: f.Filepath, DisableManifest: f.DisableManifest}
		setFileStorage(out, storage)
		to = index("file_outputs", len(c.FileOutputs))
		c.FileOutputs = append(c.FileOutputs, out)
		s.renames = append(s.renames, rename{to, join(field, "file")})
	case *livekit.Output_Stream:
		if o.Storage != nil {
			return invalid(join(field, "storage"), "a stream is not stored; remove storage from this output")
		}
		to = index("stream_outputs", len(c.StreamOutputs))
		c.StreamOutputs = append(c.StreamOutputs, cfg.Stream)
		s.renames = append(s.renames, rename{to, join(field, "stream")})
		return nil
	case *livekit.Output_Segments:
		seg := proto.Clone(orEmpty(cfg.Segments)).(*livekit.SegmentedFileOutput)
		if seg.Output != nil && o.Storage != nil {
			return invalid(join(field, "storage"), "the segments name their own storage too; keep one of the two")
		}
		if seg.Output != nil {
			storage = nil // its own wins over the request's
		}
		setSegmentStorage(seg, storage)
		to = index("segment_outputs", len(c.SegmentOutputs))
		c.SegmentOutputs = append(c.SegmentOutputs, seg)
		s.renames = append(s.renames, rename{to, join(field, "segments")})
	case *livekit.Output_Images:
		im := proto.Clone(orEmpty(cfg.Images)).(*livekit.ImageOutput)
		if im.Output != nil && o.Storage != nil {
			return invalid(join(field, "storage"), "the images name their own storage too; keep one of the two")
		}
		if im.Output != nil {
			storage = nil
		}
		setImageStorage(im, storage)
		to = index("image_outputs", len(c.ImageOutputs))
		c.ImageOutputs = append(c.ImageOutputs, im)
		s.renames = append(s.renames, rename{to, join(field, "images")})
	default:
		return invalid(field, "empty; give file, stream, segments or images, or remove it")
	}
	if storage != nil {
		// Problems with the storage are named where it was given; these
		// go before the output's own rename, being more specific.
		for _, p := range []string{"s3", "gcp", "azure", "aliOSS"} {
			s.renames = append([]rename{{join(to, p), join(storageField, p)}}, s.renames...)
		}
	}
	return nil
}

func orEmpty[T any, P interface{ *T }](p P) P {
	if p == nil {
		return new(T)
	}
	return p
}

func setFileStorage(f *livekit.EncodedFileOutput, st *livekit.StorageConfig) {
	switch p := st.GetProvider().(type) {
	case *livekit.StorageConfig_S3:
		f.Output = &livekit.EncodedFileOutput_S3{S3: p.S3}
	case *livekit.StorageConfig_Gcp:
		f.Output = &livekit.EncodedFileOutput_Gcp{Gcp: p.Gcp}
	case *livekit.StorageConfig_Azure:
		f.Output = &livekit.EncodedFileOutput_Azure{Azure: p.Azure}
	case *livekit.StorageConfig_AliOSS:
		f.Output = &livekit.EncodedFileOutput_AliOSS{AliOSS: p.AliOSS}
	}
}

func setSegmentStorage(s *livekit.SegmentedFileOutput, st *livekit.StorageConfig) {
	switch p := st.GetProvider().(type) {
	case *livekit.StorageConfig_S3:
		s.Output = &livekit.SegmentedFileOutput_S3{S3: p.S3}
	case *livekit.StorageConfig_Gcp:
		s.Output = &livekit.SegmentedFileOutput_Gcp{Gcp: p.Gcp}
	case *livekit.StorageConfig_Azure:
		s.Output = &livekit.SegmentedFileOutput_Azure{Azure: p.Azure}
	case *livekit.StorageConfig_AliOSS:
		s.Output = &livekit.SegmentedFileOutput_AliOSS{AliOSS: p.AliOSS}
	}
}

func setImageStorage(im *livekit.ImageOutput, st *livekit.StorageConfig) {
	switch p := st.GetProvider().(type) {
	case *livekit.StorageConfig_S3:
		im.Output = &livekit.ImageOutput_S3{S3: p.S3}
	case *livekit.StorageConfig_Gcp:
		im.Output = &livekit.ImageOutput_Gcp{Gcp: p.Gcp}
	case *livekit.StorageConfig_Azure:
		im.Output = &livekit.ImageOutput_Azure{Azure: p.Azure}
	case *livekit.StorageConfig_AliOSS:
		im.Output = &livekit.ImageOutput_AliOSS{AliOSS: p.AliOSS}
	}
}

// Build validates the request (see the package's Build), naming fields as
// the caller's form does.
func (s *Start) Build(opt Options) (*Plan, error) {
	plan, err := Build(s.composite, opt)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) && s.unified != nil {
			c := *fe
			c.Field = s.field(fe.Field)
			return nil, &c
		}
		return nil, err
	}
	if s.unified != nil {
		s.renamePlan(plan)
	}
	if s.tracks != nil {
		src := *s.tracks
		plan.Tracks = &src
	}
	return plan, nil
}

// AsComposite is the request in the RoomComposite form (for the unified
// form, what it amounts to). The engine must not change it.
func (s *Start) AsComposite() *livekit.RoomCompositeEgressRequest { return s.composite }

// SetRequest puts the request as the caller sent it, redacted, into
// info.request.
func (s *Start) SetRequest(info *livekit.EgressInfo) {
	switch {
	case s.participant != nil:
		info.Request = &livekit.EgressInfo_Participant{Participant: RedactParticipant(s.participant)}
		return
	case s.trackComposite != nil:
		info.Request = &livekit.EgressInfo_TrackComposite{TrackComposite: RedactTrackComposite(s.trackComposite)}
		return
	}
	if s.unified == nil {
		info.Request = &livekit.EgressInfo_RoomComposite{RoomComposite: RedactRequest(s.composite)}
		return
	}
	info.Request = &livekit.EgressInfo_Egress{Egress: RedactStart(s.unified)}
}

// field is the unified request's name for a composite field path.
func (s *Start) field(path string) string {
	for _, r := range s.renames {
		if rest, ok := strings.CutPrefix(path, r.from); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return r.to + rest
		}
	}
	return path
}

func (s *Start) renamePlan(p *Plan) {
	for i := range p.Files {
		p.Files[i].Field = s.field(p.Files[i].Field)
	}
	for i := range p.Streams {
		p.Streams[i].Field = s.field(p.Streams[i].Field)
		for j := range p.Streams[i].Destinations {
			p.Streams[i].Destinations[j].Field = s.field(p.Streams[i].Destinations[j].Field)
		}
	}
	for i := range p.Segments {
		p.Segments[i].Field = s.field(p.Segments[i].Field)
	}
	for i := range p.Images {
		p.Images[i].Field = s.field(p.Images[i].Field)
	}
	for i, w := range p.Warnings {
		// Warnings start with the field they are about.
		if f, rest, ok := strings.Cut(w, ":"); ok {
			p.Warnings[i] = s.field(f) + ":" + rest
		}
	}
}

// RoomCompositeOf is the room composite an egress records, from its info:
// its RoomCompositeEgressRequest, or what its StartEgressRequest with a
// template source amounts to; nil for any other egress.
func RoomCompositeOf(info *livekit.EgressInfo) *livekit.RoomCompositeEgressRequest {
	if rc := info.GetRoomComposite(); rc != nil {
		return rc
	}
	if u := info.GetEgress(); u.GetTemplate() != nil {
		if s, err := Unified(u); err == nil {
			return s.composite
		}
	}
	return nil
}

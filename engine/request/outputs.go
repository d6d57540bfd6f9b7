//lint:file-ignore SA1019 LiveKit's deprecated single-output fields (file, stream, segments) are still accepted, as LiveKit Egress accepts them.

package request

import (
	"strings"

	"github.com/livekit/protocol/livekit"
)

// picked is the one output of each kind a request has (images: each of
// them), with its field name.
type picked struct {
	file     *livekit.EncodedFileOutput
	stream   *livekit.StreamOutput
	segments *livekit.SegmentedFileOutput
	images   []*livekit.ImageOutput
}

// outputs picks the request's outputs (legacy single or plural lists, at
// most one of each kind) and builds each.
func (b *builder) outputs() error {
	req := b.req
	var o picked
	var err error
	if o.file, b.fileField, err = pick("file", req.GetFile(), "file_outputs", req.FileOutputs,
		"a request records at most one file, as in LiveKit Egress; start another egress for a second file"); err != nil {
		return err
	}
	if o.stream, b.streamField, err = pick("stream", req.GetStream(), "stream_outputs", req.StreamOutputs,
		"a request has at most one stream output, as in LiveKit Egress; list every destination in stream_outputs[0].urls"); err != nil {
		return err
	}
	if o.segments, b.segmentField, err = pick("segments", req.GetSegments(), "segment_outputs", req.SegmentOutputs,
		"a request has at most one segment output, as in LiveKit Egress; start another egress for a second one"); err != nil {
		return err
	}
	o.images = req.ImageOutputs
	if o.file == nil && o.stream == nil && o.segments == nil && len(o.images) == 0 {
		return invalid("request", "no output; add file_outputs, stream_outputs, segment_outputs or image_outputs")
	}

	if o.file != nil {
		if err := b.file(o); err != nil {
			return err
		}
	}
	if o.stream != nil {
		if err := b.stream(o); err != nil {
			return err
		}
	}
	if o.segments != nil {
		if err := b.segments(o.segments); err != nil {
			return err
		}
	}
	for i, im := range o.images {
		field := index("image_outputs", i)
		if im == nil {
			return invalid(field, "empty; fill it in or remove it")
		}
		if err := b.images(field, im); err != nil {
			return err
		}
		last := b.plan.Images[len(b.plan.Images)-1]
		for _, other := range b.plan.Images[:len(b.plan.Images)-1] {
			if other.Dir == last.Dir && other.FilenamePrefix == last.FilenamePrefix && other.Upload.sameBucket(last.Upload) {
				return invalid(join(field, "filename_prefix"), "would write the same files as %s; give each image output its own filename_prefix", other.Field)
			}
		}
	}
	if len(o.images) > 0 && o.file == nil && o.stream == nil && o.segments == nil {
		b.plan.VideoOnly = true // images carry no audio; as LiveKit Egress does
	}
	return nil
}

// pick returns the one output of a kind: the legacy single one or the only
// entry of the plural list. Both together is an error (LiveKit Egress would
// quietly drop the legacy one), as is more than one entry.
func pick[T any](legacyName string, legacy *T, listName string, list []*T, tooMany string) (*T, string, error) {
	if legacy != nil && len(list) > 0 {
		return nil, "", invalid(legacyName, "cannot be combined with %s (LiveKit Egress would quietly drop it); move it into %s", listName, listName)
	}
	if legacy != nil {
		return legacy, legacyName, nil
	}
	switch len(list) {
	case 0:
		return nil, "", nil
	case 1:
	default:
		return nil, "", invalid(index(listName, 1), "%s", tooMany)
	}
	if list[0] == nil {
		return nil, "", invalid(index(listName, 0), "empty; fill it in or remove it")
	}
	return list[0], index(listName, 0), nil
}

func (b *builder) place(up *Upload) place {
	return place{upload: up != nil, outputDir: b.opt.OutputDir}
}

func (b *builder) file(o picked) error {
	f, field := o.file, b.fileField
	up, err := b.upload(field, f)
	if err != nil {
		return err
	}
	ft := f.FileType
	switch ft {
	case livekit.EncodedFileType_DEFAULT_FILETYPE:
		// as LiveKit Egress: audio-only files are OGG unless an output or
		// advanced.audio_codec asks for AAC, which OGG cannot carry
		ft = livekit.EncodedFileType_MP4
		aac := b.audioCodecSet && b.plan.Audio.Codec == livekit.AudioCodec_AAC
		if b.plan.AudioOnly && !aac && o.stream == nil && o.segments == nil {
			ft = livekit.EncodedFileType_OGG
		}
	case livekit.EncodedFileType_MP4:
	case livekit.EncodedFileType_OGG:
		if !b.plan.AudioOnly {
			return invalid(join(field, "file_type"), "OGG holds audio only; set audio_only: true, or use MP4")
		}
	case livekit.EncodedFileType_MP3:
		return unsupported(join(field, "file_type"), "MP3 files are not supported by Roomcast; use OGG (Opus) or MP4 (AAC) for audio")
	case livekit.EncodedFileType_MCAP:
		return unsupported(join(field, "file_type"), "MCAP keeps tracks apart, and a composite has one mixed track; use MP4 or OGG")
	default:
		return invalid(join(field, "file_type"), "%s is not a file type; use MP4 or OGG, or leave file_type out", quote(enumName(ft)))
	}
	ext := ".mp4"
	if ft == livekit.EncodedFileType_OGG {
		ext = ".ogg"
	}

	pl := b.place(up)
	pf := join(field, "filepath")
	name, err := pl.cleanName(pf, b.names.expand(pf, f.Filepath), b.warn)
	if err != nil {
		return err
	}
	if name == "" || strings.HasSuffix(name, "/") {
		name += b.names.auto() + ext
	} else {
		name = withExtension(pf, name, ext, b.warn)
	}
	b.plan.Files = append(b.plan.Files, FileOutput{
		Field:           field,
		FileType:        ft,
		Filepath:        pl.resolve(name),
		Upload:          up,
		DisableManifest: f.DisableManifest,
	})
	return nil
}

// maxStreamURLs bounds one stream output's destinations: each sends the
// full bitrate from this machine (16 x 6000 kbps is about 100 Mbit/s).
const maxStreamURLs = 16

func (b *builder) stream(o picked) error {
	s, field := o.stream, b.streamField
	switch s.Protocol {
	case livekit.StreamProtocol_DEFAULT_PROTOCOL, livekit.StreamProtocol_RTMP:
	case livekit.StreamProtocol_SRT:
		return unsupported(join(field, "protocol"), "SRT is not supported by Roomcast; use RTMP")
	case livekit.StreamProtocol_WEBSOCKET:
		return unsupported(join(field, "protocol"), "WebSocket streams are not supported by Roomcast; use RTMP")
	default:
		return invalid(join(field, "protocol"), "%s is not a protocol; use RTMP, or leave protocol out", quote(enumName(s.Protocol)))
	}
	if n := len(s.Urls) + len(s.Destinations); n > maxStreamURLs {
		return invalid(join(field, "urls"), "%d destinations is more than %d; each one uploads the whole stream, so split them over several egresses or use a restreaming service", n, maxStreamURLs)
	}
	dests, err := Destinations(join(field, "urls"), s.Urls, join(field, "destinations"), s.Destinations)
	if err != nil {
		return err
	}
	if len(dests) == 0 && o.file == nil && o.segments == nil && len(o.images) == 0 {
		return invalid(join(field, "urls"), "empty; give at least one rtmp:// or rtmps:// URL (a stream output without URLs is only allowed beside another output, to add URLs later)")
	}
	b.plan.Streams = append(b.plan.Streams, StreamOutput{Field: field, Protocol: livekit.StreamProtocol_RTMP, Destinations: dests})
	return nil
}

// Destinations checks RTMP destinations given as plain URLs (urlsField:
// "stream_outputs[0].urls", or UpdateStream's "add_output_urls") and as
// StreamDestinations with an ID ("...destinations", "add_destinations"),
// and returns them in that order, normalised. No URL may be given twice,
// nor an ID; a destination needs both its ID and its URL.
func Destinations(urlsField string, urls []string, destsField string, dests []*livekit.StreamDestination) ([]Destination, error) {
	out := make([]Destination, 0, len(urls)+len(dests))
	seen := map[string]string{} // streamIdentity -> field of its first
	ids := map[string]string{}  // ID -> field of its first
	add := func(f, id, raw string) error {
		u, err := CheckStreamURL(f, raw)
		if err != nil {
			return err
		}
		if other, dup := seen[streamIdentity(u)]; dup {
			return invalid(f, "%s is given twice (also %s); remove one", quote(RedactURL(raw)), other)
		}
		seen[streamIdentity(u)] = f
		out = append(out, Destination{ID: id, URL: u, Field: f})
		return nil
	}
	for i, raw := range urls {
		if err := add(index(urlsField, i), "", raw); err != nil {
			return nil, err
		}
	}
	for i, d := range dests {
		f := index(destsField, i)
		switch {
		case d == nil:
			return nil, invalid(f, "empty; give its id and url, or remove it")
		case strings.TrimSpace(d.Id) == "":
			return nil, invalid(join(f, "id"), "required; name the destination (its StreamInfo carries the id)")
		case ids[d.Id] != "":
			return nil, invalid(join(f, "id"), "%s is given twice (also %s); give each destination its own id", quote(d.Id), ids[d.Id])
		}
		ids[d.Id] = join(f, "id")
		if err := add(join(f, "url"), d.Id, d.Url); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SingleResult names the kind of output ("file", "stream" or "segments")
// whose result LiveKit Egress also puts in EgressInfo's deprecated
// single-result field (file, stream, segments), or "" for none. LiveKit
// fills it for a kind when the plural lists (file_outputs, stream_outputs,
// segment_outputs, image_outputs) hold no other kind, a legacy single
// output not counting: a request of one kind of output, legacy or plural,
// gets it, and so, as on LiveKit, does a plural one beside a legacy one.
func (p *Plan) SingleResult() string {
	has := map[string]bool{"file": len(p.Files) > 0, "stream": len(p.Streams) > 0, "segments": len(p.Segments) > 0}
	listed := map[string]bool{
		"file":     has["file"] && p.Files[0].Field != "file",
		"stream":   has["stream"] && p.Streams[0].Field != "stream",
		"segments": has["segments"] && p.Segments[0].Field != "segments",
		"images":   len(p.Images) > 0,
	}
	for _, kind := range []string{"file", "stream", "segments"} {
		others := false
		for k, l := range listed {
			others = others || (k != kind && l)
		}
		if has[kind] && !others {
			return kind
		}
	}
	return ""
}

package request

import (
	"fmt"
	"strings"

	"github.com/livekit/protocol/livekit"
)

// Segment and image limits.
const (
	defaultSegmentDuration = 6     // s, the HLS authoring norm (Apple's guidelines)
	maxSegmentDuration     = 60    // s
	maxCaptureInterval     = 86400 // s, one image a day
	minImageSize           = 16    // px, LiveKit Egress's floor for sizes
)

// segments builds the HLS output: one folder for playlists and segments.
func (b *builder) segments(s *livekit.SegmentedFileOutput) error {
	field := b.segmentField
	up, err := b.upload(field, s)
	if err != nil {
		return err
	}
	switch s.Protocol {
	case livekit.SegmentedFileProtocol_DEFAULT_SEGMENTED_FILE_PROTOCOL, livekit.SegmentedFileProtocol_HLS_PROTOCOL:
	case livekit.SegmentedFileProtocol_HLS_FMP4_PROTOCOL:
		return unsupported(join(field, "protocol"), "fragmented-MP4 HLS is not supported by Roomcast; use HLS_PROTOCOL (MPEG-TS segments)")
	default:
		return invalid(join(field, "protocol"), "%s is not a protocol; use HLS_PROTOCOL, or leave protocol out", quote(enumName(s.Protocol)))
	}
	switch s.FilenameSuffix {
	case livekit.SegmentedFileSuffix_INDEX, livekit.SegmentedFileSuffix_TIMESTAMP:
	default:
		return invalid(join(field, "filename_suffix"), "%s is not a suffix; use INDEX or TIMESTAMP", quote(enumName(s.FilenameSuffix)))
	}
	dur := int(s.SegmentDuration)
	switch {
	case s.SegmentDuration == 0:
		dur = defaultSegmentDuration
	case s.SegmentDuration > maxSegmentDuration:
		return invalid(join(field, "segment_duration"), "%d s is over %d s; use %d (the usual HLS length) or less", s.SegmentDuration, maxSegmentDuration, defaultSegmentDuration)
	}

	pl := b.place(up)
	names := [3]struct{ field, raw, dir, base string }{
		{field: join(field, "filename_prefix"), raw: s.FilenamePrefix},
		{field: join(field, "playlist_name"), raw: s.PlaylistName},
		{field: join(field, "live_playlist_name"), raw: s.LivePlaylistName},
	}
	for i := range names {
		n := &names[i]
		clean, err := pl.cleanName(n.field, b.names.expand(n.field, n.raw), b.warn)
		if err != nil {
			return err
		}
		n.dir, n.base = splitName(clean)
	}
	// The folder is filename_prefix's, as LiveKit documents it: "The
	// playlist file will always be created in the same directory as the
	// segments, as indicated in FilenamePrefix, regardless of any potential
	// directory prefix added to PlaylistName." With no prefix, the segments
	// are named after the playlist, folder and all.
	if names[0].dir == "" && names[0].base == "" {
		names[0].dir = names[1].dir
	}
	dir := names[0].dir
	for _, n := range names[1:] {
		if n.dir != "" && n.dir != dir {
			where := "the output folder"
			if dir != "" {
				where = "filename_prefix's folder " + quote(strings.TrimSuffix(dir, "/"))
			}
			b.warn(fmt.Sprintf("%s: folder %s dropped: playlists go beside the segments, in %s, as LiveKit Egress documents", n.field, quote(strings.TrimSuffix(n.dir, "/")), where))
		}
	}
	names[0], names[1] = names[1], names[0] // playlist, prefix, live from here
	playlist := trimExtension(names[0].base, ".m3u8")
	prefix := trimExtension(trimExtension(names[1].base, ".m3u8"), ".ts")
	live := trimExtension(names[2].base, ".m3u8")
	if names[2].raw != "" && live == "" {
		return invalid(names[2].field, "names a folder only; give a file name such as live.m3u8, or leave it out")
	}
	if playlist == "" {
		playlist = prefix
	}
	if playlist == "" {
		playlist = b.names.auto()
	}
	if prefix == "" {
		prefix = playlist
	}
	if live != "" && live == playlist {
		return invalid(names[2].field, "is the same as playlist_name; give the live playlist its own name, e.g. %s", quote(playlist+"-live.m3u8"))
	}
	if live != "" {
		live += ".m3u8"
	}
	b.plan.Segments = append(b.plan.Segments, SegmentOutput{
		Field:              field,
		Protocol:           livekit.SegmentedFileProtocol_HLS_PROTOCOL,
		Dir:                pl.resolveDir(dir),
		FilenamePrefix:     prefix,
		PlaylistName:       playlist + ".m3u8",
		LivePlaylistName:   live,
		SegmentDurationSec: dur,
		Suffix:             s.FilenameSuffix,
		Upload:             up,
		DisableManifest:    s.DisableManifest,
	})
	return nil
}

// images builds one image output (field names it); sizes default to the
// composite's.
func (b *builder) images(field string, im *livekit.ImageOutput) error {
	if b.plan.AudioOnly {
		return invalid(field, "an audio_only request has no video to take images of; drop audio_only, or remove the image output")
	}
	up, err := b.upload(field, im)
	if err != nil {
		return err
	}
	switch {
	case im.CaptureInterval == 0:
		return invalid(join(field, "capture_interval"), "required; give the seconds between images, e.g. 10")
	case im.CaptureInterval > maxCaptureInterval:
		return invalid(join(field, "capture_interval"), "%d s is over a day; use %d or less", im.CaptureInterval, maxCaptureInterval)
	}
	w, h := b.plan.Video.Width, b.plan.Video.Height
	for _, d := range []struct {
		name string
		val  int32
		to   *int
	}{{"width", im.Width, &w}, {"height", im.Height, &h}} {
		switch {
		case d.val == 0:
		case d.val < minImageSize || d.val > maxDimension:
			return invalid(join(field, d.name), "%d px is outside %d to %d; give a size in that range, or leave it out for the composite's", d.val, minImageSize, maxDimension)
		default:
			*d.to = int(d.val)
		}
	}
	switch im.FilenameSuffix {
	case livekit.ImageFileSuffix_IMAGE_SUFFIX_INDEX, livekit.ImageFileSuffix_IMAGE_SUFFIX_TIMESTAMP, livekit.ImageFileSuffix_IMAGE_SUFFIX_NONE_OVERWRITE:
	default:
		return invalid(join(field, "filename_suffix"), "%s is not a suffix; use IMAGE_SUFFIX_INDEX, IMAGE_SUFFIX_TIMESTAMP or IMAGE_SUFFIX_NONE_OVERWRITE", quote(enumName(im.FilenameSuffix)))
	}
	switch im.ImageCodec {
	case livekit.ImageCodec_IC_DEFAULT, livekit.ImageCodec_IC_JPEG:
	default:
		return invalid(join(field, "image_codec"), "%s is not a codec Roomcast writes; use IC_JPEG, or leave image_codec out", quote(enumName(im.ImageCodec)))
	}

	pl := b.place(up)
	pf := join(field, "filename_prefix")
	clean, err := pl.cleanName(pf, b.names.expand(pf, im.FilenamePrefix), b.warn)
	if err != nil {
		return err
	}
	dir, prefix := splitName(clean)
	if prefix == "" {
		prefix = b.names.auto()
	}
	b.plan.Images = append(b.plan.Images, ImageOutput{
		Field:              field,
		CaptureIntervalSec: int(im.CaptureInterval),
		Width:              w,
		Height:             h,
		Dir:                pl.resolveDir(dir),
		FilenamePrefix:     prefix,
		Suffix:             im.FilenameSuffix,
		ImageCodec:         livekit.ImageCodec_IC_JPEG,
		Upload:             up,
		DisableManifest:    im.DisableManifest,
	})
	return nil
}

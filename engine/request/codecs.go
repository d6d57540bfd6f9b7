package request

import (
	"fmt"
	"math"

	"github.com/livekit/protocol/livekit"
)

// maxAACKbps is the highest AAC bitrate: the encoder's (VisualOn's) and
// LiveKit Egress's own limit.
const maxAACKbps = 320

// codecs settles the audio codec: the one advanced.audio_codec names, if
// every output can carry it, else Opus for an OGG file and AAC otherwise.
func (b *builder) codecs() error {
	p := b.plan
	if p.VideoOnly {
		if !b.audioCodecSet {
			p.Audio.Codec = livekit.AudioCodec_AAC
		}
		return nil
	}
	type need struct {
		field, what string
		takes       map[livekit.AudioCodec]bool
	}
	aacOnly := map[livekit.AudioCodec]bool{livekit.AudioCodec_AAC: true}
	var needs []need
	for _, f := range p.Files {
		if f.FileType == livekit.EncodedFileType_OGG {
			needs = append(needs, need{b.fileField, "OGG carries Opus", map[livekit.AudioCodec]bool{livekit.AudioCodec_OPUS: true}})
		} else {
			needs = append(needs, need{b.fileField, "MP4 carries AAC or Opus", map[livekit.AudioCodec]bool{livekit.AudioCodec_AAC: true, livekit.AudioCodec_OPUS: true}})
		}
	}
	if len(p.Streams) > 0 {
		needs = append(needs, need{b.streamField, "RTMP carries AAC", aacOnly})
	}
	if len(p.Segments) > 0 {
		needs = append(needs, need{b.segmentField, "HLS segments carry AAC", aacOnly})
	}

	if b.audioCodecSet {
		c := p.Audio.Codec
		for _, n := range needs {
			if !n.takes[c] {
				return invalid("advanced.audio_codec", "%s cannot go into %s (%s); change it, or leave audio_codec out", enumName(c), n.field, n.what)
			}
		}
	} else {
		p.Audio.Codec = livekit.AudioCodec_AAC
		if len(p.Files) > 0 && p.Files[0].FileType == livekit.EncodedFileType_OGG {
			p.Audio.Codec = livekit.AudioCodec_OPUS
			for _, n := range needs[1:] {
				if !n.takes[livekit.AudioCodec_OPUS] {
					return invalid(join(b.fileField, "file_type"), "OGG carries Opus but %s needs AAC; use MP4 for the file", n.field)
				}
			}
		}
	}
	if p.Audio.Codec == livekit.AudioCodec_AAC && p.Audio.BitrateKbps > maxAACKbps {
		return invalid("advanced.audio_bitrate", "%d kbps is over the %d kbps AAC goes to; use %d or less (128 is usual)", p.Audio.BitrateKbps, maxAACKbps, maxAACKbps)
	}
	if p.Audio.Codec == livekit.AudioCodec_OPUS && !opusRates[p.Audio.SampleRate] {
		return invalid("advanced.audio_frequency", "%d Hz does not suit Opus; use 48000", p.Audio.SampleRate)
	}
	return nil
}

// keyFrames settles the key frame interval: 4 s, or with segments one that
// divides the segment duration (segments are cut at key frames): the
// duration itself, or with a stream too the largest divisor up to 4 s.
func (b *builder) keyFrames() error {
	p := b.plan
	if p.AudioOnly || len(p.Segments) == 0 {
		return nil
	}
	d := float64(p.Segments[0].SegmentDurationSec)
	if b.explicitKFI {
		k := p.Video.KeyFrameIntervalSec
		n := d / k
		if math.Round(n) < 1 || math.Abs(n-math.Round(n)) > 1e-6 {
			return invalid("advanced.key_frame_interval", "%s s does not divide %s.segment_duration of %d s, and segments are cut at key frames; use %s",
				fmtFloat(k), b.segmentField, int(d), divisorHint(int(d)))
		}
		return nil
	}
	if len(p.Streams) > 0 {
		p.Video.KeyFrameIntervalSec = d / math.Ceil(d/defaultKeyFrameInterval)
	} else {
		p.Video.KeyFrameIntervalSec = d
	}
	return nil
}

// divisorHint lists a few whole divisors of d for a message.
func divisorHint(d int) string {
	var ds []string
	for k := d; k >= 1 && len(ds) < 4; k-- {
		if d%k == 0 {
			ds = append(ds, fmt.Sprint(k))
		}
	}
	return oneOf(ds) + ", or leave key_frame_interval out"
}

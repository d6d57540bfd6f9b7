package ui

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine/request"
)

// profile is everything the operator sets up for a show. Profiles store it,
// and the recording, streaming and preview requests are built from it, so
// what is saved is exactly what runs.
type profile struct {
	Name string `mapstructure:"name"`
	Room string `mapstructure:"room"`
	// Layout is a built-in layout; with Template it is passed to the
	// operator's own template as written.
	Layout   string `mapstructure:"layout"`
	Template string `mapstructure:"custom_base_url"`
	// Preset is an EncodingOptionsPreset name; Advanced, when set, wins.
	Preset    string    `mapstructure:"preset"`
	Advanced  *advanced `mapstructure:"advanced,omitempty"`
	AudioOnly bool      `mapstructure:"audio_only"`
	VideoOnly bool      `mapstructure:"video_only"`

	Record recordOutputs `mapstructure:"record"`
	// Destinations are RTMP/RTMPS URLs with their stream keys.
	Destinations []string `mapstructure:"destinations"`
	// DestinationsOff are the destinations switched off: kept in the
	// list, not streamed to.
	DestinationsOff []string `mapstructure:"destinations_off"`
	// Schedule starts and stops the recording and the stream at set times.
	Schedule schedule `mapstructure:"schedule"`
}

// advanced is livekit.EncodingOptions as the Advanced dialog edits it;
// zero fields take the engine's defaults.
type advanced struct {
	Width            int32   `mapstructure:"width"`
	Height           int32   `mapstructure:"height"`
	Framerate        int32   `mapstructure:"framerate"`
	VideoBitrate     int32   `mapstructure:"video_bitrate"`
	KeyFrameInterval float64 `mapstructure:"key_frame_interval"`
	AudioBitrate     int32   `mapstructure:"audio_bitrate"`
}

// recordOutputs are what Start Recording writes: a file, HLS segments and
// snapshots, in one folder (or bucket).
type recordOutputs struct {
	Folder string `mapstructure:"folder"`
	// ToS3 uploads to the bucket set in Settings instead of the folder.
	ToS3 bool `mapstructure:"to_s3"`

	File     bool   `mapstructure:"file"`
	FileType string `mapstructure:"file_type"` // MP4 or OGG
	FileName string `mapstructure:"file_name"` // may use {room_name}, {time}...
	// People also records each person on their own, beside the file.
	People bool `mapstructure:"people"`

	HLS            bool   `mapstructure:"hls"`
	HLSName        string `mapstructure:"hls_name"`
	SegmentSeconds uint32 `mapstructure:"segment_seconds"`
	LivePlaylist   bool   `mapstructure:"live_playlist"`

	Images        bool   `mapstructure:"images"`
	ImageName     string `mapstructure:"image_name"`
	ImageInterval uint32 `mapstructure:"image_interval"`
}

// defaultProfile is a new studio's setup: the demo room, grid, 720p30, an
// MP4 in folder.
func defaultProfile(folder string) profile {
	return profile{
		Layout: request.Layouts[0],
		Preset: livekit.EncodingOptionsPreset_H264_720P_30.String(),
		Record: recordOutputs{
			Folder:         folder,
			File:           true,
			FileType:       livekit.EncodedFileType_MP4.String(),
			FileName:       "{room_name}-{time}",
			HLSName:        "{room_name}-{time}",
			SegmentSeconds: 6,
			ImageName:      "{room_name}-snapshot",
			ImageInterval:  10,
		},
	}
}

// source is the request without outputs: what is recorded and how it is
// encoded.
func (p *profile) source() *livekit.RoomCompositeEgressRequest {
	req := &livekit.RoomCompositeEgressRequest{
		RoomName:      strings.TrimSpace(p.Room),
		Layout:        p.Layout,
		CustomBaseUrl: strings.TrimSpace(p.Template),
		AudioOnly:     p.AudioOnly,
		VideoOnly:     p.VideoOnly,
	}
	if a := p.Advanced; a != nil {
		req.Options = &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{
			Width: a.Width, Height: a.Height, Framerate: a.Framerate,
			VideoBitrate: a.VideoBitrate, KeyFrameInterval: a.KeyFrameInterval, AudioBitrate: a.AudioBitrate,
		}}
	} else {
		// An unknown name becomes -1, which request.Build names in its error.
		preset, ok := livekit.EncodingOptionsPreset_value[p.Preset]
		if !ok {
			preset = -1
		}
		req.Options = &livekit.RoomCompositeEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset(preset)}
	}
	return req
}

// previewRequest is the source with a stand-in output, as the engine's
// Preview replaces the outputs anyway; it lets request.Build check the
// source and size the preview before the engine is asked.
func (p *profile) previewRequest() *livekit.RoomCompositeEgressRequest {
	req := p.source()
	req.AudioOnly, req.VideoOnly = false, false // the preview always shows the picture
	req.FileOutputs = []*livekit.EncodedFileOutput{{Filepath: "preview"}}
	return req
}

// recordRequest builds Start Recording's request; s3 is the bucket from
// Settings, used when the profile records to S3.
func (p *profile) recordRequest(s3 *livekit.S3Upload) *livekit.RoomCompositeEgressRequest {
	req := p.source()
	r := p.Record
	place := func(name string) string {
		if r.ToS3 {
			return name // an object key in the bucket
		}
		return filepath.Join(expandHome(r.Folder), name)
	}
	if r.File {
		f := &livekit.EncodedFileOutput{
			FileType: livekit.EncodedFileType(livekit.EncodedFileType_value[r.FileType]),
			Filepath: place(r.FileName),
		}
		if r.ToS3 {
			f.Output = &livekit.EncodedFileOutput_S3{S3: s3}
		}
		req.FileOutputs = []*livekit.EncodedFileOutput{f}
	}
	if r.HLS {
		s := &livekit.SegmentedFileOutput{
			Protocol:        livekit.SegmentedFileProtocol_HLS_PROTOCOL,
			FilenamePrefix:  place(r.HLSName),
			PlaylistName:    place(r.HLSName + ".m3u8"),
			SegmentDuration: r.SegmentSeconds,
		}
		if r.LivePlaylist {
			s.LivePlaylistName = place(r.HLSName + "-live.m3u8")
		}
		if r.ToS3 {
			s.Output = &livekit.SegmentedFileOutput_S3{S3: s3}
		}
		req.SegmentOutputs = []*livekit.SegmentedFileOutput{s}
	}
	if r.Images {
		im := &livekit.ImageOutput{
			CaptureInterval: r.ImageInterval,
			FilenamePrefix:  place(r.ImageName),
			ImageCodec:      livekit.ImageCodec_IC_JPEG,
		}
		if r.ToS3 {
			im.Output = &livekit.ImageOutput_S3{S3: s3}
		}
		req.ImageOutputs = []*livekit.ImageOutput{im}
	}
	return req
}

// streamRequest builds Start Streaming's request: every destination that
// is on.
func (p *profile) streamRequest() *livekit.RoomCompositeEgressRequest {
	req := p.source()
	req.StreamOutputs = []*livekit.StreamOutput{{
		Protocol: livekit.StreamProtocol_RTMP,
		Urls:     p.destinationsOn(),
	}}
	return req
}

// destinationsOn are the destinations not switched off, in order.
func (p *profile) destinationsOn() []string {
	var on []string
	for _, u := range p.Destinations {
		if !slices.Contains(p.DestinationsOff, u) {
			on = append(on, u)
		}
	}
	return on
}

// pinFileName replaces the file's name template by the name request.Build
// makes of it at now, so that the studio knows the file it is writing
// (for the bitrate and "Recording saved to") before the engine says.
func pinFileName(req *livekit.RoomCompositeEgressRequest, plan *request.Plan) {
	if len(req.FileOutputs) == 1 && len(plan.Files) == 1 {
		req.FileOutputs[0].Filepath = plan.Files[0].Filepath
	}
}

// fieldCheck runs request.Build on req and returns its error if it is
// about field or a field under it. A stand-in room and output fill in what
// req leaves out, so that one field is checked alone, by the engine's own
// rules and in its words.
func fieldCheck(req *livekit.RoomCompositeEgressRequest, field string) error {
	r := proto.Clone(req).(*livekit.RoomCompositeEgressRequest)
	if field != "room_name" && r.RoomName == "" {
		r.RoomName = "room"
	}
	if len(r.FileOutputs)+len(r.StreamOutputs)+len(r.SegmentOutputs)+len(r.ImageOutputs) == 0 {
		r.FileOutputs = []*livekit.EncodedFileOutput{{Filepath: "check"}}
	}
	_, err := request.Build(r, request.Options{})
	if fe, ok := errors.AsType[*request.FieldError](err); ok && underField(fe.Field, field) {
		return err
	}
	return nil
}

// underField reports whether the field path f is p or lies under it:
// "stream_outputs[0].urls[1]" is under "stream_outputs".
func underField(f, p string) bool {
	return f == p || strings.HasPrefix(f, p+".") || strings.HasPrefix(f, p+"[")
}

package request

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
)

func testOptions() Options { return Options{Now: testNow, RoomID: testRoomID, OutputDir: testOutDir} }

func TestBadRequests(t *testing.T) {
	if len(badCases) < 30 {
		t.Fatalf("only %d bad cases", len(badCases))
	}
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) {
			plan, err := Load([]byte(c.json), testOptions())
			if err == nil {
				t.Fatalf("no error; plan %+v", plan.Redacted())
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, c.field+": ") {
				t.Errorf("error does not name %s:\n  %s", c.field, msg)
			}
			if !strings.Contains(msg, c.msg) {
				t.Errorf("error lacks %q:\n  %s", c.msg, msg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error is not ErrInvalid: %v", err)
			}
			if got := errors.Is(err, ErrUnsupported); got != c.unsup {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v", got, c.unsup)
			}
			for _, s := range c.secrets {
				if strings.Contains(msg, s) {
					t.Errorf("error shows secret %q:\n  %s", s, msg)
				}
			}
		})
	}
}

// goodCase is a request Load must take; check looks at the plan.
type goodCase struct {
	name  string
	json  string
	check func(t *testing.T, p *Plan)
}

func local(name string) string { return filepath.Join(testOutDir, filepath.FromSlash(name)) }

func wantEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func wantWarning(t *testing.T, p *Plan, sub string) {
	t.Helper()
	for _, w := range p.Warnings {
		if strings.Contains(w, sub) {
			return
		}
	}
	t.Errorf("no warning with %q in %q", sub, p.Warnings)
}

var default720 = Video{Width: 1280, Height: 720, FPS: 30, BitrateKbps: 3000, KeyFrameIntervalSec: 4, Codec: livekit.VideoCodec_H264_MAIN, Profile: "main"}

var goodCases = []goodCase{
	{name: "minimal file", json: `{"room_name":"my-room","file_outputs":[{}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "layout", p.Layout, "grid")
		wantEq(t, "preset", p.Preset, "H264_720P_30")
		wantEq(t, "video", p.Video, default720)
		wantEq(t, "audio", p.Audio, Audio{BitrateKbps: 128, SampleRate: 48000, Channels: 2, Codec: livekit.AudioCodec_AAC})
		wantEq(t, "files", len(p.Files), 1)
		f := p.Files[0]
		wantEq(t, "file type", f.FileType, livekit.EncodedFileType_MP4)
		wantEq(t, "filepath", f.Filepath, local("my-room-"+stamp+".mp4"))
		wantEq(t, "upload", f.Upload, nil)
		wantEq(t, "warnings", len(p.Warnings), 0)
	}},
	{name: "advanced defaults", json: `{"room_name":"r","advanced":{},"file_outputs":[{}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "preset", p.Preset, "")
		wantEq(t, "video", p.Video, default720)
		wantEq(t, "audio rate", p.Audio.SampleRate, 48000)
	}},
	{name: "advanced set", json: `{"room_name":"r","advanced":{"width":1920,"height":1080,"depth":24,"framerate":60,"video_bitrate":8000,
		"video_codec":"H264_HIGH","key_frame_interval":2,"audio_bitrate":96,"audio_frequency":44100,"audio_codec":"AAC"},"file_outputs":[{}]}`,
		check: func(t *testing.T, p *Plan) {
			wantEq(t, "video", p.Video, Video{Width: 1920, Height: 1080, FPS: 60, BitrateKbps: 8000, KeyFrameIntervalSec: 2, Codec: livekit.VideoCodec_H264_HIGH, Profile: "high"})
			wantEq(t, "audio", p.Audio, Audio{BitrateKbps: 96, SampleRate: 44100, Channels: 2, Codec: livekit.AudioCodec_AAC})
		}},
	{name: "deprecated quality", json: `{"room_name":"r","advanced":{"video_quality":3},"file_outputs":[{}]}`, check: func(t *testing.T, p *Plan) {
		wantWarning(t, p, "deprecated")
	}},
	{name: "audio only ogg", json: `{"room_name":"r","audio_only":true,"file_outputs":[{"filepath":"talk"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "file type", p.Files[0].FileType, livekit.EncodedFileType_OGG)
		wantEq(t, "filepath", p.Files[0].Filepath, local("talk.ogg"))
		wantEq(t, "codec", p.Audio.Codec, livekit.AudioCodec_OPUS)
	}},
	{name: "audio only with rtmp is mp4", json: `{"room_name":"r","audio_only":true,"file_outputs":[{}],"stream_outputs":[{"urls":["rtmp://h/live/k"]}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "file type", p.Files[0].FileType, livekit.EncodedFileType_MP4)
		wantEq(t, "codec", p.Audio.Codec, livekit.AudioCodec_AAC)
	}},
	{name: "audio only aac is mp4", json: `{"room_name":"r","audio_only":true,"advanced":{"audio_codec":"AAC"},"file_outputs":[{}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "file type", p.Files[0].FileType, livekit.EncodedFileType_MP4)
	}},
	{name: "opus in mp4", json: `{"room_name":"r","advanced":{"audio_codec":"OPUS"},"file_outputs":[{}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "codec", p.Audio.Codec, livekit.AudioCodec_OPUS)
	}},
	{name: "video only", json: `{"room_name":"r","video_only":true,"file_outputs":[{}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "file type", p.Files[0].FileType, livekit.EncodedFileType_MP4)
		wantEq(t, "video only", p.VideoOnly, true)
	}},
	{name: "tokens", json: `{"room_name":"my-room","file_outputs":[{"filepath":"recs/{room_name}/{room_id}-{time}-{utc}"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "filepath", p.Files[0].Filepath, local("recs/my-room/"+testRoomID+"-"+stamp+"-"+utc+".mp4"))
	}},
	{name: "unknown token", json: `{"room_name":"r","file_outputs":[{"filepath":"{date}.mp4"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "filepath", p.Files[0].Filepath, local("{date}.mp4"))
		wantWarning(t, p, `file_outputs[0].filepath: "{date}" is not a known token`)
	}},
	{name: "folder path", json: `{"room_name":"my/room","file_outputs":[{"filepath":"recs/"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "filepath", p.Files[0].Filepath, local("recs/my-room-"+stamp+".mp4"))
	}},
	{name: "wrong extension fixed", json: `{"room_name":"r","file_outputs":[{"filepath":"show.ogg"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "filepath", p.Files[0].Filepath, local("show.mp4"))
		wantWarning(t, p, `file_outputs[0].filepath: ".ogg" does not match the file type; writing "show.mp4" instead`)
	}},
	{name: "extension any case", json: `{"room_name":"r","file_outputs":[{"filepath":"Show.MP4"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "filepath", p.Files[0].Filepath, local("Show.MP4"))
	}},
	{name: "absolute local", json: `{"room_name":"r","file_outputs":[{"filepath":"/tmp/x/../y.mp4"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "filepath", p.Files[0].Filepath, filepath.FromSlash("/tmp/y.mp4"))
	}},
	{name: "s3 upload", json: `{"room_name":"r","file_outputs":[{"filepath":"/a/./b.mp4","disable_manifest":true,"s3":{"access_key":"AKIAEXAMPLE","secret":"sec","region":"eu-west-1",
		"endpoint":"http://127.0.0.1:9000","bucket":"b","force_path_style":true,"metadata":{"k":"v"},"tagging":"a=1&b=2","content_disposition":"attachment"}}]}`,
		check: func(t *testing.T, p *Plan) {
			f := p.Files[0]
			wantEq(t, "key", f.Filepath, "a/b.mp4")
			wantEq(t, "manifest", f.DisableManifest, true)
			wantWarning(t, p, `leading "/"`)
			u := f.Upload
			if u == nil {
				t.Fatal("no upload")
			}
			wantEq(t, "upload", u.AccessKey+"|"+u.Secret+"|"+u.Region+"|"+u.Endpoint+"|"+u.Bucket+"|"+u.Tagging+"|"+u.ContentDisposition+"|"+u.Metadata["k"],
				"AKIAEXAMPLE|sec|eu-west-1|http://127.0.0.1:9000|b|a=1&b=2|attachment|v")
			wantEq(t, "path style", u.ForcePathStyle, true)
		}},
	{name: "legacy file", json: `{"room_name":"r","file":{"file_type":"MP4","filepath":"a.mp4"}}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "filepath", p.Files[0].Filepath, local("a.mp4"))
		wantEq(t, "field", p.Files[0].Field, "file")
	}},
	{name: "legacy stream", json: `{"room_name":"r","stream":{"protocol":"RTMP","urls":["RTMP://Live.Example.COM/App/Key1 live=1"," rtmps://b.example.com:443/live2/abc-def "]}}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "streams", len(p.Streams), 1)
		wantEq(t, "protocol", p.Streams[0].Protocol, livekit.StreamProtocol_RTMP)
		wantEq(t, "urls", fmt.Sprint(p.Streams[0].Destinations), fmt.Sprint([]Destination{{URL: "rtmp://live.example.com/App/Key1", Field: "stream.urls[0]"}, {URL: "rtmps://b.example.com:443/live2/abc-def", Field: "stream.urls[1]"}}))
		wantEq(t, "kfi", p.Video.KeyFrameIntervalSec, 4.0)
	}},
	{name: "legacy file with plural stream", json: `{"room_name":"r","file":{},"stream_outputs":[{"urls":["rtmp://h/app/k"]}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "outputs", len(p.Files)+len(p.Streams), 2)
		wantEq(t, "fields", p.Files[0].Field+" "+p.Streams[0].Field, "file stream_outputs[0]")
	}},
	{name: "destinations with ids", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://h/app/plain1"],"destinations":[{"id":"yt","url":"rtmp://yt.example.com/live2/ytkey"},{"id":"tw","url":"rtmps://tw.example.com/app/twkey"}]}]}`,
		check: func(t *testing.T, p *Plan) {
			wantEq(t, "destinations", fmt.Sprint(p.Streams[0].Destinations),
				fmt.Sprint([]Destination{{URL: "rtmp://h/app/plain1", Field: "stream_outputs[0].urls[0]"},
					{ID: "yt", URL: "rtmp://yt.example.com/live2/ytkey", Field: "stream_outputs[0].destinations[0].url"},
					{ID: "tw", URL: "rtmps://tw.example.com/app/twkey", Field: "stream_outputs[0].destinations[1].url"}}))
		}},
	{name: "stream without urls beside file", json: `{"room_name":"r","file_outputs":[{}],"stream_outputs":[{"protocol":"RTMP"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "streams", len(p.Streams), 1)
		wantEq(t, "urls", len(p.Streams[0].Destinations), 0)
	}},
	{name: "camel case names", json: `{"roomName":"r","audioOnly":false,"fileOutputs":[{"fileType":"MP4","filepath":"c.mp4"}],"preset":"H264_1080P_60"}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "filepath", p.Files[0].Filepath, local("c.mp4"))
		wantEq(t, "fps", p.Video.FPS, 60)
	}},
	{name: "nulls are unset", json: `{"room_name":"r","layout":null,"preset":null,"advanced":null,"file_outputs":[{"s3":null}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "preset", p.Preset, "H264_720P_30")
		wantEq(t, "upload", p.Files[0].Upload, nil)
	}},
	{name: "segments quirk", json: `{"room_name":"r","segments":{"filename_prefix":"hls/portrait","preset":"PORTRAIT_H264_720P_30"}}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "preset", p.Preset, "PORTRAIT_H264_720P_30")
		wantEq(t, "size", [2]int{p.Video.Width, p.Video.Height}, [2]int{720, 1280})
		wantWarning(t, p, "segments.preset: the protocol has no preset here")
		s := p.Segments[0]
		wantEq(t, "dir", s.Dir, local("hls"))
		wantEq(t, "prefix", s.FilenamePrefix, "portrait")
		wantEq(t, "playlist", s.PlaylistName, "portrait.m3u8")
	}},
	{name: "segments quirk repeats preset", json: `{"room_name":"r","preset":"H264_1080P_30","segment_outputs":[{"preset":"H264_1080P_30"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "preset", p.Preset, "H264_1080P_30")
		wantWarning(t, p, "segment_outputs[0].preset: ignored")
	}},
	{name: "segments livekit docs example", json: `{"room_name":"my-room","layout":"grid","preset":"H264_720P_30","custom_base_url":"https://my-custom-template.com","audio_only":false,
		"segment_outputs":[{"filename_prefix":"path/to/my-output","playlist_name":"my-output.m3u8","live_playlist_name":"my-output-live.m3u8","segment_duration":2,
		"s3":{"access_key":"","secret":"","region":"","bucket":"my-bucket","force_path_style":true}}]}`,
		check: func(t *testing.T, p *Plan) {
			wantEq(t, "segment", withoutUpload(p.Segments[0]), SegmentOutput{Field: "segment_outputs[0]", Protocol: livekit.SegmentedFileProtocol_HLS_PROTOCOL, Dir: "path/to", FilenamePrefix: "my-output",
				PlaylistName: "my-output.m3u8", LivePlaylistName: "my-output-live.m3u8", SegmentDurationSec: 2})
			wantEq(t, "bucket", p.Segments[0].Upload.Bucket, "my-bucket")
			wantEq(t, "kfi", p.Video.KeyFrameIntervalSec, 2.0)
			wantEq(t, "layout", p.Layout, "grid")
			wantEq(t, "template", p.CustomBaseURL, "https://my-custom-template.com")
		}},
	{name: "segments defaults", json: `{"room_name":"r","segment_outputs":[{"filename_suffix":"TIMESTAMP"}]}`, check: func(t *testing.T, p *Plan) {
		s := p.Segments[0]
		wantEq(t, "segment", s, SegmentOutput{Field: "segment_outputs[0]", Protocol: livekit.SegmentedFileProtocol_HLS_PROTOCOL, Dir: testOutDir, FilenamePrefix: "r-" + stamp,
			PlaylistName: "r-" + stamp + ".m3u8", SegmentDurationSec: 6, Suffix: livekit.SegmentedFileSuffix_TIMESTAMP})
		wantEq(t, "kfi", p.Video.KeyFrameIntervalSec, 6.0)
	}},
	{name: "segments and stream", json: `{"room_name":"r","segment_outputs":[{"playlist_name":"out/index.m3u8"}],"stream_outputs":[{"urls":["rtmp://h/app/k"]}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "kfi", p.Video.KeyFrameIntervalSec, 3.0)
		wantEq(t, "dir", p.Segments[0].Dir, local("out"))
		wantEq(t, "prefix", p.Segments[0].FilenamePrefix, "index")
	}},
	// Where the playlists and segments go, as LiveKit documents it: the
	// folder of filename_prefix, whatever folder playlist_name names.
	{name: "segments: prefix folder alone", json: `{"room_name":"r","segment_outputs":[{"filename_prefix":"a/seg"}]}`, check: func(t *testing.T, p *Plan) {
		wantSegments(t, p, local("a"), "seg", "seg.m3u8", "")
	}},
	{name: "segments: prefix folder, bare playlist", json: `{"room_name":"r","segment_outputs":[{"filename_prefix":"a/seg","playlist_name":"index.m3u8","live_playlist_name":"live.m3u8"}]}`, check: func(t *testing.T, p *Plan) {
		wantSegments(t, p, local("a"), "seg", "index.m3u8", "live.m3u8")
		wantNoWarnings(t, p)
	}},
	{name: "segments: same folder", json: `{"room_name":"r","segment_outputs":[{"filename_prefix":"a/seg","playlist_name":"a/index.m3u8"}]}`, check: func(t *testing.T, p *Plan) {
		wantSegments(t, p, local("a"), "seg", "index.m3u8", "")
		wantNoWarnings(t, p)
	}},
	{name: "segments: playlist in another folder", json: `{"room_name":"r","segment_outputs":[{"filename_prefix":"a/seg","playlist_name":"b/index.m3u8","live_playlist_name":"c/live.m3u8"}]}`, check: func(t *testing.T, p *Plan) {
		wantSegments(t, p, local("a"), "seg", "index.m3u8", "live.m3u8")
		wantWarning(t, p, `segment_outputs[0].playlist_name: folder "b" dropped: playlists go beside the segments, in filename_prefix's folder "a"`)
		wantWarning(t, p, `segment_outputs[0].live_playlist_name: folder "c" dropped`)
	}},
	{name: "segments: bare prefix, playlist in a folder", json: `{"room_name":"r","segment_outputs":[{"filename_prefix":"seg","playlist_name":"b/index.m3u8"}]}`, check: func(t *testing.T, p *Plan) {
		wantSegments(t, p, testOutDir, "seg", "index.m3u8", "")
		wantWarning(t, p, `segment_outputs[0].playlist_name: folder "b" dropped: playlists go beside the segments, in the output folder`)
	}},
	{name: "segments: no prefix, playlist in a folder", json: `{"room_name":"r","segment_outputs":[{"playlist_name":"b/index.m3u8"}]}`, check: func(t *testing.T, p *Plan) {
		wantSegments(t, p, local("b"), "index", "index.m3u8", "")
		wantNoWarnings(t, p)
	}},
	{name: "segments with dividing kfi", json: `{"room_name":"r","advanced":{"key_frame_interval":1.5},"segment_outputs":[{}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "kfi", p.Video.KeyFrameIntervalSec, 1.5)
	}},
	{name: "images only", json: `{"room_name":"r","preset":"PORTRAIT_H264_1080P_30","image_outputs":[{"capture_interval":10,"filename_prefix":"shots/"}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "image", p.Images[0], ImageOutput{Field: "image_outputs[0]", CaptureIntervalSec: 10, Width: 1080, Height: 1920, Dir: local("shots"), FilenamePrefix: "r-" + stamp,
			Suffix: livekit.ImageFileSuffix_IMAGE_SUFFIX_INDEX, ImageCodec: livekit.ImageCodec_IC_JPEG})
		wantEq(t, "video only", p.VideoOnly, true)
	}},
	{name: "images sized", json: `{"room_name":"r","file_outputs":[{}],"image_outputs":[{"capture_interval":1,"width":320,"filename_suffix":"IMAGE_SUFFIX_NONE_OVERWRITE","filename_prefix":"thumb"}]}`,
		check: func(t *testing.T, p *Plan) {
			im := p.Images[0]
			wantEq(t, "size", [2]int{im.Width, im.Height}, [2]int{320, 720})
			wantEq(t, "prefix", im.FilenamePrefix, "thumb")
			wantEq(t, "dir", im.Dir, testOutDir)
			wantEq(t, "video only", p.VideoOnly, false)
		}},
	{name: "two image outputs", json: `{"room_name":"r","image_outputs":[{"capture_interval":10,"filename_prefix":"big/shot"},{"capture_interval":2,"width":160,"height":90,"filename_prefix":"thumbs/shot","disable_manifest":true}]}`,
		check: func(t *testing.T, p *Plan) {
			wantEq(t, "images", len(p.Images), 2)
			wantEq(t, "fields", p.Images[0].Field+" "+p.Images[1].Field, "image_outputs[0] image_outputs[1]")
			wantEq(t, "dirs", p.Images[0].Dir+" "+p.Images[1].Dir, local("big")+" "+local("thumbs"))
			wantEq(t, "second", [3]int{p.Images[1].CaptureIntervalSec, p.Images[1].Width, p.Images[1].Height}, [3]int{2, 160, 90})
			wantEq(t, "manifests", [2]bool{p.Images[0].DisableManifest, p.Images[1].DisableManifest}, [2]bool{false, true})
			wantEq(t, "video only", p.VideoOnly, true)
		}},
	{name: "custom template keeps layout", json: `{"room_name":"r","layout":"My-Layout","custom_base_url":" https://example.com/t?x=1 ","file_outputs":[{}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "layout", p.Layout, "My-Layout")
		wantEq(t, "template", p.CustomBaseURL, "https://example.com/t?x=1")
	}},
	{name: "layout case", json: `{"room_name":"r","layout":" Speaker-Light ","file_outputs":[{}]}`, check: func(t *testing.T, p *Plan) {
		wantEq(t, "layout", p.Layout, "speaker-light")
	}},
	{name: "webhooks", json: `{"room_name":"r","file_outputs":[{}],"webhooks":[{"url":"https://h/hook?token=x","signing_key":"k"},{"url":"http://h2:8080/in","filter_params":{"include_events":["egress_ended"]}}]}`,
		check: func(t *testing.T, p *Plan) {
			wantEq(t, "webhooks", len(p.Webhooks), 2)
			wantEq(t, "first", fmt.Sprint(p.Webhooks[0]), fmt.Sprint(Webhook{Field: "webhooks[0]", URL: "https://h/hook?token=x", SigningKey: "k"}))
			// testOptions knows no keys: the first key is left to the service.
			wantEq(t, "second", fmt.Sprint(p.Webhooks[1]), fmt.Sprint(Webhook{Field: "webhooks[1]", URL: "http://h2:8080/in", Include: []string{"egress_ended"}}))
		}},
}

func TestGoodRequests(t *testing.T) {
	for _, c := range goodCases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Load([]byte(c.json), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, p)
		})
	}
}

// withoutUpload drops the upload so a segment compares with ==.
func withoutUpload(s SegmentOutput) SegmentOutput { s.Upload = nil; return s }

func TestPresets(t *testing.T) {
	want := map[string][4]int{ // width, height, fps, kbps
		"H264_720P_30": {1280, 720, 30, 3000}, "H264_720P_60": {1280, 720, 60, 4500},
		"H264_1080P_30": {1920, 1080, 30, 4500}, "H264_1080P_60": {1920, 1080, 60, 6000},
		"PORTRAIT_H264_720P_30": {720, 1280, 30, 3000}, "PORTRAIT_H264_720P_60": {720, 1280, 60, 4500},
		"PORTRAIT_H264_1080P_30": {1080, 1920, 30, 4500}, "PORTRAIT_H264_1080P_60": {1080, 1920, 60, 6000},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			p, err := Load([]byte(`{"room_name":"r","preset":"`+name+`","file_outputs":[{}]}`), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			v := p.Video
			wantEq(t, "video", [4]int{v.Width, v.Height, v.FPS, v.BitrateKbps}, w)
			wantEq(t, "kfi", v.KeyFrameIntervalSec, 4.0)
			wantEq(t, "audio", p.Audio, Audio{BitrateKbps: 128, SampleRate: 48000, Channels: 2, Codec: livekit.AudioCodec_AAC})
			wantEq(t, "preset", p.Preset, name)
		})
	}
	// every enum value is either a preset or refused
	for n, name := range livekit.EncodingOptionsPreset_name {
		_, isPreset := want[name]
		_, err := Build(&livekit.RoomCompositeEgressRequest{RoomName: "r",
			Options:     &livekit.RoomCompositeEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset(n)},
			FileOutputs: []*livekit.EncodedFileOutput{{}}}, testOptions())
		if isPreset != (err == nil) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if len(Presets) != len(want) {
		t.Errorf("Presets has %d entries, want %d", len(Presets), len(want))
	}
}

func TestBuildFromGo(t *testing.T) {
	req := &livekit.RoomCompositeEgressRequest{RoomName: "r", FileOutputs: []*livekit.EncodedFileOutput{nil}}
	if _, err := Build(req, testOptions()); err == nil || !strings.HasPrefix(err.Error(), "file_outputs[0]: empty") {
		t.Errorf("nil output: %v", err)
	}
	if _, err := Build(nil, testOptions()); err == nil || !errors.Is(err, ErrInvalid) {
		t.Errorf("nil request: %v", err)
	}
	// Build does not change the request; zero Now means the clock
	req = &livekit.RoomCompositeEgressRequest{RoomName: "r", FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "a"}}}
	p, err := Build(req, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "request filepath", req.FileOutputs[0].Filepath, "a")
	wantEq(t, "plan filepath", p.Files[0].Filepath, "a.mp4")
}

// wantSegments checks where the plan's segments and playlists go.
func wantSegments(t *testing.T, p *Plan, dir, prefix, playlist, live string) {
	t.Helper()
	s := p.Segments[0]
	got := [4]string{s.Dir, s.FilenamePrefix, s.PlaylistName, s.LivePlaylistName}
	wantEq(t, "segments (dir, prefix, playlist, live)", got, [4]string{dir, prefix, playlist, live})
}

func wantNoWarnings(t *testing.T, p *Plan) {
	t.Helper()
	if len(p.Warnings) > 0 {
		t.Errorf("warnings %q, want none", p.Warnings)
	}
}

func TestKeys(t *testing.T) {
	load := func(js string) *Plan {
		t.Helper()
		p, err := Load([]byte(js), testOptions())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := load(`{"room_name":"r","layout":"speaker","file_outputs":[{}]}`)
	b := load(`{"room_name":"r","layout":"Speaker","stream_outputs":[{"urls":["rtmp://h/a/k"]}]}`)
	c := load(`{"room_name":"r","layout":"speaker","advanced":{"video_bitrate":2000},"file_outputs":[{}]}`)
	d := load(`{"room_name":"r","layout":"speaker","preset":"H264_1080P_30","file_outputs":[{}]}`)
	e := load(`{"room_name":"r","layout":"speaker","audio_only":true,"file_outputs":[{"file_type":"MP4"}]}`)
	wantEq(t, "same composite", a.CompositeKey(), b.CompositeKey())
	wantEq(t, "bitrate: same composite", a.CompositeKey(), c.CompositeKey())
	if a.CompositeKey() == d.CompositeKey() {
		t.Error("different sizes share a composite")
	}
	wantEq(t, "string", a.CompositeKey().String(), "r/speaker@1280x720p30")
	wantEq(t, "audio-only string", e.CompositeKey().String(), "r/speaker@1280x720p30 audio-only")

	serves := []struct {
		name           string
		running, wants CompositeKey
		want           bool
	}{
		{"same key", a.CompositeKey(), b.CompositeKey(), true},
		{"video serves audio only", a.CompositeKey(), e.CompositeKey(), true},
		{"audio only cannot serve video", e.CompositeKey(), a.CompositeKey(), false},
		{"audio only serves audio only", e.CompositeKey(), e.CompositeKey(), true},
		{"another size", d.CompositeKey(), a.CompositeKey(), false},
		{"another size, audio only", d.CompositeKey(), e.CompositeKey(), false},
	}
	for _, tc := range serves {
		if got := tc.running.Serves(tc.wants); got != tc.want {
			t.Errorf("%s: %v serves %v = %v, want %v", tc.name, tc.running, tc.wants, got, tc.want)
		}
	}
}

// TestCompositeOf: a request's composite, whatever its outputs, is its
// plan's; a bad room, layout or encoding is the same error Build gives.
func TestCompositeOf(t *testing.T) {
	cases := []struct {
		name, json string
		want       CompositeKey
		err        string
	}{
		{name: "no outputs", json: `{"room_name":"r","layout":"grid"}`, want: CompositeKey{Room: "r", Layout: "grid", Width: 1280, Height: 720, FPS: 30}},
		{name: "redacted stream", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://h/a/{st...ey}"]}],"preset":"H264_1080P_60"}`,
			want: CompositeKey{Room: "r", Layout: "grid", Width: 1920, Height: 1080, FPS: 60}},
		{name: "audio only", json: `{"room_name":"r","audio_only":true,"file_outputs":[{"filepath":"a.mp4"}]}`,
			want: CompositeKey{Room: "r", Layout: "grid", Width: 1280, Height: 720, FPS: 30, AudioOnly: true}},
		{name: "portrait", json: `{"room_name":"r","preset":"PORTRAIT_H264_720P_30"}`, want: CompositeKey{Room: "r", Layout: "grid", Width: 720, Height: 1280, FPS: 30}},
		{name: "no room", json: `{"layout":"grid"}`, err: "room_name"},
		{name: "bad layout", json: `{"room_name":"r","layout":"gird"}`, err: "layout"},
		{name: "bad advanced", json: `{"room_name":"r","advanced":{"framerate":500}}`, err: "advanced.framerate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _, err := Parse([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			got, err := CompositeOf(req)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error %v, want one starting %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEq(t, "key", got, tc.want)
		})
	}
}

// TestDefaultUpload: outputs naming no storage go to the server's default
// bucket, outputs naming their own keep it, and a bad default is an error
// naming its config key.
func TestDefaultUpload(t *testing.T) {
	def := &livekit.S3Upload{Bucket: "shows", Region: "eu-west-1", AccessKey: "AK", Secret: "SK"}
	const all = `{"room_name":"r","file_outputs":[{"filepath":"a.mp4"%s}],"segment_outputs":[{"filename_prefix":"hls/a"}],"image_outputs":[{"capture_interval":2}]}`
	cases := []struct {
		name       string
		def        *livekit.S3Upload
		fileUpload string
		want       []string // buckets of the file, segments and images; "" for local disk
		err        string
	}{
		{name: "no default: local disk", want: []string{"", "", ""}},
		{name: "default for all", def: def, want: []string{"shows", "shows", "shows"}},
		{name: "own bucket kept", def: def, fileUpload: `,"s3":{"bucket":"own"}`, want: []string{"own", "shows", "shows"}},
		{name: "bad default", def: &livekit.S3Upload{Bucket: "a/b"}, err: "storage.s3.bucket: "},
		{name: "half credentials", def: &livekit.S3Upload{Bucket: "b", AccessKey: "AK"}, err: "storage.s3.secret: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := testOptions()
			opt.DefaultUpload = c.def
			p, err := Load([]byte(fmt.Sprintf(all, c.fileUpload)), opt)
			if c.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.err) {
					t.Fatalf("error %v, want one starting %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, up := range []*Upload{p.Files[0].Upload, p.Segments[0].Upload, p.Images[0].Upload} {
				got := ""
				if up != nil {
					got = up.Bucket
				}
				if got != c.want[i] {
					t.Errorf("output %d goes to bucket %q, want %q", i, got, c.want[i])
				}
			}
		})
	}
}

// TestWebhookSigningKeys: a webhook is signed with the server's key it
// names, or its first; a key the server lacks is refused, naming the field.
func TestWebhookSigningKeys(t *testing.T) {
	cases := []struct {
		name, key, want, err string
	}{
		{"no key: the server's own", "", "APIfirst", ""},
		{"the server's second", "APIsecond", "APIsecond", ""},
		{"a key the server lacks", "APIsomeoneelse", "", "webhooks[0].signing_key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &livekit.RoomCompositeEgressRequest{RoomName: "r", FileOutputs: []*livekit.EncodedFileOutput{{}},
				Webhooks: []*livekit.WebhookConfig{{Url: "https://h/hook", SigningKey: c.key}}}
			opts := testOptions()
			opts.APIKeys = []string{"APIfirst", "APIsecond"}
			p, err := Build(req, opts)
			if c.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.err) || strings.Contains(err.Error(), "someoneelse") {
					t.Fatalf("err %v, want one naming %s without the key in full", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEq(t, "signing key", p.Webhooks[0].SigningKey, c.want)
		})
	}
}

// TestSingleResult: which output's result goes into EgressInfo's
// deprecated file / stream / segments field, by LiveKit Egress's rule.
func TestSingleResult(t *testing.T) {
	const (
		rtmp = `{"urls":["rtmp://h/app/k"]}`
		hls  = `{"filename_prefix":"hls/s"}`
	)
	cases := []struct{ name, outputs, want string }{
		{"legacy file", `"file":{}`, "file"},
		{"plural file", `"file_outputs":[{}]`, "file"},
		{"legacy stream", `"stream":` + rtmp, "stream"},
		{"plural stream", `"stream_outputs":[` + rtmp + `]`, "stream"},
		{"legacy segments", `"segments":` + hls, "segments"},
		{"plural segments", `"segment_outputs":[` + hls + `]`, "segments"},
		{"file and stream", `"file_outputs":[{}],"stream_outputs":[` + rtmp + `]`, ""},
		{"file and images", `"file_outputs":[{}],"image_outputs":[{"capture_interval":5}]`, ""},
		{"images alone", `"image_outputs":[{"capture_interval":5}]`, ""},
		{"plural file, legacy stream", `"file_outputs":[{}],"stream":` + rtmp, "file"},
		{"legacy file, plural segments", `"file":{},"segment_outputs":[` + hls + `]`, "segments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Load([]byte(`{"room_name":"r",`+c.outputs+`}`), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			wantEq(t, "single result", p.SingleResult(), c.want)
		})
	}
}

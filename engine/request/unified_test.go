package request

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
)

func unified(t *testing.T, js string) *livekit.StartEgressRequest {
	t.Helper()
	req := &livekit.StartEgressRequest{}
	if err := protojson.Unmarshal([]byte(js), req); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return req
}

// TestUnifiedBecomesComposite: a StartEgressRequest with a template
// source plans as the RoomCompositeEgressRequest it amounts to, storage
// going where LiveKit says (the output's, else the request's), and the
// plan names its outputs by the unified request's fields.
func TestUnifiedBecomesComposite(t *testing.T) {
	const s3 = `{"bucket":"%s","access_key":"AKIAEXAMPLE","secret":"sec","region":"eu-west-1"}`
	cases := []struct {
		name, unified, composite string
		fields                   string // the plan's output fields
	}{
		{"template and preset",
			`{"room_name":"r","template":{"layout":"speaker","audio_only":false},"preset":"H264_1080P_30","outputs":[{"file":{"filepath":"a.mp4","file_type":"MP4"}}]}`,
			`{"room_name":"r","layout":"speaker","preset":"H264_1080P_30","file_outputs":[{"filepath":"a.mp4","file_type":"MP4"}]}`,
			"outputs[0].file"},
		{"custom template, video only",
			`{"room_name":"r","template":{"layout":"mine","video_only":true,"custom_base_url":"https://t.example.com/x"},"outputs":[{"file":{"filepath":"a.mp4"}}]}`,
			`{"room_name":"r","layout":"mine","video_only":true,"custom_base_url":"https://t.example.com/x","file_outputs":[{"filepath":"a.mp4"}]}`,
			"outputs[0].file"},
		{"advanced, audio only, webhooks",
			`{"room_name":"r","template":{"audio_only":true},"advanced":{"audio_frequency":48000,"audio_bitrate":96},"outputs":[{"file":{"filepath":"a.ogg"}}],"webhooks":[{"url":"http://127.0.0.1:1/hook"}]}`,
			`{"room_name":"r","audio_only":true,"advanced":{"audio_frequency":48000,"audio_bitrate":96},"file_outputs":[{"filepath":"a.ogg"}],"webhooks":[{"url":"http://127.0.0.1:1/hook"}]}`,
			"outputs[0].file"},
		{"every kind, request storage for the stored ones",
			`{"room_name":"r","template":{"layout":"grid"},"storage":{"s3":` + fmt.Sprintf(s3, "req") + `},"outputs":[
				{"stream":{"urls":["rtmp://h/app/k"]}},
				{"file":{"filepath":"a.mp4","disable_manifest":true}},
				{"segments":{"filename_prefix":"hls/s"}},
				{"images":{"capture_interval":5}}]}`,
			`{"room_name":"r","layout":"grid",
				"stream_outputs":[{"urls":["rtmp://h/app/k"]}],
				"file_outputs":[{"filepath":"a.mp4","disable_manifest":true,"s3":` + fmt.Sprintf(s3, "req") + `}],
				"segment_outputs":[{"filename_prefix":"hls/s","s3":` + fmt.Sprintf(s3, "req") + `}],
				"image_outputs":[{"capture_interval":5,"s3":` + fmt.Sprintf(s3, "req") + `}]}`,
			"outputs[1].file outputs[0].stream outputs[2].segments outputs[3].images"},
		{"the output's storage, else the segments' own, over the request's",
			`{"room_name":"r","template":{},"storage":{"s3":` + fmt.Sprintf(s3, "req") + `},"outputs":[
				{"file":{"filepath":"a.mp4"},"storage":{"s3":` + fmt.Sprintf(s3, "out") + `}},
				{"segments":{"filename_prefix":"s","s3":` + fmt.Sprintf(s3, "own") + `}}]}`,
			`{"room_name":"r",
				"file_outputs":[{"filepath":"a.mp4","s3":` + fmt.Sprintf(s3, "out") + `}],
				"segment_outputs":[{"filename_prefix":"s","s3":` + fmt.Sprintf(s3, "own") + `}]}`,
			"outputs[0].file outputs[1].segments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start, err := Unified(unified(t, c.unified))
			if err != nil {
				t.Fatal(err)
			}
			got, err := start.Build(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			want, err := Load([]byte(c.composite), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, f := range got.Files {
				fields = append(fields, f.Field)
			}
			for _, s := range got.Streams {
				fields = append(fields, s.Field)
			}
			for _, s := range got.Segments {
				fields = append(fields, s.Field)
			}
			for _, im := range got.Images {
				fields = append(fields, im.Field)
			}
			wantEq(t, "fields", strings.Join(fields, " "), c.fields)
			// Beyond the names, the plans are the same.
			start.renamePlan(want)
			wantEq(t, "plan", fmt.Sprintf("%#v", got.Redacted()), fmt.Sprintf("%#v", want.Redacted()))
		})
	}
}

// TestUnifiedRefusals: what the unified form asks that is not a room
// composite, or is wrong in it, is refused naming the unified field.
func TestUnifiedRefusals(t *testing.T) {
	cases := []struct {
		name, json, field, msg string
		unsupported            bool
	}{
		{"web source", `{"room_name":"r","web":{"url":"https://example.com"},"outputs":[{"file":{}}]}`, "web", "use template", true},
		{"media source", `{"room_name":"r","media":{"video_track_id":"TR_1"},"outputs":[{"file":{}}]}`, "media", "LiveKit Egress service", true},
		{"no source", `{"room_name":"r","outputs":[{"file":{}}]}`, "template", "needs a source", false},
		{"no outputs", `{"room_name":"r","template":{}}`, "outputs", "at least one", false},
		{"empty output", `{"room_name":"r","template":{},"outputs":[{}]}`, "outputs[0]", "give file, stream, segments or images", false},
		{"stored stream", `{"room_name":"r","template":{},"outputs":[{"stream":{"urls":["rtmp://h/a/k"]},"storage":{"s3":{"bucket":"b"}}}]}`, "outputs[0].storage", "not stored", false},
		{"two storages for segments", `{"room_name":"r","template":{},"outputs":[{"segments":{"s3":{"bucket":"a"}},"storage":{"s3":{"bucket":"b"}}}]}`, "outputs[0].storage", "keep one", false},
		{"layout", `{"room_name":"r","template":{"layout":"mosaic"},"outputs":[{"file":{}}]}`, "template.layout", "grid", false},
		{"MP3 file", `{"room_name":"r","template":{},"outputs":[{"stream":{"urls":["rtmp://h/a/k"]}},{"file":{"file_type":"MP3"}}]}`, "outputs[1].file.file_type", "MP3", true},
		{"two files", `{"room_name":"r","template":{},"outputs":[{"file":{"filepath":"a.mp4"}},{"file":{"filepath":"b.mp4"}}]}`, "outputs[1].file", "at most one file", false},
		{"GCP from the request's storage", `{"room_name":"r","template":{},"storage":{"gcp":{"bucket":"b"}},"outputs":[{"file":{}}]}`, "storage.gcp", "", true},
		{"GCP from the output's storage", `{"room_name":"r","template":{},"outputs":[{"images":{"capture_interval":5},"storage":{"gcp":{"bucket":"b"}}}]}`, "outputs[0].storage.gcp", "", true},
		{"Azure from the request's storage", `{"room_name":"r","template":{},"storage":{"azure":{"container_name":"c"}},"outputs":[{"segments":{}}]}`, "storage.azure", "", true},
		{"AliOSS from the output's storage", `{"room_name":"r","template":{},"outputs":[{"file":{}, "storage":{"aliOSS":{"bucket":"b"}}}]}`, "outputs[0].storage.aliOSS", "", true},
		{"SRT stream", `{"room_name":"r","template":{},"outputs":[{"stream":{"protocol":"SRT","urls":["srt://h:1"]}}]}`, "outputs[0].stream.protocol", "SRT", true},
		{"room", `{"template":{},"outputs":[{"file":{}}]}`, "room_name", "required", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start, err := Unified(unified(t, c.json))
			if err == nil {
				_, err = start.Build(testOptions())
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), c.field+": ") || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q, want one naming %s and saying %q", err, c.field, c.msg)
			}
			if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnsupported) != c.unsupported {
				t.Errorf("errors.Is(ErrInvalid, ErrUnsupported) = %v, %v; want true, %v", errors.Is(err, ErrInvalid), errors.Is(err, ErrUnsupported), c.unsupported)
			}
		})
	}
}

// TestUnifiedInEgressInfo: the info carries the request as it was sent,
// redacted; RoomCompositeOf reads the composite back from either form.
func TestUnifiedInEgressInfo(t *testing.T) {
	req := unified(t, `{"room_name":"r","template":{"layout":"speaker","custom_base_url":"https://user:pw@t.example.com/x?token=tok"},
		"storage":{"s3":{"bucket":"b","access_key":"AKIAEXAMPLEKEY","secret":"s3-secret"}},
		"outputs":[{"stream":{"urls":["rtmp://h/app/stream-key"],"destinations":[{"id":"yt","url":"rtmps://y/app/yt-key"}]}},
		{"file":{"filepath":"a.mp4"},"storage":{"s3":{"bucket":"c","secret":"out-secret"}}}],
		"webhooks":[{"url":"http://127.0.0.1:1/h?k=hook-secret","signing_key":"APIkey"}]}`)
	start, err := Unified(req)
	if err != nil {
		t.Fatal(err)
	}
	info := &livekit.EgressInfo{}
	start.SetRequest(info)
	if info.GetEgress() == nil {
		t.Fatalf("request %T, want the unified form", info.Request)
	}
	shown, err := protojson.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"stream-key", "yt-key", "s3-secret", "out-secret", "pw@", "token=tok", "hook-secret", "AKIAEXAMPLEKEY"} {
		if strings.Contains(string(shown), secret) {
			t.Errorf("the info shows %q: %s", secret, shown)
		}
	}
	if rc := RoomCompositeOf(info); rc == nil || rc.Layout != "speaker" || len(rc.FileOutputs) != 1 || len(rc.StreamOutputs) != 1 {
		t.Errorf("RoomCompositeOf = %v, want the speaker composite with a file and a stream", rc)
	}
	if req.GetOutputs()[0].GetStream().Urls[0] != "rtmp://h/app/stream-key" {
		t.Error("redacting changed the caller's request")
	}
}

//lint:file-ignore SA1019 LiveKit's deprecated single-output fields (file, stream, segments) are still accepted, as LiveKit Egress accepts them.

package request

import (
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
)

func TestParseQuirk(t *testing.T) {
	// the portrait HLS example as LiveKit's RoomComposite docs print it
	js := `{
	  "room_name": "my-room",
	  "layout": "speaker",
	  "segments": {
	    "filename_prefix": "my-output",
	    "preset": "PORTRAIT_H264_720P_30",
	    "s3": {"access_key": "", "secret": "", "bucket": "my-bucket", "region": "us-east-1"}
	  }
	}`
	req, warnings, err := Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "preset", req.GetPreset(), livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30)
	wantEq(t, "prefix", req.GetSegments().GetFilenamePrefix(), "my-output")
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "segments.preset: ") || !strings.Contains(warnings[0], "Move \"preset\" to the top level") {
		t.Errorf("warnings = %q", warnings)
	}
	p, err := Build(req, Options{Now: testNow, Warnings: warnings})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "size", [2]int{p.Video.Width, p.Video.Height}, [2]int{720, 1280})
	wantWarning(t, p, "segments.preset")

	// a numeric preset works the same way
	req, _, err = Parse([]byte(`{"room_name":"r","segment_outputs":[{"preset":6}]}`))
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "numeric preset", req.GetPreset(), livekit.EncodingOptionsPreset_PORTRAIT_H264_1080P_30)

	// without the quirk there are no warnings
	_, warnings, err = Parse([]byte(`{"room_name":"r","preset":"H264_720P_60","segments":{}}`))
	if err != nil || len(warnings) != 0 {
		t.Errorf("plain request: %q, %v", warnings, err)
	}
}

func TestParseSizeAndDepth(t *testing.T) {
	big := `{"room_name":"` + strings.Repeat("a", maxRequestBytes) + `"}`
	if _, _, err := Parse([]byte(big)); err == nil || !strings.HasPrefix(err.Error(), "request.json: ") {
		t.Errorf("big request: %v", err)
	}
	deep := `{"room_name":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	if _, _, err := Parse([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep request: %v", err)
	}
	for _, empty := range []string{"", "  \n"} {
		if _, _, err := Parse([]byte(empty)); err == nil || !strings.HasPrefix(err.Error(), "request.json: empty") {
			t.Errorf("empty request %q: %v", empty, err)
		}
	}
}

func TestNames(t *testing.T) {
	var warned []string
	n := namer{room: "a/b", now: time.Date(2024, 12, 31, 23, 59, 58, 7e6, time.FixedZone("X", 3600)), warn: func(s string) { warned = append(warned, s) }}
	wantEq(t, "expand", n.expand("f", "{room_name}_{room_id}_{time}_{utc}_{x}"), "a/b__2024-12-31T235958_20241231225958007_{x}")
	wantEq(t, "warnings", len(warned), 2) // {room_id} empty, {x} unknown
	wantEq(t, "auto", n.auto(), "a-b-2024-12-31T235958")

	local, s3 := place{outputDir: "/out"}, place{upload: true}
	for _, c := range []struct {
		pl       place
		in, want string
	}{
		{local, "a/./b//c.mp4", "a/b/c.mp4"},
		{local, "a/b/", "a/b/"},
		{local, "./", ""},
		{local, "/abs/x/../y", "/abs/y"},
		{local, "a/../b", "b"},
		{s3, "/key/x.mp4", "key/x.mp4"},
		{s3, "///", ""},
	} {
		got, err := c.pl.cleanName("f", c.in, func(string) {})
		if err != nil || got != c.want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"..", "../x", "a/../../x", "{x}\x00"} {
		if _, err := local.cleanName("f", in, func(string) {}); err == nil {
			t.Errorf("cleanName(%q) took it", in)
		}
	}
	wantEq(t, "dir", local.resolveDir(""), "/out")
	wantEq(t, "cwd", place{}.resolveDir(""), ".")
	wantEq(t, "key dir", s3.resolveDir("a/b/"), "a/b")
}

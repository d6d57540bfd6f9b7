package request

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
)

func TestTrackRefusals(t *testing.T) {
	file := func(path string) *livekit.TrackEgressRequest_File {
		return &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: path}}
	}
	for _, c := range []struct {
		name  string
		req   *livekit.TrackEgressRequest
		field string
	}{
		{"no room", &livekit.TrackEgressRequest{TrackId: "TR_a", Output: file("")}, "room_name"},
		{"no track", &livekit.TrackEgressRequest{RoomName: "demo", Output: file("")}, "track_id"},
		{"no output", &livekit.TrackEgressRequest{RoomName: "demo", TrackId: "TR_a"}, "file"},
		{"websocket", &livekit.TrackEgressRequest{RoomName: "demo", TrackId: "TR_a",
			Output: &livekit.TrackEgressRequest_WebsocketUrl{WebsocketUrl: "ws://127.0.0.1:1/audio"}}, "websocket_url"},
		{"s3", &livekit.TrackEgressRequest{RoomName: "demo", TrackId: "TR_a", Output: &livekit.TrackEgressRequest_File{
			File: &livekit.DirectFileOutput{Output: &livekit.DirectFileOutput_S3{S3: &livekit.S3Upload{Bucket: "b"}}}}}, "file.s3"},
		{"climbing out", &livekit.TrackEgressRequest{RoomName: "demo", TrackId: "TR_a", Output: file("../x")}, "file.filepath"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Track(c.req, Options{OutputDir: "/rec"})
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("error %v, want one naming %s", err, c.field)
			}
		})
	}
}

func TestTrackPath(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		name, filepath, ext, want string
		warns                     bool
	}{
		{"default", "", ".ogg", "/rec/demo-TR_a-2026-12-06T093000.ogg", false},
		{"folder", "tracks/", ".webm", "/rec/tracks/demo-TR_a-2026-12-06T093000.webm", false},
		{"tokens", "{room_name}/{track_id}", ".ogg", "/rec/demo/TR_a.ogg", false},
		{"own extension kept", "/abs/x.OGG", ".ogg", "/abs/x.OGG", false},
		{"other media extension swapped", "x.mp4", ".webm", "/rec/x.webm", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan, err := Track(&livekit.TrackEgressRequest{RoomName: "demo", TrackId: "TR_a",
				Output: &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: c.filepath}}},
				Options{OutputDir: "/rec", Now: now})
			if err != nil {
				t.Fatal(err)
			}
			var warnings []string
			got := plan.Path(c.ext, func(w string) { warnings = append(warnings, w) })
			if got != filepath.FromSlash(c.want) {
				t.Errorf("path %s, want %s", got, c.want)
			}
			if warned := len(warnings) > 0; warned != c.warns || (warned && !strings.Contains(warnings[0], "file.filepath")) {
				t.Errorf("warnings %q, want some naming file.filepath: %t", warnings, c.warns)
			}
		})
	}
}

func TestParseTrack(t *testing.T) {
	for _, c := range []struct {
		name, json, err string
	}{
		{"lk's file request", `{"room_name": "demo", "track_id": "TR_a", "file": {"filepath": "x"}}`, ""},
		{"a websocket", `{"room_name": "demo", "track_id": "TR_a", "websocket_url": "wss://example.com/x"}`, ""},
		{"a composite's field", `{"room_name": "demo", "track_id": "TR_a", "layout": "grid"}`, "layout"},
		{"both outputs", `{"room_name": "demo", "track_id": "TR_a", "file": {}, "websocket_url": "wss://x"}`, "websocket_url"},
		{"empty", ``, "request.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := ParseTrack([]byte(c.json))
			switch {
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.err == "" && (req.RoomName != "demo" || req.TrackId != "TR_a"):
				t.Errorf("parsed %v", req)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("error %v, want one naming %s", err, c.err)
			}
		})
	}
}

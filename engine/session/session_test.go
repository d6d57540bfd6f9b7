package session

import (
	"testing"

	"github.com/livekit/protocol/livekit"
)

// TestPersonRequest: a person's request takes the composite's encoding,
// the folder or bucket and type of its file, and a name of theirs that no
// identity can turn into another folder or a name token.
func TestPersonRequest(t *testing.T) {
	s3 := &livekit.S3Upload{Bucket: "shows", AccessKey: "AK", Secret: "SK"}
	cases := []struct {
		name     string
		file     *livekit.EncodedFileOutput
		options  livekit.RoomCompositeEgressRequest_Preset
		identity string
		want     string
	}{
		{"beside a file on disk", &livekit.EncodedFileOutput{Filepath: "/rec/demo-2026.mp4"}, livekit.RoomCompositeEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_H264_1080P_30}, "bob", "/rec/{room_name}-bob-{time}.mp4"},
		{"an OGG", &livekit.EncodedFileOutput{Filepath: "show.ogg", FileType: livekit.EncodedFileType_OGG}, livekit.RoomCompositeEgressRequest_Preset{}, "alice", "{room_name}-alice-{time}.ogg"},
		{"in a bucket", &livekit.EncodedFileOutput{Filepath: "shows/ep1.mp4", Output: &livekit.EncodedFileOutput_S3{S3: s3}}, livekit.RoomCompositeEgressRequest_Preset{}, "carol", "shows/{room_name}-carol-{time}.mp4"},
		{"an identity with a slash and braces", &livekit.EncodedFileOutput{Filepath: "/rec/x.mp4"}, livekit.RoomCompositeEgressRequest_Preset{}, "../{room_id}", "/rec/{room_name}-..__room_id_-{time}.mp4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &livekit.RoomCompositeEgressRequest{RoomName: "demo", Options: &c.options, FileOutputs: []*livekit.EncodedFileOutput{c.file}}
			p := PersonRequest(req, c.identity)
			if p.RoomName != "demo" || p.Identity != c.identity || len(p.FileOutputs) != 1 || p.FileOutputs[0].Filepath != c.want {
				t.Fatalf("got %v, want %s's file %s", p, c.identity, c.want)
			}
			if p.GetPreset() != c.options.Preset {
				t.Errorf("preset %s, want the composite's %s", p.GetPreset(), c.options.Preset)
			}
			if p.FileOutputs[0].FileType != c.file.FileType || (c.file.GetS3() != nil) != (p.FileOutputs[0].GetS3() != nil) {
				t.Errorf("file %v, want the composite's type and storage", p.FileOutputs[0])
			}
			if p.FileOutputs[0] == c.file {
				t.Error("the composite's file output is shared, not copied")
			}
		})
	}
}

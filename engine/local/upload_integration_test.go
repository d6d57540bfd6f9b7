//go:build integration

package local_test

import (
	"context"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
	"roomcast/engine/mediatest"
	"roomcast/engine/storage/s3test"
)

// s3Request records the demo room to a file, HLS and images, all bound for
// the bucket of srv.
func s3Request(srv *s3test.Server, bucket string) *livekit.RoomCompositeEgressRequest {
	up := srv.Upload(bucket)
	s3 := &livekit.S3Upload{AccessKey: up.AccessKey, Secret: up.Secret, Region: "us-east-1", Endpoint: up.Endpoint, Bucket: bucket, ForcePathStyle: true}
	return &livekit.RoomCompositeEgressRequest{
		RoomName:       "demo",
		FileOutputs:    []*livekit.EncodedFileOutput{{Filepath: "rec/room.mp4", Output: &livekit.EncodedFileOutput_S3{S3: s3}}},
		SegmentOutputs: []*livekit.SegmentedFileOutput{{FilenamePrefix: "hls/seg", PlaylistName: "index.m3u8", SegmentDuration: 2, Output: &livekit.SegmentedFileOutput_S3{S3: s3}}},
		ImageOutputs:   []*livekit.ImageOutput{{CaptureInterval: 2, FilenamePrefix: "img/shot", Output: &livekit.ImageOutput_S3{S3: s3}}},
	}
}

// TestUploadsToS3WithAnOutage: the file, every segment with its playlist
// and every image land in a real S3 server; the server is down from 3 s to
// 7 s of the recording and nothing is missing at the end.
func TestUploadsToS3WithAnOutage(t *testing.T) {
	s := newStudio(t, 2)
	srv := s3test.Start(t, "media")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	info := s.startActive(t, s3Request(srv, "media"))
	began := time.Now()
	sleepUntil(began.Add(3 * time.Second))
	srv.Stop()
	sleepUntil(began.Add(7 * time.Second))
	srv.Restart()
	sleepUntil(began.Add(10 * time.Second))
	final, err := s.engine.Stop(ctx, info.EgressId)
	if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("stop: %v %v %s", final.GetStatus(), err, final.GetError())
	}
	if final.BackupStorageUsed {
		t.Error("backup storage used although the server came back")
	}

	keys, err := srv.Keys(ctx, "media")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d objects: %v", len(keys), keys)
	has := map[string]bool{}
	for _, k := range keys {
		has[k] = true
	}

	// The file: a full recording, read back from the bucket.
	if !has["rec/room.mp4"] {
		t.Fatalf("rec/room.mp4 not in the bucket")
	}
	p, err := mediatest.ProbeFile(srv.ObjectFile("media", "rec/room.mp4"), true)
	if err != nil {
		t.Fatal(err)
	}
	fr := final.FileResults
	if len(fr) != 1 || !strings.Contains(fr[0].Location, "rec/room.mp4") || strings.Contains(fr[0].Location, srv.Secret) {
		t.Fatalf("file result = %v", fr)
	}
	// All of what was written (which starts once the sound does: a CI run
	// had the page's sound stall for 2.4 s at the start, and a 10 s
	// recording hold 8 s), and most of the 10 s.
	written := time.Duration(fr[0].Duration).Seconds()
	if v := p.First("video"); v == nil || v.CodecName != "h264" || math.Abs(p.Duration()-written) > 0.2 || written < 7 {
		t.Errorf("uploaded file: %+v, %.2f s, of %.2f s written", v, p.Duration(), written)
	}

	// Every segment the playlist lists is in the bucket, and the playlist
	// plays from the bucket's copy.
	playlist, err := os.ReadFile(srv.ObjectFile("media", "hls/index.m3u8"))
	if err != nil {
		t.Fatalf("playlist not in the bucket: %v", err)
	}
	listed := 0
	for _, line := range strings.Split(string(playlist), "\n") {
		if strings.HasSuffix(line, ".ts") {
			listed++
			if !has[path.Join("hls", line)] {
				t.Errorf("segment %s is listed but not in the bucket", line)
			}
		}
	}
	if listed < 4 || !strings.Contains(string(playlist), "#EXT-X-ENDLIST") {
		t.Errorf("playlist lists %d segments, or has no end:\n%s", listed, playlist)
	}
	if hp, err := mediatest.ProbeFile(srv.ObjectFile("media", "hls/index.m3u8"), false); err != nil || hp.Duration() < 8 {
		t.Errorf("the uploaded playlist does not play the recording: %v", err)
	}

	// Images and their manifest.
	images := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "img/shot_") && strings.HasSuffix(k, ".jpeg") {
			images++
		}
	}
	if images < 4 || !has["img/"+info.EgressId+".json"] {
		t.Errorf("%d images in the bucket, manifest there: %v", images, has["img/"+info.EgressId+".json"])
	}
	// Every put went up (the three outputs' manifests, of one name, too).
	if failed := s.log.with("not uploaded", "taking a copy"); len(failed) > 0 {
		t.Errorf("uploads failed on the way:\n%s", strings.Join(failed, "\n"))
	}
	// Nothing was left behind locally: every local copy was removed once
	// its upload was confirmed.
	if left, _ := filepath.Glob(filepath.Join(s.out, ".roomcast-uploads", info.EgressId, "*", "*")); len(left) > 0 {
		t.Errorf("local copies left after confirmed uploads: %v", left)
	}
}

// TestUploadBadDestination: a missing bucket or wrong credentials are
// refused at Start, naming the field, without the secret, and start nothing.
func TestUploadBadDestination(t *testing.T) {
	s := newStudio(t, 1)
	srv := s3test.Start(t, "media")
	cases := []struct {
		name  string
		edit  func(*livekit.S3Upload)
		field string
	}{
		{"missing bucket", func(u *livekit.S3Upload) { u.Bucket = "nope" }, "bucket"},
		{"wrong secret", func(u *livekit.S3Upload) { u.Secret = "wrong-secret-0123456789" }, "secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := s3Request(srv, "media")
			up := req.FileOutputs[0].GetS3()
			tc.edit(up)
			_, err := s.engine.Start(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), "file_outputs[0].s3") || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want one naming file_outputs[0].s3 and %s", err, tc.field)
			}
			if strings.Contains(err.Error(), up.Secret) || strings.Contains(err.Error(), srv.Secret) {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
	if list, _ := engine.Items(s.engine.List(context.Background(), nil)); len(list) != 0 {
		t.Errorf("refused requests left egresses: %v", list)
	}
}

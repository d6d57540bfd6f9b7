//go:build integration

package trackcopy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/internal/disktest"
	"roomcast/engine/mediatest"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	os.Exit(m.Run())
}

// config copies trackID into dir/name plus its container's extension.
func config(d *demo.Demo, trackID, dir, name string, t *testing.T) Config {
	return Config{URL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), Room: d.Room(),
		TrackID: trackID, Identity: "EG_test-" + name + "-" + trackID, Logf: t.Logf,
		Path: func(ext string) string { return filepath.Join(dir, name+ext) }}
}

// transcoders are the element factories a copy must not have: encoders,
// decoders, converters.
func transcoders(t *testing.T, c *Copy) []string {
	els, err := c.pipeline.GetElementsRecursive()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, el := range els {
		name := el.GetFactory().GetName()
		if strings.Contains(name, "enc") || strings.Contains(name, "dec") || strings.Contains(name, "convert") {
			found = append(found, name)
		}
	}
	return found
}

// TestCopiesEachTrackAsSent records bob's microphone and camera of the
// demo room at once, each as its own file: his Opus as an Ogg file with
// his tone alone, his VP8 as WebM in his colour, neither through an
// encoder or a decoder.
func TestCopiesEachTrackAsSent(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 3})
	people := d.Participants()
	bob := people[1]
	published := demotest.Tracks(t, d)[bob.Identity]
	dir := t.TempDir()
	cases := []struct {
		kind      livekit.TrackType
		name, ext string
		codec     string
		check     func(t *testing.T, path string)
	}{
		{livekit.TrackType_AUDIO, "bob", ".ogg", "opus", func(t *testing.T, path string) {
			mediatest.CheckTone(t, path, bob.ToneHz)
			pcm, err := mediatest.AudioPCM(path, 48000, 1, 3)
			if err != nil {
				t.Fatal(err)
			}
			own := mediatest.ToneLevel(pcm, 48000, bob.ToneHz)
			for _, p := range people {
				if p.Identity != bob.Identity {
					if other := mediatest.ToneLevel(pcm, 48000, p.ToneHz); other > own/20 {
						t.Errorf("%s's %g Hz at %.4f beside bob's %.4f: his track alone was asked", p.Identity, p.ToneHz, other, own)
					}
				}
			}
		}},
		{livekit.TrackType_VIDEO, "bob", ".webm", "vp8", func(t *testing.T, path string) {
			frame, err := mediatest.FrameAt(path, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !mediatest.Contains(frame, bob.Color, 40, 8) {
				t.Errorf("the frame at 3 s does not show bob's colour %v", bob.Color)
			}
		}},
	}
	copies := make([]*Copy, len(cases))
	for i, c := range cases {
		info := published[c.kind]
		if info == nil {
			t.Fatalf("bob publishes no %s track", c.kind)
		}
		cp, err := Start(context.Background(), config(d, info.Sid, dir, c.name, t))
		if err != nil {
			t.Fatal(err)
		}
		copies[i] = cp
	}
	time.Sleep(6 * time.Second) // media to record, not a wait for an event
	for i, c := range cases {
		t.Run(c.ext, func(t *testing.T) {
			if found := transcoders(t, copies[i]); len(found) > 0 {
				t.Errorf("a copy transcodes: %v in its pipeline", found)
			}
			res, err := copies[i].Stop()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", res)
			if want := filepath.Join(dir, c.name+c.ext); res.Path != want {
				t.Errorf("written to %s, want %s", res.Path, want)
			}
			probe, err := mediatest.ProbeFile(res.Path, c.kind == livekit.TrackType_VIDEO)
			if err != nil {
				t.Fatal(err)
			}
			s := probe.First(strings.ToLower(c.kind.String()))
			if s == nil || s.CodecName != c.codec {
				t.Fatalf("%s: stream %+v, want %s", res.Path, s, c.codec)
			}
			if dur := probe.Duration(); dur < 5 || dur > 7 {
				t.Errorf("%s lasts %.2f s, want about 6", res.Path, dur)
			}
			if c.kind == livekit.TrackType_VIDEO && s.Frames() < 5*25 {
				t.Errorf("%s: %d frames decoded in about 6 s", res.Path, s.Frames())
			}
			c.check(t, res.Path)
		})
	}
}

// TestCopyEndsWithItsTrack: when the publisher leaves, the copy ends by
// itself, saying why, and its file plays. The file's name has quotes and
// a backslash, which stay as given.
func TestCopyEndsWithItsTrack(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 3})
	carol := d.Participants()[2]
	info := demotest.Tracks(t, d)[carol.Identity][livekit.TrackType_AUDIO]
	cfg := config(d, info.Sid, t.TempDir(), "carol", t)
	named := filepath.Join(filepath.Dir(cfg.Path(".ogg")), `carol's "mic" \ take 1.ogg`)
	cfg.Path = func(string) string { return named }
	cp, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := d.RemoveParticipant(carol.Identity); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cp.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the copy did not end within 20 s of its publisher leaving")
	}
	res, err := cp.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != named {
		t.Errorf("written to %s, want %s", res.Path, named)
	}
	if !strings.Contains(res.EndReason, "track ended") {
		t.Errorf("ended because %q, want the track's end", res.EndReason)
	}
	probe, err := mediatest.ProbeFile(res.Path, false)
	if err != nil {
		t.Fatal(err)
	}
	if dur := probe.Duration(); dur < 2 {
		t.Errorf("the file lasts %.2f s, want the ~3 s before carol left", dur)
	}
	mediatest.CheckTone(t, res.Path, carol.ToneHz)
}

// TestCopyThroughAResolutionChange: bob's camera going from 640x360 to
// 320x180 mid-copy (as a publisher's bandwidth makes it) leaves a file
// whose frames all decode, in his colour, at the old size and then the
// new: VP8 as WebM, H.264 as MP4, neither through a transcoding element.
func TestCopyThroughAResolutionChange(t *testing.T) {
	for _, c := range []struct {
		codec, ext string
	}{
		{"vp8", ".webm"},
		{"h264", ".mp4"},
	} {
		t.Run(c.codec, func(t *testing.T) {
			d := demotest.Start(t, demo.Options{Participants: 2, CameraCodec: c.codec})
			bob := d.Participants()[1]
			info := demotest.Tracks(t, d)[bob.Identity][livekit.TrackType_VIDEO]
			cp, err := Start(context.Background(), config(d, info.Sid, t.TempDir(), "bob", t))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			if found := transcoders(t, cp); len(found) > 0 {
				t.Errorf("a copy transcodes: %v in its pipeline", found)
			}
			if err := d.SetVideoSize(bob.Identity, 320, 180); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			res, err := cp.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Ext(res.Path) != c.ext {
				t.Errorf("written to %s, want a %s file", res.Path, c.ext)
			}
			probe, err := mediatest.ProbeFile(res.Path, false)
			if err != nil {
				t.Fatal(err)
			}
			if s := probe.First("video"); s == nil || s.CodecName != c.codec {
				t.Fatalf("%s: stream %+v, want %s", res.Path, s, c.codec)
			}
			frame, err := mediatest.FrameAt(res.Path, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !mediatest.Contains(frame, bob.Color, 40, 8) {
				t.Errorf("the frame at 1 s does not show bob's colour %v", bob.Color)
			}
			out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=width,height", "-of", "csv=p=0", res.Path).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v: %s", err, out)
			}
			sizes := map[string]int{}
			for _, line := range strings.Fields(string(out)) {
				sizes[line]++
			}
			t.Logf("decoded frames by size: %v", sizes)
			if sizes["640,360"] < 2*25 || sizes["320,180"] < 2*25 {
				t.Errorf("decoded frames by size %v, want 2 s or more of each of 640x360 and 320x180", sizes)
			}
			if msg, err := exec.Command("ffmpeg", "-v", "error", "-i", res.Path, "-f", "null", "-").CombinedOutput(); err != nil || len(msg) > 0 {
				t.Errorf("ffmpeg decoding the copy: %v: %s", err, msg)
			}
		})
	}
}

// TestCopyOnAFullDisk: a copy whose disk fills up ends by itself with
// the error, at once rather than queueing packets it can no longer write,
// and what was written before stays in the file.
func TestCopyOnAFullDisk(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 1})
	alice := d.Participants()[0]
	info := demotest.Tracks(t, d)[alice.Identity][livekit.TrackType_VIDEO]
	disk := disktest.Small(t, 48<<10) // a few seconds of the demo's camera
	cp, err := Start(context.Background(), config(d, info.Sid, disk, "alice", t))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-cp.Done():
	case <-time.After(30 * time.Second):
		cp.Stop()
		t.Fatal("the copy went on for 30 s on a 48 KiB disk")
	}
	res, err := cp.Wait()
	if err == nil || !strings.Contains(res.EndReason, "the file failed") {
		t.Fatalf("ended %q with error %v, want the disk's error", res.EndReason, err)
	}
	t.Logf("ended: %v; %d bytes kept of %d packets", err, res.Size, res.Packets)
	if res.Size < 16<<10 {
		t.Errorf("%d bytes kept: what fit on the disk should stay", res.Size)
	}
	if frames, _ := exec.Command("ffprobe", "-v", "quiet", "-select_streams", "v", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", res.Path).Output(); len(strings.TrimSpace(string(frames))) == 0 || strings.TrimSpace(string(frames)) == "0" {
		t.Errorf("no frame of the part written decodes (%q)", frames)
	}
}

// TestCopyRefusals: what cannot be copied is refused at Start, naming the
// request's field.
func TestCopyRefusals(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 1})
	dir := t.TempDir()
	for _, c := range []struct {
		name, track, says string
	}{
		{"no track", "", "track_id: empty"},
		{"unknown track", "TR_nothere", "track_id: TR_nothere is not published"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cp, err := Start(ctx, config(d, c.track, dir, "a", t))
			if err == nil {
				cp.Stop()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q, want it to say %q", err, c.says)
			}
		})
	}
}

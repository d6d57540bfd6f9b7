//go:build integration

package faults_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"image/color"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/internal/disktest"
	"roomcast/engine/local"
	"roomcast/engine/local/localtest"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/engine/rtmptest"
	"roomcast/engine/storage/s3test"
	"roomcast/engine/waittest"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	os.Exit(m.Run())
}

// The show: 12 s recorded and streamed, the fault 4 s in.
const (
	showSeconds = 12
	faultAt     = 4 * time.Second
)

// TestBrowserDiesMidShow kills the composite's Chromium on the screen (its
// browser process, or its page's renderers) once its spare browser is
// ready (7 s into a recording that also streams to nginx-rtmp, or later
// if the spare is not ready by then), and stops the recording 8 s after
// the kill: the spare takes over; the egress completes; the file and the
// stream each hold the whole recording at a constant rate, with the
// people, then one run of slate frames, then the people again; the
// egress's details name the incident and what took over.
func TestBrowserDiesMidShow(t *testing.T) {
	const (
		faultAt = 7 * time.Second // the spare starts 3 s after the composite, and is ready 2-11 s later
		after   = 8 * time.Second // the recording goes on this long after the kill
	)
	cases := []struct {
		name, process string // proctest.Chromium's type
	}{
		{"browser process killed", ""},
		{"renderer killed", "renderer"},
	}
	d := demotest.Start(t, demo.Options{Participants: 2})
	people := d.Participants()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rtmp := rtmptest.Start(t)
			spareReady := make(chan struct{})
			var once sync.Once
			eng := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(),
				Logf: func(format string, args ...any) {
					t.Logf(format, args...)
					if strings.Contains(format, "a spare browser is ready") {
						once.Do(func() { close(spareReady) })
					}
				}})
			path := filepath.Join(t.TempDir(), "show.mp4")
			info, err := eng.Start(context.Background(), &livekit.RoomCompositeEgressRequest{
				RoomName:      demo.DefaultRoom,
				Layout:        "grid",
				FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: path}},
				StreamOutputs: []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_RTMP, Urls: []string{rtmp.URL("show")}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			active := waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
			began := time.Unix(0, active.StartedAt)

			select {
			case <-spareReady:
			case <-time.After(30 * time.Second):
				t.Fatal("no spare browser within 30 s")
			}
			time.Sleep(time.Until(began.Add(faultAt)))
			pids := onScreenChromium(t, c.process)
			for _, pid := range pids {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			killed := time.Now()
			waittest.Until(t, 30*time.Second, "the picture back", func() bool {
				infos, err := eng.List(context.Background(), &livekit.ListEgressRequest{EgressId: info.EgressId})
				return err == nil && len(infos.Items) == 1 && strings.Contains(infos.Items[0].Details, "picture back after")
			})
			t.Logf("picture back %v after the kill", time.Since(killed).Round(time.Millisecond))

			final := stopAt(t, eng, info.EgressId, killed.Add(after))
			if final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
				t.Fatalf("status %s (%s), want EGRESS_COMPLETE", final.Status, final.Error)
			}
			if !strings.Contains(final.Details, "browser died at") || !strings.Contains(final.Details, "from the spare browser") {
				t.Errorf("details %q do not name the incident and the spare taking over", final.Details)
			}
			mediatest.VerifyVideo(t, path, mediatest.Expect{Width: 1280, Height: 720, Seconds: killed.Add(after).Sub(began).Seconds(), Audio: "aac"})
			checkOneSlateRun(t, path, colors(people))
			checkHeardAtEnd(t, path, killed.Add(after).Sub(began), people)
			rtmp.CheckRecording(t, "show", 1280, 720) // one publish, unbroken
			checkOneSlateRun(t, rtmp.Recordings("show")[0], colors(people))
		})
	}
}

func colors(people []demo.Persona) []color.RGBA {
	var cs []color.RGBA
	for _, p := range people {
		cs = append(cs, p.Color)
	}
	return cs
}

// checkHeardAtEnd checks that each person's tone is in the last 2 s
// before end of path: the spare that took over warmed up no audio output
// (its sink is the show's), and its sound starts once it is called in.
func checkHeardAtEnd(t *testing.T, path string, end time.Duration, people []demo.Persona) {
	t.Helper()
	const rate = 48000
	pcm, err := mediatest.AudioPCM(path, rate, end.Seconds()-2.5, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range people {
		tone, off := mediatest.ToneLevel(pcm, rate, p.ToneHz), mediatest.ToneLevel(pcm, rate, p.ToneHz*1.37)
		if tone < 0.01 || tone < 10*off {
			t.Errorf("%s: %s's %g Hz at level %.3f (off-tone %.3f) at the end, want it heard again after the spare took over", filepath.Base(path), p.Identity, p.ToneHz, tone, off)
		}
	}
}

// checkOneSlateRun finds, in frames 0.1 s apart, the content (any of its
// colours: the people), then one run of frames without it (the slate
// while the browser was away), then the content again; it logs the run's
// length.
func checkOneSlateRun(t *testing.T, path string, content []color.RGBA) {
	t.Helper()
	frames, err := mediatest.Frames(path, 10, 160, 90)
	if err != nil {
		t.Fatal(err)
	}
	var runs [][2]int // first and last frame of each run without anyone
	for i, img := range frames {
		anyone := false
		for _, c := range content {
			anyone = anyone || mediatest.Contains(img, c, 60, 2)
		}
		switch {
		case anyone:
		case len(runs) > 0 && runs[len(runs)-1][1] == i-1:
			runs[len(runs)-1][1] = i
		default:
			runs = append(runs, [2]int{i, i})
		}
	}
	name := filepath.Base(path)
	if len(runs) != 1 || runs[0][0] == 0 || runs[0][1] == len(frames)-1 {
		t.Errorf("%s: runs of frames without anyone %v of %d frames, want one, with people before and after", name, runs, len(frames))
		return
	}
	t.Logf("%s: slate from %.1f s for %.1f s", name, float64(runs[0][0])/10, float64(runs[0][1]-runs[0][0]+1)/10)
}

// TestThreeCrashesFail kills the composite's browser (and its spare)
// three times in a row: the first two are relaunched, the third fails the
// egress, saying why, with its file finalised and playable.
func TestThreeCrashesFail(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 2})
	eng := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret()})
	path := filepath.Join(t.TempDir(), "show.mp4")
	info, err := eng.Start(context.Background(), &livekit.RoomCompositeEgressRequest{
		RoomName: demo.DefaultRoom, Layout: "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	details := func() string {
		infos, err := eng.List(context.Background(), &livekit.ListEgressRequest{EgressId: info.EgressId})
		if err != nil || len(infos.Items) != 1 {
			return ""
		}
		return infos.Items[0].Details
	}
	for crash := 1; crash <= 3; crash++ {
		time.Sleep(2 * time.Second)
		killBrowsers(t)
		if crash < 3 {
			waittest.Until(t, 30*time.Second, fmt.Sprintf("the picture back after crash %d", crash), func() bool {
				return strings.Count(details(), "picture back after") == crash
			})
		}
	}
	final := waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_FAILED, 30*time.Second)
	t.Logf("final: %s; details %q", final.Error, final.Details)
	if !strings.Contains(final.Error, "the browser failed 3 times within 2m0s") {
		t.Errorf("error %q does not say the browser failed three times", final.Error)
	}
	if len(final.FileResults) != 1 || final.FileResults[0].Duration <= 0 {
		t.Fatalf("file results %v, want the file", final.FileResults)
	}
	mediatest.VerifyVideo(t, path, mediatest.Expect{Width: 1280, Height: 720, Seconds: float64(final.FileResults[0].Duration) / 1e9, Tolerance: 0.5, Audio: "aac"})
}

// stopAt stops egress id at the time at and returns its final info.
func stopAt(t *testing.T, eng *local.Local, id string, at time.Time) *livekit.EgressInfo {
	t.Helper()
	time.Sleep(time.Until(at))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	final, err := eng.Stop(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("final: %s; error %q; details %q", final.Status, final.Error, final.Details)
	return final
}

// onScreenChromium lists the processes of type typ ("" for the browser
// process, "renderer") of the Chromium whose window opened on the screen
// (not a spare's, beside it): every renderer, as Chromium keeps a spare
// one. Only until a spare has taken over, whose command line still says
// beside.
func onScreenChromium(t *testing.T, typ string) []int {
	t.Helper()
	var browser []int
	for _, pid := range proctest.Chromium("") {
		if strings.Contains(proctest.Command(pid), "--window-position=0,0") {
			browser = append(browser, pid)
		}
	}
	if len(browser) != 1 {
		t.Fatalf("%d chromium browsers on the screen, want the composite's one", len(browser))
	}
	if typ == "" {
		return browser
	}
	var pids []int
	for _, pid := range proctest.Chromium(typ) {
		if slices.Contains(proctest.Descendants(browser[0]), pid) {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		t.Fatalf("no chromium %s of the browser on the screen", typ)
	}
	return pids
}

// killBrowsers kills every Chromium browser process: the composite's and
// its spare's, so that each crash is one the composite must start a new
// browser for.
func killBrowsers(t *testing.T) {
	t.Helper()
	pids := proctest.Chromium("")
	if len(pids) == 0 {
		t.Fatal("no chromium browser")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPageHangs records a custom template that, on cue, 4 s into a 12 s
// recording, stops answering (a busy loop): the heartbeat finds it hung,
// a new browser takes over, the egress completes with one run of slate
// frames, and its details name the hang.
func TestPageHangs(t *testing.T) {
	green := color.RGBA{0x00, 0xc8, 0x53, 255}
	var cue atomic.Int32 // 1: hang once; 2: done
	tpl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cue" {
			if cue.CompareAndSwap(1, 2) {
				fmt.Fprint(w, "hang")
			}
			return
		}
		fmt.Fprint(w, `<!doctype html><html><body style="margin:0;background:#00c853"><script>
console.log("START_RECORDING");
setInterval(async () => {
  const r = await fetch("/cue");
  if ((await r.text()) === "hang") { for (;;) {} }
}, 200);
</script></body></html>`)
	}))
	defer tpl.Close()
	d := demotest.Start(t, demo.Options{NoParticipants: true})
	eng := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret()})
	path := filepath.Join(t.TempDir(), "show.mp4")
	info, err := eng.Start(context.Background(), &livekit.RoomCompositeEgressRequest{
		RoomName: demo.DefaultRoom, CustomBaseUrl: tpl.URL,
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}},
	})
	if err != nil {
		t.Fatal(err)
	}
	active := waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	began := time.Unix(0, active.StartedAt)
	time.Sleep(time.Until(began.Add(faultAt)))
	cue.Store(1)
	final := stopAt(t, eng, info.EgressId, began.Add(showSeconds*time.Second))
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE || !strings.Contains(final.Details, "(hung)") {
		t.Fatalf("status %s (%s), details %q: want COMPLETE, naming the hang", final.Status, final.Error, final.Details)
	}
	mediatest.VerifyVideo(t, path, mediatest.Expect{Width: 1280, Height: 720, Seconds: showSeconds, Audio: "aac"})
	checkOneSlateRun(t, path, []color.RGBA{green})
}

// TestDiskFull records to a file on a small disk that fills a few seconds
// in, while streaming: the file keeps what fit and plays, the egress's
// error names the file, its path and "disk full", and the stream goes on
// to the end, unbroken.
func TestDiskFull(t *testing.T) {
	small := disktest.Small(t, 256<<10)
	d := demotest.Start(t, demo.Options{Participants: 2})
	rtmp := rtmptest.Start(t)
	eng := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret()})
	path := filepath.Join(small, "full.mp4")
	info, err := eng.Start(context.Background(), &livekit.RoomCompositeEgressRequest{
		RoomName: demo.DefaultRoom, Layout: "grid",
		FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: path}},
		StreamOutputs: []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_RTMP, Urls: []string{rtmp.URL("show")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	active := waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	final := stopAt(t, eng, info.EgressId, time.Unix(0, active.StartedAt).Add(showSeconds*time.Second))
	for _, want := range []string{"file_outputs[0]", "disk full", path} {
		if !strings.Contains(final.Error, want) {
			t.Errorf("error %q does not say %q", final.Error, want)
		}
	}
	if !strings.Contains(final.Details, "stream_outputs[0]: complete") {
		t.Errorf("details %q: want the stream complete", final.Details)
	}
	rtmp.CheckRecording(t, "show", 1280, 720)
	p, err := mediatest.ProbeFile(path, true)
	if err != nil {
		// Seen once in CI ("error reading header"), never here: say what
		// the file holds, so that the next failure explains itself.
		t.Fatalf("the full disk's file does not play: %v; it holds %s", err, topBoxes(path))
	}
	if v := p.First("video"); v == nil || v.Frames() < 15 {
		t.Fatalf("the full disk's file holds %+v, want what fit", v)
	}
	t.Logf("the full disk's file: %.2f s; it holds %s", p.Duration(), topBoxes(path))
}

// topBoxes lists the top-level boxes of the MP4 at path (type and size),
// and how it ends: `"ftyp" 28, "moov" 1234, "moof" 512, "mdat" 30000 (cut
// at 3000 of it)`.
func topBoxes(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var boxes []string
	for at := 0; at < len(raw); {
		if len(raw)-at < 8 {
			boxes = append(boxes, fmt.Sprintf("%d stray bytes", len(raw)-at))
			break
		}
		size, kind := int(binary.BigEndian.Uint32(raw[at:])), string(raw[at+4:at+8])
		switch {
		case size == 1 && len(raw)-at >= 16:
			size = int(binary.BigEndian.Uint64(raw[at+8:]))
		case size == 0:
			size = len(raw) - at
		}
		if size < 8 || at+size > len(raw) {
			boxes = append(boxes, fmt.Sprintf("%q %d (cut at %d of it)", kind, size, len(raw)-at))
			break
		}
		boxes = append(boxes, fmt.Sprintf("%q %d", kind, size))
		at += size
	}
	return fmt.Sprintf("%d bytes: %s", len(raw), strings.Join(boxes, ", "))
}

// TestStopWhileStuck stops an egress whose RTMP server and S3 endpoint
// have both stopped answering (frozen: connections open, nothing read or
// answered): Stop returns within 10 s, the file kept on this machine and
// the egress saying what could not be finished.
func TestStopWhileStuck(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 2})
	rtmp := rtmptest.Start(t)
	s3 := s3test.Start(t, "media")
	up := s3.Upload("media")
	eng := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), OutputDir: t.TempDir()})
	info, err := eng.Start(context.Background(), &livekit.RoomCompositeEgressRequest{
		RoomName: demo.DefaultRoom, Layout: "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "show.mp4", Output: &livekit.EncodedFileOutput_S3{S3: &livekit.S3Upload{
			AccessKey: up.AccessKey, Secret: up.Secret, Region: up.Region, Endpoint: up.Endpoint, Bucket: up.Bucket, ForcePathStyle: true,
		}}}},
		StreamOutputs: []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_RTMP, Urls: []string{rtmp.URL("show")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	time.Sleep(4 * time.Second)
	for _, pid := range []int{rtmp.PID(), s3.PID()} {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	}
	time.Sleep(3 * time.Second)
	var final *livekit.EgressInfo
	began := time.Now()
	waittest.Returns(t, 10*time.Second, "Stop with the RTMP server and S3 frozen", func() error {
		var err error
		final, err = eng.Stop(context.Background(), info.EgressId)
		return err
	})
	t.Logf("Stop returned after %v: %s; error %q; details %q", time.Since(began).Round(time.Millisecond), final.Status, final.Error, final.Details)
	// The file is finished, and kept here; the info says its upload could
	// not be.
	if len(final.FileResults) != 1 || !final.BackupStorageUsed {
		t.Fatalf("file results %v (backup storage used: %v), want the file kept on local disk", final.FileResults, final.BackupStorageUsed)
	}
	kept := final.FileResults[0].Location
	if !strings.Contains(final.Details, "file_outputs[0]: complete, not uploaded") || !strings.Contains(final.Details, "kept at "+kept) {
		t.Errorf("details %q do not say the file was not uploaded and where it is", final.Details)
	}
	mediatest.VerifyVideo(t, kept, mediatest.Expect{Width: 1280, Height: 720, Seconds: float64(final.FileResults[0].Duration) / 1e9, Tolerance: 0.5, Audio: "aac"})
}

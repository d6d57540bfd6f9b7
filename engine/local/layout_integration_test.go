//go:build integration

package local_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/local"
	"roomcast/engine/local/localtest"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/engine/request"
	"roomcast/engine/waittest"
	"roomcast/layouts/layouttest"
)

// The 2 s within which the issue wants a leaver's tile gone.
const tileGoneLimit = 2 * time.Second

// stopLimit: Stop must finalise a file within this (STYLE: helpers fail
// the test when a Close blocks for more than a few seconds).
const stopLimit = 5 * time.Second

// TestLayoutsInRecordings proves the layouts through the engine: a
// participant leaving during a recording, UpdateLayout during a recording,
// a custom template that follows the contract, a custom template that never
// signals start or does not load, and an unknown layout.
func TestLayoutsInRecordings(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 3})
	eng := newLayoutEngine(t, d, 0)
	dir := t.TempDir()

	t.Run("UpdateLayout from grid to speaker while recording", func(t *testing.T) {
		people := demoPeople(d)
		pv := startPreview(t, eng, gridRequest(""))
		pv.await(t, 30*time.Second, "the grid of 3 in the preview", func(img *image.RGBA) bool {
			return layouttest.Check(img, "grid", 1280, 720, people).OK()
		})
		path := filepath.Join(dir, "update-layout.mp4")
		rec := startRecording(t, eng, gridRequest(path))
		time.Sleep(3 * time.Second) // grid on record

		t0 := time.Now()
		info, err := eng.UpdateLayout(context.Background(), rec.id, "speaker")
		if err != nil {
			t.Fatal(err)
		}
		if got := info.GetRoomComposite().GetLayout(); got != "speaker" {
			t.Errorf("UpdateLayout returned layout %q, want speaker", got)
		}
		at := pv.await(t, 10*time.Second, "the speaker layout in the preview", func(img *image.RGBA) bool {
			return layouttest.Check(img, "speaker", 1280, 720, people).OK()
		})
		t.Logf("UpdateLayout: speaker layout in the preview %v after the call", at.Sub(t0).Round(10*time.Millisecond))
		if st := rec.status(t); st != livekit.EgressStatus_EGRESS_ACTIVE {
			t.Fatalf("egress is %s after UpdateLayout, want it still ACTIVE", st)
		}
		time.Sleep(3 * time.Second) // speaker on record
		final := rec.stop(t)
		if got := final.GetRoomComposite().GetLayout(); got != "speaker" {
			t.Errorf("final info says layout %q, want speaker", got)
		}
		dur := rec.verify(t, final, 1280, 720)
		// The one file holds both: the grid before the change, the
		// speaker layout after it.
		checkFrame(t, path, 1, "grid", people)
		checkFrame(t, path, dur-0.5, "speaker", people)
	})

	t.Run("a participant leaves while recording", func(t *testing.T) {
		people := demoPeople(d)
		if len(people) != 3 {
			t.Fatalf("%d people in the room, want 3", len(people))
		}
		pv := startPreview(t, eng, gridRequest(""))
		pv.await(t, 30*time.Second, "the grid of 3 in the preview", func(img *image.RGBA) bool {
			return layouttest.Check(img, "grid", 1280, 720, people).OK()
		})
		path := filepath.Join(dir, "leave.mp4")
		rec := startRecording(t, eng, gridRequest(path))
		time.Sleep(3 * time.Second)

		leaver := people[1] // the middle one: the others must close up
		rest := []layouttest.Person{people[0], people[2]}
		t0 := time.Now()
		if err := d.RemoveParticipant(leaver.Name); err != nil {
			t.Fatal(err)
		}
		at := pv.await(t, 10*time.Second, leaver.Name+"'s tile gone from the preview", func(img *image.RGBA) bool {
			return !mediatest.Contains(img, leaver.Color, 60, 2) && layouttest.Check(img, "grid", 1280, 720, rest).OK()
		})
		gone := at.Sub(t0)
		t.Logf("%s left: tile gone from the preview (the others in a 2-up grid) %v later", leaver.Name, gone.Round(10*time.Millisecond))
		if gone > tileGoneLimit {
			t.Errorf("%s's tile went %v after leaving, want within %v", leaver.Name, gone.Round(10*time.Millisecond), tileGoneLimit)
		}
		time.Sleep(3 * time.Second)
		if st := rec.status(t); st != livekit.EgressStatus_EGRESS_ACTIVE {
			t.Fatalf("egress is %s after %s left, want it still ACTIVE", st, leaver.Name)
		}
		dur := rec.verify(t, rec.stop(t), 1280, 720)
		checkFrame(t, path, 1, "grid", people)
		checkFrame(t, path, dur-0.5, "grid", rest)
	})

	t.Run("custom template following the contract", func(t *testing.T) {
		tpl := serveTemplate(t, customPage)
		path := filepath.Join(dir, "custom.mp4")
		req := &livekit.RoomCompositeEgressRequest{
			RoomName:      demo.DefaultRoom,
			Layout:        "my-own-layout",
			CustomBaseUrl: tpl.url + "/template?theme=magenta",
			FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: path}},
		}
		began := time.Now()
		rec := startRecording(t, eng, req)
		t.Logf("custom template: Start to ACTIVE %v", time.Since(began).Round(time.Millisecond))
		time.Sleep(4 * time.Second)
		final := rec.stop(t)
		if got := final.FileResults[0].Filename; got != path {
			t.Errorf("file result %q, want %q", got, path)
		}
		dur := rec.verify(t, final, 1280, 720)
		img, err := mediatest.FrameAt(path, dur/2)
		if err != nil {
			t.Fatal(err)
		}
		magenta := color.RGBA{0xff, 0x00, 0xff, 0xff}
		if f := fraction(img, magenta, 30); f < 0.99 {
			t.Errorf("middle frame is %.1f%% #ff00ff, want the template's colour everywhere", 100*f)
		}
		tpl.checkContract(t, d, "my-own-layout", "magenta")
	})

	t.Run("custom template that never signals start", func(t *testing.T) {
		short := newLayoutEngine(t, d, 5*time.Second)
		tpl := serveTemplate(t, silentPage)
		before := chromiumCount()
		began := time.Now()
		final := startExpectingFailure(t, short, &livekit.RoomCompositeEgressRequest{
			RoomName:      demo.DefaultRoom,
			CustomBaseUrl: tpl.url + "/silent",
			FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, "silent.mp4")}},
		}, 60*time.Second)
		t.Logf("never-starting template: FAILED %v after Start (start timeout 5 s): %s", time.Since(began).Round(time.Millisecond), final.Error)
		if !strings.Contains(final.Error, "never signalled START_RECORDING") {
			t.Errorf("error %q, want it to say the template never signalled START_RECORDING", final.Error)
		}
		if !tpl.loaded() {
			t.Error("the template was never requested")
		}
		if n := chromiumCount(); n > before {
			t.Errorf("%d Chromium processes left after the failure", n-before)
		}
	})

	t.Run("custom template that does not load", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + ln.Addr().String() + "/gone"
		ln.Close() // nothing listens there now
		began := time.Now()
		final := startExpectingFailure(t, eng, &livekit.RoomCompositeEgressRequest{
			RoomName:      demo.DefaultRoom,
			CustomBaseUrl: dead,
			FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, "dead.mp4")}},
		}, 60*time.Second)
		t.Logf("template that does not load: FAILED %v after Start: %s", time.Since(began).Round(time.Millisecond), final.Error)
		if !strings.Contains(final.Error, ln.Addr().String()) && !strings.Contains(final.Error, "ERR_CONNECTION_REFUSED") {
			t.Errorf("error %q, want it to say that %s could not be loaded", final.Error, dead)
		}
	})

	t.Run("unknown layout is refused at Start", func(t *testing.T) {
		before := len(proctest.Descendants(os.Getpid()))
		req := gridRequest(filepath.Join(dir, "mosaic.mp4"))
		req.Layout = "mosaic"
		info, err := eng.Start(context.Background(), req)
		if err == nil {
			t.Fatalf("Start accepted layout mosaic: %v", info)
		}
		for _, name := range request.Layouts {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not list layout %q", err, name)
			}
		}
		if !strings.Contains(err.Error(), "mosaic") {
			t.Errorf("error %q does not name the layout asked for", err)
		}
		if after := len(proctest.Descendants(os.Getpid())); after > before {
			t.Errorf("a refused request started %d processes", after-before)
		}
		list, _ := engine.Items(eng.List(context.Background(), &livekit.ListEgressRequest{}))
		for _, e := range list {
			if rc := e.GetRoomComposite(); rc != nil && rc.Layout == "mosaic" {
				t.Errorf("a refused request is listed: %v", e)
			}
		}
	})
}

func newLayoutEngine(t *testing.T, d *demo.Demo, startTimeout time.Duration) *local.Local {
	t.Helper()
	return localtest.New(t, local.Config{
		LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(),
		StartTimeout: startTimeout,
	})
}

// gridRequest records the demo room in the grid layout at 720p30 to path.
func gridRequest(path string) *livekit.RoomCompositeEgressRequest {
	return &livekit.RoomCompositeEgressRequest{
		RoomName:    demo.DefaultRoom,
		Layout:      "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}},
	}
}

func demoPeople(d *demo.Demo) []layouttest.Person {
	var out []layouttest.Person
	for _, p := range d.Participants() {
		out = append(out, layouttest.Person{Name: p.Identity, Color: p.Color})
	}
	return out
}

// preview keeps the latest preview frame of a composite and when it came.
type preview struct {
	mu   sync.Mutex
	last *image.RGBA
	at   time.Time
	n    int
}

func startPreview(t *testing.T, eng *local.Local, req *livekit.RoomCompositeEgressRequest) *preview {
	t.Helper()
	pv := &preview{}
	stop, err := eng.Preview(context.Background(), req, func(img *image.RGBA) {
		pv.mu.Lock()
		pv.last, pv.at = img, time.Now()
		pv.n++
		pv.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return pv
}

// await returns when the first preview frame that arrived after the call
// satisfies ok, with that frame's arrival time; it fails the test after
// timeout.
func (pv *preview) await(t *testing.T, timeout time.Duration, what string, ok func(*image.RGBA) bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pv.mu.Lock()
	seen := pv.n
	pv.mu.Unlock()
	var last *image.RGBA
	for time.Now().Before(deadline) {
		pv.mu.Lock()
		img, at, n := pv.last, pv.at, pv.n
		pv.mu.Unlock()
		if n > seen {
			seen = n
			last = img
			if ok(img) {
				return at
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if last == nil {
		t.Fatalf("no preview frame within %v waiting for %s", timeout, what)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
	return time.Time{}
}

// recording is a started egress.
type recording struct {
	eng    *local.Local
	id     string
	stopAt time.Time // when the test called Stop
}

// startRecording starts req and waits until it is ACTIVE.
func startRecording(t *testing.T, eng *local.Local, req *livekit.RoomCompositeEgressRequest) *recording {
	t.Helper()
	info, err := eng.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	r := &recording{eng: eng, id: info.EgressId}
	t.Cleanup(func() {
		// Stop is idempotent; this one only matters if the test failed
		// before its own stop.
		ctx, cancel := context.WithTimeout(context.Background(), stopLimit)
		defer cancel()
		_, _ = eng.Stop(ctx, r.id)
	})
	final := waittest.AwaitStatus(t, eng, r.id, livekit.EgressStatus_EGRESS_ACTIVE, 60*time.Second)
	if final.Status != livekit.EgressStatus_EGRESS_ACTIVE {
		t.Fatalf("egress %s: %s (%s), want ACTIVE", r.id, final.Status, final.Error)
	}
	return r
}

func (r *recording) status(t *testing.T) livekit.EgressStatus {
	t.Helper()
	list, err := engine.Items(r.eng.List(context.Background(), &livekit.ListEgressRequest{EgressId: r.id}))
	if err != nil || len(list) != 1 {
		t.Fatalf("List %s: %v, %v", r.id, list, err)
	}
	return list[0].Status
}

// stop stops the egress and wants it COMPLETE within stopLimit.
func (r *recording) stop(t *testing.T) *livekit.EgressInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stopLimit)
	defer cancel()
	began := time.Now()
	r.stopAt = began
	final, err := r.eng.Stop(ctx, r.id)
	if err != nil {
		t.Fatalf("Stop %s: %v (after %v)", r.id, err, time.Since(began).Round(time.Millisecond))
	}
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE || final.Error != "" {
		t.Fatalf("egress %s ended %s (%q), want COMPLETE", r.id, final.Status, final.Error)
	}
	if fr := final.FileResults; len(fr) != 1 || fr[0].Size == 0 || fr[0].Duration <= 0 {
		t.Fatalf("egress %s: file results %v, want one file with a size and a duration", r.id, fr)
	}
	t.Logf("egress %s: Stop returned COMPLETE after %v", r.id, time.Since(began).Round(time.Millisecond))
	return final
}

// verify checks the egress's file (see verifyRecording) against how long
// the test recorded and what the egress's info says, and returns the
// file's duration.
func (r *recording) verify(t *testing.T, final *livekit.EgressInfo, w, h int) float64 {
	t.Helper()
	fr := final.FileResults[0]
	// The file holds from its first frame's capture to the stop. That
	// frame may come out of a stalled capture well after it was taken,
	// and so before the egress turned ACTIVE: a CI run's machine stalled
	// 1.9 s as a recording began, and its file rightly held 6.0 s of a
	// 4.6 s wait from ACTIVE.
	secs := r.stopAt.Sub(time.Unix(0, fr.StartedAt)).Seconds()
	dur := mediatest.VerifyVideo(t, fr.Filename, mediatest.Expect{Width: w, Height: h, Seconds: secs}).Duration()
	if claimed := time.Duration(fr.Duration).Seconds(); math.Abs(claimed-dur) > 1 {
		t.Errorf("EgressInfo says %.2f s, the file holds %.2f s", claimed, dur)
	}
	if st, err := os.Stat(fr.Filename); err != nil || st.Size() != fr.Size {
		t.Errorf("file on disk: %v, %v; EgressInfo says %d bytes", st, err, fr.Size)
	}
	return dur
}

// startExpectingFailure starts req, which must be accepted, and waits for
// it to end FAILED.
func startExpectingFailure(t *testing.T, eng *local.Local, req *livekit.RoomCompositeEgressRequest, timeout time.Duration) *livekit.EgressInfo {
	t.Helper()
	info, err := eng.Start(context.Background(), req)
	if err != nil {
		t.Fatalf("Start refused the request (it should fail later, when the page is tried): %v", err)
	}
	final := waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_FAILED, timeout)
	if final.Status != livekit.EgressStatus_EGRESS_FAILED || final.Error == "" {
		t.Fatalf("egress %s ended %s with error %q, want FAILED with a reason", info.EgressId, final.Status, final.Error)
	}
	if want := "End reason: " + livekit.EndReasonFailure; final.ErrorCode != 500 || !strings.HasPrefix(final.Details, want) {
		t.Errorf("failed egress: error code %d, details %q; want 500 and %q, as LiveKit Egress", final.ErrorCode, final.Details, want)
	}
	return final
}

// checkFrame decodes the frame at second at and checks it shows layout
// with people.
func checkFrame(t *testing.T, path string, at float64, layout string, people []layouttest.Person) {
	t.Helper()
	img, err := mediatest.FrameAt(path, at)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if res := layouttest.Check(img, layout, b.Dx(), b.Dy(), people); !res.OK() {
		t.Errorf("%s at %.1f s is not %s with %d people:\n  %s", filepath.Base(path), at, layout, len(people), strings.Join(res.Problems, "\n  "))
	}
}

// fraction is the share of img's pixels (every 4th each way) within tol
// of want.
func fraction(img image.Image, want color.RGBA, tol int) float64 {
	b := img.Bounds()
	n, hit := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			n++
			if mediatest.Near(img.At(x, y), want, tol) {
				hit++
			}
		}
	}
	return float64(hit) / float64(n)
}

// chromiumCount counts this test's Chromium processes of every kind.
func chromiumCount() int {
	n := 0
	for _, pid := range proctest.Descendants(os.Getpid()) {
		if strings.Contains(proctest.Command(pid), "chromium") {
			n++
		}
	}
	return n
}

// customPage is a template of our own that follows the contract without
// joining the room: it needs url, token and layout, shows any problem in
// div.error, paints the page #ff00ff and says START_RECORDING once that is
// on screen (two animation frames later).
const customPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>custom template</title>
<style>html,body{margin:0;width:100vw;height:100vh;overflow:hidden;cursor:none;background:#ff00ff}
.error:empty{display:none}.error{position:fixed;top:10px;left:10px;color:#fff;background:#000}</style>
</head><body><div class="error"></div><script>
const q = new URLSearchParams(location.search);
const missing = ['url', 'token', 'layout'].filter((k) => !q.get(k));
if (missing.length > 0) {
  document.querySelector('div.error').textContent = 'missing query parameters: ' + missing.join(', ');
  console.error('missing query parameters: ' + missing.join(', '));
} else {
  requestAnimationFrame(() => requestAnimationFrame(() => console.log('START_RECORDING')));
}
</script></body></html>`

// silentPage loads fine and never says START_RECORDING.
const silentPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>silent template</title></head>
<body style="margin:0;background:#00ffff"><p>This template never signals start.</p></body></html>`

// template is a custom template served by an httptest server on
// 127.0.0.1; it remembers the query of the page's requests.
type template struct {
	url string
	mu  sync.Mutex
	q   []url.Values
}

func serveTemplate(t *testing.T, html string) *template {
	t.Helper()
	tpl := &template{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		tpl.mu.Lock()
		tpl.q = append(tpl.q, r.URL.Query())
		tpl.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, html)
	}))
	t.Cleanup(srv.Close)
	tpl.url = srv.URL
	return tpl
}

func (tpl *template) loaded() bool {
	tpl.mu.Lock()
	defer tpl.mu.Unlock()
	return len(tpl.q) > 0
}

// checkContract checks the page's address as the engine opened it: the
// base URL's own query kept, url = the LiveKit server, layout as asked,
// and a token for the room that makes the page a hidden, subscribe-only
// recorder whose identity starts with EG_.
func (tpl *template) checkContract(t *testing.T, d *demo.Demo, layout, theme string) {
	t.Helper()
	tpl.mu.Lock()
	defer tpl.mu.Unlock()
	if len(tpl.q) == 0 {
		t.Fatal("the template was never requested")
	}
	q := tpl.q[0]
	if got := q.Get("url"); got != d.URL() {
		t.Errorf("url=%q, want the LiveKit server %q", got, d.URL())
	}
	if got := q.Get("layout"); got != layout {
		t.Errorf("layout=%q, want %q", got, layout)
	}
	if got := q.Get("theme"); got != theme {
		t.Errorf("the base URL's own parameter theme=%q was not kept (want %q)", got, theme)
	}
	tok, err := auth.ParseAPIToken(q.Get("token"))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	if tok.APIKey() != d.APIKey() {
		t.Errorf("token signed with key %q, want the server's", tok.APIKey())
	}
	_, claims, err := tok.Verify(d.APISecret())
	if err != nil {
		t.Fatalf("token does not verify with the server's secret: %v", err)
	}
	v := claims.Video
	switch {
	case !strings.HasPrefix(claims.Identity, "EG_"):
		t.Errorf("token identity %q, want an EG_ recorder identity", claims.Identity)
	case v == nil || !v.RoomJoin || v.Room != demo.DefaultRoom:
		t.Errorf("token grant %+v, want to join room %q", v, demo.DefaultRoom)
	case !v.Hidden || !v.Recorder || v.GetCanPublish() || !v.GetCanSubscribe():
		t.Errorf("token grant %+v, want hidden, recorder, subscribe-only", v)
	}
}

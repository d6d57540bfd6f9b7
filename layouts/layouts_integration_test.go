//go:build integration

package layouts_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"roomcast/engine/browser"
	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/display"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/layouts"
	"roomcast/layouts/layouttest"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	code := m.Run()
	// Every test closed what it started (t.Cleanup): no server, screen,
	// browser, grabber or media process may outlive them.
	for _, pid := range proctest.Descendants(os.Getpid()) {
		if proctest.Alive(pid) {
			fmt.Fprintf(os.Stderr, "left behind: pid %d: %s\n", pid, proctest.Command(pid))
			code = 1
		}
	}
	os.Exit(code)
}

// settleTimeout bounds the wait for a page to show what it should after a
// change (a layout switch, someone joining or leaving). Joining takes the
// longest: subscribe, first key frame, decode; 2-3 s on a 2-core box with
// seven publishers. It is a deadline, not a measurement: times are logged.
const settleTimeout = 20 * time.Second

// writeScreenshots, when set, makes TestLayoutsInChromium write
// layouts/screenshots/<layout>.png from the real demo room (4 people,
// 1280x720), the pictures the README shows. ROOMCAST_SHOTS_DIR=<dir> keeps
// every case's screenshot there (TestReflowOnMuteAndShare's too), for a
// person to look at.
var writeScreenshots = os.Getenv("ROOMCAST_WRITE_SCREENSHOTS") == "1"

// maxScreenshotBytes keeps the README's pictures light.
const maxScreenshotBytes = 150 << 10

// TestLayoutsInChromium renders every layout, dark and light, in real
// Chromium on Xvfb against the demo room with 1, 2, 4 and 7 participants,
// in landscape (1280x720) and portrait (720x1280), and checks each
// screenshot against the layout's rules (layouttest.Check, a copy of
// geometry.js checked against it): every participant's colour in the tile
// the layout gives it (grid: by join order; speaker: the speaker in the
// main tile, the others in the strip; single-speaker: one colour filling
// the frame), and the background dark or light.
//
// One demo room serves the whole test, and one Chromium each orientation:
// layouts are switched in the running page (SetLayout) and participants
// join or leave between cases, as they would in a live room.
func TestLayoutsInChromium(t *testing.T) {
	d := startDemo(t, 0)
	srv := serveLayouts(t)
	for _, o := range []struct {
		name   string
		w, h   int
		counts []int // in this order, so the room only grows, then shrinks
	}{
		{"landscape", 1280, 720, []int{1, 2, 4, 7}},
		{"portrait", 720, 1280, []int{7, 4, 2, 1}},
	} {
		t.Run(o.name, func(t *testing.T) {
			setParticipants(t, d, o.counts[0])
			pg := openPage(t, d, srv, o.w, o.h, "grid")
			for _, n := range o.counts {
				setParticipants(t, d, n)
				for _, layout := range layouts.Names() {
					t.Run(fmt.Sprintf("%s/%d", layout, n), func(t *testing.T) {
						ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
						defer cancel()
						if err := pg.b.SetLayout(ctx, layout); err != nil {
							t.Fatal(err)
						}
						everyone := people(d)
						img, _ := pg.settle(t, layout, everyone, anyone)
						// The check tells layouts apart: the same picture
						// fails as the other theme and (with more than one
						// person) as the other layouts.
						for _, other := range layouts.Names() {
							if other != layout && (n > 1 || isLight(other) != isLight(layout)) {
								if res := layouttest.Check(img, other, o.w, o.h, everyone); res.OK() {
									t.Errorf("the %s screenshot passes as %s too", layout, other)
								}
							}
						}
						if writeScreenshots && o.name == "landscape" && n == 4 {
							writeScreenshot(t, layout, img)
						}
						keepShot(t, fmt.Sprintf("%s-%s-%d", o.name, layout, n), img)
					})
				}
			}
		})
	}
}

// TestSpeakerFollowsLoudest: in the speaker layout, the participant whose
// tone is loudest becomes the large tile within 2 s (the figure),
// twice in a row, and stays there (no flicker back).
func TestSpeakerFollowsLoudest(t *testing.T) {
	d := startDemo(t, 3)
	srv := serveLayouts(t)
	pg := openPage(t, d, srv, 1280, 720, "speaker")
	everyone := people(d)
	ids := identities(d)
	_, res := pg.settle(t, "speaker", everyone, anyone)
	t.Logf("speaker at start: %s (everyone at the demo's default volume)", ids[res.Speaker])
	// Equally loud people do not make the view flicker. Watching for 2 s
	// also lets the page's 1.5 s hold after its first pick run out, so
	// that each round below starts from a settled view.
	pg.steady(t, everyone, res.Speaker, 2*time.Second)

	// Two rounds: someone other than the current speaker gets loud. The
	// newcomer's tone is raised first and the previous one lowered after,
	// so that no one else is ever the loudest in between.
	prev := res.Speaker
	for round := range 2 {
		target := pickOther(prev, len(ids))
		// SetVolume replaces the participant's tone process and returns
		// once the new one produces audio: the clock starts then, so the
		// time measured is the studio's (server's speaker detection, the
		// page, the screen), not the demo's process start.
		called := time.Now()
		if err := d.SetVolume(ids[target], 1.0); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		for i, id := range ids {
			if i != target {
				if err := d.SetVolume(id, 0.05); err != nil {
					t.Fatal(err)
				}
			}
		}
		var switched time.Duration
		var last layouttest.Result
		for deadline := t0.Add(settleTimeout); time.Now().Before(deadline); {
			img, at := pg.grab(t)
			last = layouttest.Check(img, "speaker", pg.w, pg.h, everyone)
			if last.OK() && last.Speaker == target {
				switched = at.Sub(t0)
				break
			}
		}
		if switched == 0 {
			t.Fatalf("round %d: %s was made the loudest, but is not the large tile after %v: %v", round+1, ids[target], settleTimeout, last.Problems)
		}
		t.Logf("round %d: %s loudest -> large tile after %v (to the screenshot that shows it, <= 0.1 s late; the louder tone began %v after SetVolume was called)",
			round+1, ids[target], switched.Round(10*time.Millisecond), t0.Sub(called).Round(time.Millisecond))
		if switched > 2*time.Second {
			t.Errorf("round %d: %s became the large tile after %v, want within 2 s", round+1, ids[target], switched.Round(10*time.Millisecond))
		}
		// It stays: no flicker back while it is the loudest. This also
		// lets the page's 1.5 s switch hold run out before the next round.
		pg.steady(t, everyone, target, 2*time.Second)
		prev = target
	}
}

// TestReflowOnMuteAndShare: every layout follows, live, a camera being
// muted and unmuted and a screen share starting and stopping, in real
// Chromium at 1280x720 with 3 people (layouttest.Check knows placeholders
// and shares):
//   - bob's camera muted: his tile shows his placeholder (initials on a disc
//     of his hue; the grid keeps his tile), everyone else in place;
//   - unmuted: his camera is back where it was;
//   - alice shares her screen: grid and speaker show it in the main area
//     with every camera in the strip beside it (the speaker first in the
//     speaker layout), single-speaker shows only the share;
//   - the share stopped: the cameras' layout is back.
//
// Bob is made the loudest first, so that the speaker layouts feature him
// and his placeholder is on screen in every layout. Each new picture is
// also checked to fail as the state before, so that every step shows.
func TestReflowOnMuteAndShare(t *testing.T) {
	d := startDemo(t, 3)
	srv := serveLayouts(t)
	pg := openPage(t, d, srv, 1280, 720, "grid")
	everyone := people(d)
	const alice, bob = 0, 1
	for i, id := range identities(d) {
		volume := 0.05
		if i == bob {
			volume = 1
		}
		if err := d.SetVolume(id, volume); err != nil {
			t.Fatal(err)
		}
	}
	muted := slices.Clone(everyone)
	muted[bob].CameraOff = true
	sharing := slices.Clone(everyone)
	share := demo.ScreenShareColor
	sharing[alice].Share = &share
	steps := []struct {
		what string
		do   func() error
		want []layouttest.Person
	}{
		{"bob's camera muted", func() error { return d.SetMuted("bob", true, true) }, muted},
		{"bob's camera unmuted", func() error { return d.SetMuted("bob", true, false) }, everyone},
		{"alice sharing her screen", func() error { return d.StartScreenShare("alice") }, sharing},
		{"alice's share stopped", func() error { return d.StopScreenShare("alice") }, everyone},
	}
	for _, layout := range []string{"grid", "speaker", "single-speaker", "grid-light"} {
		ok := t.Run(layout, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
			defer cancel()
			if err := pg.b.SetLayout(ctx, layout); err != nil {
				t.Fatal(err)
			}
			l, err := layouttest.Parse(layout)
			if err != nil {
				t.Fatal(err)
			}
			// featured is who Check must find featured: bob, but for the
			// grid and for single-speaker's share, which feature nobody.
			featured := func(people []layouttest.Person) int {
				shared := slices.ContainsFunc(people, func(p layouttest.Person) bool { return p.Share != nil })
				if l.Base == "grid" || (l.Base == "single-speaker" && shared) {
					return anyone
				}
				return bob
			}
			pg.settle(t, layout, everyone, featured(everyone))
			before := everyone
			for i, step := range steps {
				t.Logf("%s:", step.what)
				if err := step.do(); err != nil {
					t.Fatal(err)
				}
				img, _ := pg.settle(t, layout, step.want, featured(step.want))
				keepShot(t, fmt.Sprintf("reflow-%s-%d", layout, i+1), img)
				if layouttest.Check(img, layout, pg.w, pg.h, before).OK() {
					t.Errorf("%s: the screenshot passes as the room before too", step.what)
				}
				before = step.want
			}
		})
		if !ok {
			// Bob may still be muted or alice sharing.
			t.Fatalf("%s failed: the room's state is unknown, so the other layouts are not tried", layout)
		}
	}
}

// steady checks that the speaker layout keeps people[speaker] in the
// large tile for d.
func (p *page) steady(t *testing.T, people []layouttest.Person, speaker int, d time.Duration) {
	t.Helper()
	for until := time.Now().Add(d); time.Now().Before(until); {
		img, _ := p.grab(t)
		res := layouttest.Check(img, "speaker", p.w, p.h, people)
		if res.Speaker != speaker {
			t.Fatalf("the large tile went from %s to %s: %v", people[speaker].Name, nameOf(people, res.Speaker), res.Problems)
		}
	}
}

// nameOf names people[i], or nobody for -1 (a Result's Speaker).
func nameOf(people []layouttest.Person, i int) string {
	if i < 0 {
		return "nobody"
	}
	return people[i].Name
}

// isLight tells a -light layout. (With one person, grid, speaker and
// single-speaker of one theme look the same.)
func isLight(layout string) bool { return strings.HasSuffix(layout, "-light") }

// pickOther returns the last participant that is not cur.
func pickOther(cur, n int) int {
	for i := n - 1; i >= 0; i-- {
		if i != cur {
			return i
		}
	}
	return cur
}

// TestStartWaitsForEveryVoice: after its first video frame, the page
// signals START_RECORDING once every unmuted microphone is heard, so that
// a recording's first second has every voice (under load a person's sound
// came a second after the picture, and a CI run's recording began without
// it); a microphone that sends nothing holds the start for at most 2 s,
// and the page names it.
func TestStartWaitsForEveryVoice(t *testing.T) {
	d := startDemo(t, 1)
	srv := serveLayouts(t)
	cases := []struct {
		name      string
		silent    bool // a participant publishes a microphone that sends nothing
		want, not string
	}{
		{"every voice heard", false, "roomcast: every microphone heard", "starting without"},
		{"a microphone that sends nothing", true, "roomcast: starting without the sound of quiet: not heard 2000 ms after the first frame", "every microphone heard"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.silent {
				joinSilentMicrophone(t, d, "quiet")
			}
			log := openPage(t, d, srv, 640, 360, "grid").logText()
			if !strings.Contains(log, c.want) || strings.Contains(log, c.not) {
				t.Errorf("the page's log has no %q, or has %q", c.want, c.not)
			}
		})
	}
}

// joinSilentMicrophone joins a participant to the demo room who publishes
// an unmuted microphone and never sends a sound; it leaves at the end of
// the test.
func joinSilentMicrophone(t *testing.T, d *demo.Demo, identity string) {
	t.Helper()
	room, err := lksdk.ConnectToRoom(d.URL(), lksdk.ConnectInfo{
		APIKey: d.APIKey(), APISecret: d.APISecret(), RoomName: d.Room(), ParticipantIdentity: identity,
	}, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Disconnect)
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "microphone", Source: livekit.TrackSource_MICROPHONE}); err != nil {
		t.Fatal(err)
	}
}

func startDemo(t *testing.T, n int) *demo.Demo {
	t.Helper()
	return demotest.Start(t, demo.Options{Participants: n, NoParticipants: n == 0})
}

func serveLayouts(t *testing.T) *layouts.Server {
	t.Helper()
	srv, err := layouts.Serve()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("layout server: %v", err)
		}
	})
	return srv
}

// setParticipants makes the room hold the first n personas: the latest
// joiners leave first, so that the others keep their join order.
func setParticipants(t *testing.T, d *demo.Demo, n int) {
	t.Helper()
	for ps := d.Participants(); len(ps) > n; ps = d.Participants() {
		if err := d.RemoveParticipant(ps[len(ps)-1].Identity); err != nil {
			t.Fatal(err)
		}
	}
	for len(d.Participants()) < n {
		if _, err := d.AddParticipant(); err != nil {
			t.Fatal(err)
		}
	}
}

// people are the room's participants in join order, as pictures show them.
func people(d *demo.Demo) []layouttest.Person {
	var out []layouttest.Person
	for _, p := range d.Participants() {
		out = append(out, layouttest.Person{Name: p.Identity, Color: p.Color})
	}
	return out
}

func identities(d *demo.Demo) []string {
	var out []string
	for _, p := range d.Participants() {
		out = append(out, p.Identity)
	}
	return out
}

// recorderToken is a LiveKit Egress recorder's grant: an identity starting
// with EG_ (the page does not draw it), hidden, subscribe-only.
func recorderToken(t *testing.T, d *demo.Demo, identity string) string {
	t.Helper()
	no, yes := false, true
	jwt, err := auth.NewAccessToken(d.APIKey(), d.APISecret()).
		SetIdentity(identity).
		SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin: true, Room: d.Room(), Hidden: true, Recorder: true,
			CanSubscribe: &yes, CanPublish: &no, CanPublishData: &no,
		}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}

// page is one Chromium in kiosk mode on its own Xvfb screen, showing the
// layout page as the room's recorder.
type page struct {
	w, h   int
	screen *display.Screen
	b      *browser.Browser
	shots  *mediatest.Grabber

	logMu sync.Mutex
	log   []string // the browser's lines (its console's among them)
}

// logText is what the browser logged so far, a line each.
func (p *page) logText() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return strings.Join(p.log, "\n")
}

// grabFPS is how often a page's screen is grabbed while a test watches it.
const grabFPS = 10

// openPage starts a screen and Chromium on the layout page and waits for
// START_RECORDING. Both are closed when the test ends.
func openPage(t *testing.T, d *demo.Demo, srv *layouts.Server, w, h int, layout string) *page {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	scr, err := display.Start(ctx, w, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := scr.Close(); err != nil {
			t.Errorf("close Xvfb: %v", err)
		}
	})
	id := fmt.Sprintf("EG_layouts_%dx%d", w, h)
	p := &page{w: w, h: h, screen: scr}
	b, err := browser.Launch(ctx, browser.Options{
		Display: scr.Name(),
		Width:   w,
		Height:  h,
		URL:     srv.URL(layout, d.URL(), recorderToken(t, d, id)),
		Logf: func(f string, a ...any) {
			line := fmt.Sprintf(f, a...)
			p.logMu.Lock()
			p.log = append(p.log, line)
			p.logMu.Unlock()
			t.Logf("chromium %dx%d: %s", w, h, line)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close chromium: %v", err)
		}
	})
	if err := b.WaitStarted(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("%dx%d: START_RECORDING %v after launch", w, h, time.Since(began).Round(time.Millisecond))
	shots, err := mediatest.StartGrabber(scr.Name(), w, h, grabFPS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shots.Close() })
	p.b, p.shots = b, shots
	return p
}

// grab returns a screenshot taken after the call, and when.
func (p *page) grab(t *testing.T) (*image.RGBA, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := p.shots.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return f.Img, f.At
}

// anyone is settle's featured for a page that may feature anybody.
const anyone = -1

// settle takes screenshots until two in a row pass layouttest.Check with
// the same speaker (the page has finished moving tiles and showing new
// video), and that speaker is featured (an index into people, Result's
// Speaker) unless featured is anyone; and returns the last. It fails the
// test with the last problems if that does not happen within
// settleTimeout.
func (p *page) settle(t *testing.T, layout string, people []layouttest.Person, featured int) (*image.RGBA, layouttest.Result) {
	t.Helper()
	began := time.Now()
	var img *image.RGBA
	var res layouttest.Result
	passes := 0
	prevSpeaker := -2
	shots := 0
	for time.Since(began) < settleTimeout {
		img, _ = p.grab(t)
		shots++
		res = p.check(img, layout, people, featured)
		switch {
		case !res.OK():
			passes = 0
		case res.Speaker == prevSpeaker || passes == 0:
			passes++
		default:
			passes = 1
		}
		prevSpeaker = res.Speaker
		if passes >= 2 {
			speaker := ""
			if res.Speaker >= 0 && len(people) > 1 {
				speaker = ", speaker " + people[res.Speaker].Name
			}
			t.Logf("%s, %d people, %dx%d: right after %v (%d screenshots)%s", layout, len(people), p.w, p.h,
				time.Since(began).Round(10*time.Millisecond), shots, speaker)
			return img, res
		}
	}
	p.diagnose(t, layout, people, featured)
	kept := "set ROOMCAST_SHOTS_DIR to keep it"
	if dir := os.Getenv("ROOMCAST_SHOTS_DIR"); dir != "" {
		path := filepath.Join(dir, fmt.Sprintf("FAILED-%s-%dx%d-%d.png", layout, p.w, p.h, len(people)))
		if err := savePNG(path, img); err != nil {
			kept = err.Error()
		} else {
			kept = "in " + path
		}
	}
	t.Fatalf("%s, %d people, %dx%d: not right after %v (last screenshot: %s):\n  %s", layout, len(people), p.w, p.h,
		settleTimeout, kept, strings.Join(res.Problems, "\n  "))
	return nil, res
}

// check is layouttest.Check, and that people[featured] is featured
// (Result's Speaker) unless featured is anyone.
func (p *page) check(img image.Image, layout string, people []layouttest.Person, featured int) layouttest.Result {
	res := layouttest.Check(img, layout, p.w, p.h, people)
	if res.OK() && featured != anyone && res.Speaker != featured {
		res.Problems = append(res.Problems, fmt.Sprintf("%s is featured, want %s", nameOf(people, res.Speaker), people[featured].Name))
	}
	return res
}

// diagnose tells a page that draws the wrong thing from a screen that
// shows an old picture: it logs what the page's DOM holds (through the
// console, which the browser's Logf passes on) and checks a fresh one-shot
// screenshot besides the grabber's stream.
func (p *page) diagnose(t *testing.T, layout string, people []layouttest.Person, featured int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const js = `console.log('roomcast-diagnosis: layout=' + document.documentElement.dataset.layout + ' tiles=' +
		JSON.stringify([...document.querySelectorAll('.tile')].map((e) => {
			const r = e.getBoundingClientRect();
			return [e.dataset.key, Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height), e.classList.contains('has-frame')];
		})))`
	if err := p.b.Evaluate(ctx, js); err != nil {
		t.Logf("diagnosis: the page did not answer: %v", err)
	}
	img, err := mediatest.Grab(p.screen.Name(), p.w, p.h)
	if err != nil {
		t.Logf("diagnosis: one-shot screenshot: %v", err)
		return
	}
	if res := p.check(img, layout, people, featured); res.OK() {
		t.Logf("diagnosis: a one-shot screenshot is right: the grabber's stream lags")
	} else {
		t.Logf("diagnosis: a one-shot screenshot is wrong too: %s", strings.Join(res.Problems, "; "))
	}
}

func savePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// keepShot writes img to $ROOMCAST_SHOTS_DIR/<name>.png, if that is set,
// for a person to look at.
func keepShot(t *testing.T, name string, img image.Image) {
	t.Helper()
	if dir := os.Getenv("ROOMCAST_SHOTS_DIR"); dir != "" {
		if err := savePNG(filepath.Join(dir, name+".png"), img); err != nil {
			t.Error(err)
		}
	}
}

// writeScreenshot replaces screenshots/<layout>.png (README pictures).
func writeScreenshot(t *testing.T, layout string, img image.Image) {
	t.Helper()
	path := filepath.Join("screenshots", layout+".png")
	if !slices.Contains(layouts.Names(), layout) {
		t.Fatalf("no screenshot for layout %q", layout)
	}
	if err := savePNG(path, img); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > maxScreenshotBytes {
		t.Errorf("%s is %d KB, want at most %d KB", path, st.Size()>>10, maxScreenshotBytes>>10)
	}
	t.Logf("wrote %s (%d KB)", path, st.Size()>>10)
}

package browser

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"golang.org/x/sys/unix"

	"roomcast/engine/audio/audiotest"
	"roomcast/engine/display"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/engine/waittest"
)

// quadrants fills the viewport with red, green, blue and white quarters,
// and is three viewports tall, so that a scroll bar would show if one could.
// It logs START_RECORDING once the quarters are painted, and its viewport
// size.
const quadrants = `<!doctype html>
<html><head><style>
html, body { margin: 0; padding: 0; background: #000; }
.q { position: fixed; width: 50vw; height: 50vh; }
</style></head><body>
<div class="q" style="left: 0; top: 0; background: #f00"></div>
<div class="q" style="left: 50vw; top: 0; background: #0f0"></div>
<div class="q" style="left: 0; top: 50vh; background: #00f"></div>
<div class="q" style="left: 50vw; top: 50vh; background: #fff"></div>
<div style="height: 300vh"></div>
<script>
console.log("viewport " + innerWidth + "x" + innerHeight + " dpr " + devicePixelRatio + " at " + location.href);
requestAnimationFrame(() => requestAnimationFrame(() => console.log("START_RECORDING")));
</script>
</body></html>`

var (
	red   = color.RGBA{255, 0, 0, 255}
	green = color.RGBA{0, 255, 0, 255}
	blue  = color.RGBA{0, 0, 255, 255}
	white = color.RGBA{255, 255, 255, 255}
)

// TestQuadrantsFillTheScreen checks every pixel of the screen: each is the
// colour of its quarter, up to the last row and column, with no scroll bar
// and no cursor.
func TestQuadrantsFillTheScreen(t *testing.T) {
	need(t)
	for _, size := range [][2]int{{1280, 720}, {720, 1280}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			s := screen(t, w, h)
			srv := serve(t, quadrants)
			l := newLogs(t)
			t0 := time.Now()
			b := launch(t, s, srv.URL+"/?token=s3cr3t-token&layout=grid", l)
			t.Logf("Launch returned after %v; command line: %s", time.Since(t0).Round(time.Millisecond), Redact(proctest.Command(b.Pid())))
			if err := b.WaitStarted(context.Background(), 20*time.Second); err != nil {
				t.Fatal(err)
			}
			t.Logf("Chromium launch to START_RECORDING: %v", time.Since(t0).Round(time.Millisecond))
			if vp := l.waitFor("viewport ", time.Second); !strings.Contains(vp, fmt.Sprintf("viewport %dx%d dpr 1 ", w, h)) {
				t.Errorf("page saw %q, want viewport %dx%d dpr 1", vp, w, h)
			}

			rgb := grab(t, s, false)
			want := func(x, y int) color.RGBA {
				switch {
				case y < h/2 && x < w/2:
					return red
				case y < h/2:
					return green
				case x < w/2:
					return blue
				}
				return white
			}
			bad := 0
			for y := range h {
				for x := range w {
					if got := pixel(rgb, w, x, y); got != want(x, y) {
						if bad < 10 {
							t.Errorf("pixel (%d,%d) is %v, want %v", x, y, got, want(x, y))
						}
						bad++
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d pixels are off", bad, w*h)
			}
			for _, p := range [][2]int{{0, 0}, {w - 1, 0}, {0, h - 1}, {w - 1, h - 1}} {
				t.Logf("corner (%d,%d): %v", p[0], p[1], pixel(rgb, w, p[0], p[1]))
			}
			if strings.Contains(l.all(), "s3cr3t") {
				t.Errorf("the token reached the log:\n%s", l.all())
			}
		})
	}
}

func TestWaitStartedExplainsATemplateThatNeverStarts(t *testing.T) {
	need(t)
	s := screen(t, 640, 360)
	cases := []struct {
		name, after string
		timeout     time.Duration
		want        string
	}{
		// It waits: the timeout is its error.
		{"waits", `console.log("still waiting");`, 2 * time.Second, "the template never signalled START_RECORDING within 2s"},
		// It gave up (ours does when it cannot join): no use waiting.
		{"gives up", `console.log("still waiting"); console.log("END_RECORDING");`, time.Hour, "the template never signalled START_RECORDING and signalled END_RECORDING"},
		// Ours logs the steps of its start: the error says which never came.
		{"stuck after signalling", `console.log("roomcast: script running 12 ms after navigation");
console.log("roomcast: signalling connected 40 ms after navigation"); console.log("still waiting");`, 2 * time.Second,
			`the page got as far as "signalling connected", and the media connection (ICE: UDP, TCP or TURN) to the LiveKit server never came`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := serve(t, `<!doctype html><html><body>
<div class="error">could not connect to ws://127.0.0.1:7880: 401 unauthorized</div>
<script>
console.error("roomcast: could not connect, token=abc.def.ghi");
`+c.after+`
</script></body></html>`)
			l := newLogs(t)
			b := launch(t, s, srv.URL+"/?url=ws://127.0.0.1:7880&token=abc.def.ghi", l)
			l.waitFor("still waiting", 20*time.Second)

			t0 := time.Now()
			err := b.WaitStarted(context.Background(), c.timeout)
			t.Logf("WaitStarted: %v (after %v)", err, time.Since(t0).Round(time.Millisecond))
			if !errors.Is(err, errNoStart) {
				t.Fatalf("WaitStarted = %v, want the no-start error", err)
			}
			for _, want := range []string{
				c.want,
				"last console error: roomcast: could not connect, token=REDACTED",
				`div.error: "could not connect to ws://127.0.0.1:7880: 401 unauthorized"`,
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if strings.Contains(err.Error()+l.all(), "abc.def.ghi") {
				t.Errorf("the token leaked:\n%v\n%s", err, l.all())
			}
		})
	}
}

func TestEndedAndLayout(t *testing.T) {
	need(t)
	s := screen(t, 640, 360)
	srv := serve(t, `<!doctype html><html><body><script>
window.roomcastSetLayout = (name) => {
  if (name !== "grid" && name !== "speaker") throw new Error("unknown layout " + JSON.stringify(name));
  console.log("layout is " + name);
  return name;
};
window.finish = () => console.log("END_RECORDING");
console.log("START_RECORDING");
</script></body></html>`)
	l := newLogs(t)
	profile := filepath.Join(t.TempDir(), "profile")
	t.Cleanup(func() {
		// Registered before launch's Close, so it runs after it.
		if _, err := os.Stat(filepath.Join(profile, "Default")); err != nil {
			t.Errorf("the profile in Options.UserDataDir was not used or not kept: %v", err)
		}
	})
	b := launch(t, s, srv.URL, l, func(o *Options) { o.UserDataDir = profile })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.WaitStarted(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Ended():
		t.Fatal("Ended closed before the page logged END_RECORDING")
	default:
	}

	if err := b.SetLayout(ctx, "speaker"); err != nil {
		t.Fatalf("SetLayout(speaker): %v", err)
	}
	l.waitFor("layout is speaker", 5*time.Second)
	if err := b.SetLayout(ctx, `x"); alert("y`); err == nil || !strings.Contains(err.Error(), "unknown layout") {
		t.Errorf("SetLayout of a bad name: %v, want the page's exception", err)
	}

	if err := b.Evaluate(ctx, "finish()"); err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	select {
	case <-b.Ended():
	case <-ctx.Done():
		t.Fatal("Ended not closed after END_RECORDING")
	}

	// A new page has its own signals.
	if err := b.Navigate(ctx, srv.URL+"/?again"); err != nil {
		t.Fatalf("Navigate: %v", err)
	}
	if err := b.WaitStarted(ctx, 20*time.Second); err != nil {
		t.Fatalf("after Navigate: %v", err)
	}
	select {
	case <-b.Ended():
		t.Error("Ended of the new page is closed already")
	default:
	}
}

func TestDoneWhenChromiumIsKilled(t *testing.T) {
	need(t)
	s := screen(t, 640, 360)
	srv := serve(t, quadrants)
	l := newLogs(t)
	b := launch(t, s, srv.URL, l)
	if err := b.WaitStarted(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(b.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed 10 s after Chromium was killed")
	}
	err := b.Err()
	t.Logf("Err: %v", err)
	if err == nil || !strings.Contains(err.Error(), "signal: killed") {
		t.Fatalf("Err() = %v, want the exit status", err)
	}
	if err := b.Evaluate(context.Background(), "1"); err == nil {
		t.Error("Evaluate on a dead browser succeeded")
	}
}

func TestDoneWhenThePageCrashes(t *testing.T) {
	need(t)
	s := screen(t, 640, 360)
	srv := serve(t, quadrants)
	l := newLogs(t)
	b := launch(t, s, srv.URL, l)
	if err := b.WaitStarted(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	// Page.crash kills the renderer; the browser process lives on.
	go chromedp.Call(b.tabCtx, page.Crash, cdp.Empty{})
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed 10 s after the renderer crashed")
	}
	err := b.Err()
	t.Logf("Err: %v", err)
	if err == nil || !strings.Contains(err.Error(), "crashed") {
		t.Fatalf("Err() = %v, want a crash", err)
	}
}

func TestLaunchFailsOnAPageThatDoesNotLoad(t *testing.T) {
	need(t)
	s := screen(t, 640, 360)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/?token=zzz-secret"
	ln.Close()
	l := newLogs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Launch(ctx, Options{Display: s.Name(), Width: 640, Height: 360, URL: dead, Logf: l.logf})
	if err == nil {
		closeChecked(t, b)
		t.Fatal("Launch of a page that does not load succeeded")
	}
	t.Logf("Launch: %v", err)
	if !strings.Contains(err.Error(), "ERR_CONNECTION_REFUSED") || strings.Contains(err.Error(), "zzz-secret") {
		t.Errorf("Launch error %q: want the net error and no token", err)
	}
	// Nothing left behind by a failed launch.
	for _, pid := range proctest.Descendants(os.Getpid()) {
		if strings.Contains(proctest.Command(pid), "chrom") {
			t.Errorf("failed Launch left %d %s", pid, proctest.Command(pid))
		}
	}
}

func TestLaunchWithoutAnXServer(t *testing.T) {
	need(t)
	s, err := display.Start(context.Background(), 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // a display name that nobody answers any more
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Launch(ctx, Options{Display: s.Name(), Width: 320, Height: 240, URL: "http://127.0.0.1:1/"})
	if err == nil {
		closeChecked(t, b)
		t.Fatal("Launch on a display without an X server succeeded")
	}
	t.Logf("Launch: %v", err)
	if !strings.Contains(err.Error(), "Missing X server") {
		t.Errorf("Launch error %q does not quote Chromium's reason", err)
	}
}

func TestLaunchErrors(t *testing.T) {
	for name, o := range map[string]Options{
		"no display": {Width: 640, Height: 360, URL: "http://127.0.0.1/"},
		"no size":    {Display: ":99", URL: "http://127.0.0.1/"},
		"no URL":     {Display: ":99", Width: 640, Height: 360},
	} {
		if b, err := Launch(context.Background(), o); err == nil {
			b.Close()
			t.Errorf("%s: Launch succeeded", name)
		}
	}
	saved := execCandidates
	execCandidates = []string{"/nonexistent/chromium", "roomcast-no-such-chromium"}
	defer func() { execCandidates = saved }()
	_, err := Launch(context.Background(), Options{Display: ":99", Width: 640, Height: 360, URL: "http://127.0.0.1/"})
	if err == nil || err.Error() != "chromium not found: run make deps" {
		t.Errorf("Launch without chromium: %v", err)
	}
}

// TestLoopbackOnly: by default the page reaches loopback (by address and by
// the name localhost) and nothing else; AllowHosts "*" lifts that.
func TestLoopbackOnly(t *testing.T) {
	need(t)
	ip := nonLoopbackIPv4()
	if ip == "" {
		t.Skip("no non-loopback IPv4 address on this machine to try")
	}
	// A server on every address, reached through this machine's own
	// non-loopback address: it answers, unless Chromium is kept off it.
	ln, err := net.Listen("tcp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	other := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hi")
	})}}
	other.Start()
	t.Cleanup(other.Close)
	port := ln.Addr().(*net.TCPAddr).Port

	page := fmt.Sprintf(`<!doctype html><html><body><script>
const urls = ["http://localhost:%d/", "http://%s:%d/"];
Promise.allSettled(urls.map(u => fetch(u, {mode: "no-cors"}))).then(rs =>
  console.log("FETCH " + rs.map(r => r.status).join(" ")));
console.log("START_RECORDING");
</script></body></html>`, port, ip, port)
	s := screen(t, 320, 240)
	srv := serve(t, page)

	for _, c := range []struct {
		allow []string
		want  string
	}{
		{nil, "FETCH fulfilled rejected"},
		{[]string{"*"}, "FETCH fulfilled fulfilled"},
	} {
		t.Run(fmt.Sprintf("allow=%v", c.allow), func(t *testing.T) {
			l := newLogs(t)
			launch(t, s, srv.URL, l, func(o *Options) { o.AllowHosts = c.allow })
			if got := l.waitFor("FETCH ", 20*time.Second); !strings.HasSuffix(got, c.want) {
				t.Errorf("localhost, then %s: %q, want %q", ip, got, c.want)
			}
		})
	}
}

func nonLoopbackIPv4() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}

// TestAudioReachesTheSink plays a 523 Hz WebAudio oscillator in a page
// whose Chromium has a sink's Env, and finds the tone on that sink's monitor
// and not on another sink's.
func TestAudioReachesTheSink(t *testing.T) {
	need(t)
	proctest.Need(t, "pactl", "parec")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srvA := pulseServer(ctx, t)
	k := pulseSink(ctx, t, srvA, "browser-test")
	other := pulseSink(ctx, t, srvA, "browser-test-other")

	rec := audiotest.Record(t, srvA.Address(), k.Monitor())
	recOther := audiotest.Record(t, srvA.Address(), other.Monitor())
	rec.WaitFor(50 * time.Millisecond)
	recOther.WaitFor(50 * time.Millisecond)

	s := screen(t, 320, 240)
	srv := serve(t, `<!doctype html><html><body><script>
const ac = new AudioContext();
const osc = new OscillatorNode(ac, {frequency: 523});
const gain = new GainNode(ac, {gain: 0.5});
osc.connect(gain).connect(ac.destination);
osc.start();
const check = () => ac.state === "running" ? console.log("START_RECORDING") : setTimeout(check, 20);
check();
</script></body></html>`)
	l := newLogs(t)
	b := launch(t, s, srv.URL, l, func(o *Options) { o.Env = k.Env() })
	if err := b.WaitStarted(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	rec.WaitFor(1500 * time.Millisecond)
	recOther.WaitFor(100 * time.Millisecond)

	var tone int
	var level float64
	blocks := audiotest.Blocks(rec.Samples(), 100*time.Millisecond)
	for _, blk := range blocks {
		at, off := mediatest.ToneLevel(blk, audiotest.Rate, 523), mediatest.ToneLevel(blk, audiotest.Rate, 440)
		if at > 0.2 && off < 0.02 {
			tone++
			level += at
		}
	}
	t.Logf("523 Hz on %s in %d of %d blocks of 100 ms, mean level %.3f (played at 0.5)", k.Monitor(), tone, len(blocks), level/float64(max(tone, 1)))
	if tone < 10 {
		t.Errorf("523 Hz in %d blocks of 100 ms on %s, want at least 10 (the last 1.5 s)", tone, k.Monitor())
	}
	if p := audiotest.Peak(recOther.Samples()); p > 0.001 {
		t.Errorf("the other sink %s peaks at %.4f, want silence", other.Monitor(), p)
	}
}

// TestOffscreenThenRevealed: an Offscreen browser's page runs (it signals
// START_RECORDING) without showing on the screen; Reveal puts it there.
func TestOffscreenThenRevealed(t *testing.T) {
	need(t)
	s := screen(t, 320, 240)
	srv := serve(t, `<!doctype html><html><body style="margin:0;background:#ff00ff">
<script>console.log("START_RECORDING")</script></body></html>`)
	l := newLogs(t)
	b := launch(t, s, srv.URL, l, func(o *Options) { o.Offscreen = true })
	if err := b.WaitStarted(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	magenta := color.RGBA{255, 0, 255, 255}
	img, err := mediatest.Grab(s.Name(), 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	if mediatest.Contains(img, magenta, 10, 4) {
		t.Fatal("an Offscreen page shows on the screen")
	}
	if err := b.Reveal(context.Background()); err != nil {
		t.Fatal(err)
	}
	var last color.Color
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if img, err = mediatest.Grab(s.Name(), 320, 240); err != nil {
			t.Fatal(err)
		}
		last = img.At(160, 120)
		if mediatest.Near(img.At(0, 0), magenta, 10) && mediatest.Near(img.At(319, 239), magenta, 10) {
			return
		}
	}
	t.Errorf("after Reveal the screen is %v in the middle, want the page's %v edge to edge", last, magenta)
}

// TestIdleThenWoken: an Idle browser runs every thread of every process
// under SCHED_IDLE (all but the real-time audio thread Chromium may make),
// and Wake moves them all to the normal policy.
func TestIdleThenWoken(t *testing.T) {
	need(t)
	if !CanWake() {
		t.Skip("this process may not wake an idle browser (not root, RLIMIT_NICE below 20)")
	}
	s := screen(t, 320, 240)
	srv := serve(t, `<!doctype html><html><body><script>console.log("START_RECORDING")</script></body></html>`)
	b := launch(t, s, srv.URL, newLogs(t), func(o *Options) { o.Idle = true })
	if err := b.WaitStarted(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	checkPolicy(t, b, unix.SCHED_IDLE)
	if err := b.Wake(); err != nil {
		t.Fatal(err)
	}
	checkPolicy(t, b, unix.SCHED_NORMAL)
}

// checkPolicy wants every thread of b's processes under policy want,
// but for real-time ones.
func checkPolicy(t *testing.T, b *Browser, want uint32) {
	t.Helper()
	pids := chromiumProcesses(b.pgid, b.dataDir)
	n := 0
	for _, pid := range pids {
		for _, tid := range threads(pid) {
			attr, err := unix.SchedGetAttr(tid, 0)
			if err != nil {
				continue // the thread ended
			}
			if attr.Policy == unix.SCHED_FIFO || attr.Policy == unix.SCHED_RR {
				continue
			}
			if attr.Policy != want {
				t.Errorf("chromium thread %d (process %d): policy %d, want %d", tid, pid, attr.Policy, want)
			}
			n++
		}
	}
	if len(pids) < 3 || n < 10 {
		t.Fatalf("%d processes, %d threads: want Chromium's", len(pids), n)
	}
	t.Logf("%d processes, %d threads under policy %d", len(pids), n, want)
}

// TestSoundThreadRealtime: the thread where Chromium's audio service
// writes a page's sound to PulseAudio runs under SCHED_RR (keepSound); in
// an Idle browser, only once it is woken.
func TestSoundThreadRealtime(t *testing.T) {
	need(t)
	proctest.Need(t, "pactl")
	if os.Geteuid() != 0 {
		t.Skip("real-time scheduling is granted to root here")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	k := pulseSink(ctx, t, pulseServer(ctx, t), "browser-sound-thread")
	page := serve(t, `<!doctype html><html><body><script>
const ac = new AudioContext();
const osc = new OscillatorNode(ac, {frequency: 523});
osc.connect(ac.destination);
osc.start();
const check = () => ac.state === "running" ? console.log("START_RECORDING") : setTimeout(check, 20);
check();
</script></body></html>`)
	for _, idle := range []bool{false, true} {
		t.Run(fmt.Sprintf("idle=%v", idle), func(t *testing.T) {
			s := screen(t, 320, 240)
			b := launch(t, s, page.URL, newLogs(t), func(o *Options) { o.Env, o.Idle = k.Env(), idle })
			if err := b.WaitStarted(ctx, 20*time.Second); err != nil {
				t.Fatal(err)
			}
			if idle {
				waittest.Until(t, 5*time.Second, "the idle audio service's sound thread", func() bool {
					return len(soundThreads(b, unix.SCHED_IDLE)) > 0
				})
				time.Sleep(2 * soundCheckEvery) // what a keeper would take to act, were one running
				if n := len(soundThreads(b, unix.SCHED_RR)); n > 0 {
					t.Fatalf("%d sound threads of an idle browser real-time, want none before Wake", n)
				}
				if err := b.Wake(); err != nil {
					t.Fatal(err)
				}
			}
			waittest.Until(t, 5*time.Second, "the audio service's sound thread under SCHED_RR", func() bool {
				return len(soundThreads(b, unix.SCHED_RR)) > 0
			})
		})
	}
}

// soundThreads are the libpulse threads of b's audio service under policy.
func soundThreads(b *Browser, policy uint32) []int {
	var tids []int
	for _, tid := range namedThreads(b.findAudioService(), soundThread) {
		if attr, err := unix.SchedGetAttr(tid, 0); err == nil && attr.Policy == policy {
			tids = append(tids, tid)
		}
	}
	return tids
}

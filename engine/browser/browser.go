// Package browser runs the Chromium that renders a composite's layout page.
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"roomcast/engine/internal/leftovers"
)

// The console messages of the template contract, and Roomcast's own
// reports of the page's connection to LiveKit (see Options.OnConnection)
// and of people it cannot lip-sync (Options.OnUnsynced).
const (
	startSignal      = "START_RECORDING"
	endSignal        = "END_RECORDING"
	connectionSignal = "ROOMCAST_CONNECTION"
	unsyncedSignal   = "ROOMCAST_UNSYNCED"
)

// How long Close lets Chromium shut down by itself (Browser.close) before it
// kills what is left. It takes 50-300 ms.
const gracefulTimeout = 3 * time.Second

// How long Close keeps looking for Chromium's child processes after the main
// one exited. A child can fork just as its parent dies; chromedp found the
// same and looks for 2 s.
const leftoverTimeout = 3 * time.Second

// How long WaitStarted's diagnosis may take to read div.error.
const diagnoseTimeout = 2 * time.Second

// How many console errors a Browser keeps for WaitStarted's error.
const keptErrors = 3

var (
	errNotFound = errors.New("chromium not found: run make deps")
	errNoStart  = errors.New("the template never signalled " + startSignal)
	errClosed   = errors.New("the browser is closed")
)

// Options says what Launch starts.
type Options struct {
	// Display is the X display to show the window on, such as ":3" (see
	// display.Screen.Name). Only Chromium's environment gets it.
	Display string
	// Width and Height are the screen's size in pixels. The page's
	// viewport is exactly this size and fills the screen.
	Width, Height int
	// URL is the page to open. A query parameter named token (the LiveKit
	// access token) is never logged.
	URL string
	// Env is added to Chromium's environment, which holds nothing else of
	// ours but a few harmless variables (PATH, HOME, locale, XDG dirs) and
	// DISPLAY. For audio pass the composite's audio.Sink.Env():
	// PULSE_SERVER and PULSE_SINK.
	Env []string
	// UserDataDir is Chromium's profile directory. If empty, Launch makes
	// a temporary one and Close removes it.
	UserDataDir string
	// AllowHosts are the hosts the page may reach on the web besides
	// loopback (127.0.0.0/8, ::1, localhost): names, addresses, or
	// domains ("*.livekit.cloud", see SiteHosts). By default the page
	// reaches loopback only. "*" lifts the limit. WebRTC is not limited:
	// see guard.go.
	AllowHosts []string
	// Offscreen opens the window beside the screen, not on it, until
	// Reveal: a page that joins the room off the picture, to replace one
	// that died while the capture goes on.
	Offscreen bool
	// CAPEM holds CA certificates (PEM) the page trusts for TLS besides
	// the system's: a self-signed LiveKit deployment's (livekit.tls_ca).
	// They go into an NSS database of this browser's own (see trustCAs).
	CAPEM []byte
	// Idle runs every process and thread of Chromium under SCHED_IDLE
	// until Wake: a browser kept ready that takes no CPU from the others.
	Idle bool
	// ExecPath is the Chromium binary. If empty: /usr/lib/chromium/chromium,
	// then chromium, chromium-browser, google-chrome on PATH.
	ExecPath string
	// OnConnection, if set, gets the page's reports on its connection to
	// the LiveKit server: console.log("ROOMCAST_CONNECTION", state,
	// detail), state "reconnecting", "reconnected" or "lost" (Roomcast's
	// layouts send them; a custom template may). It runs on the console's
	// goroutine and must not block.
	OnConnection func(state, detail string)
	// OnUnsynced, if set, gets the identities of the people whose camera
	// and microphone the page receives in separate WebRTC streams, each
	// time they change: console.log("ROOMCAST_UNSYNCED", JSON list). A
	// browser lip-syncs only the tracks of one stream; a LiveKit server
	// puts them in one when it sets room.sync_streams. It runs on the
	// console's goroutine and must not block.
	OnUnsynced func(identities []string)
	// Logf gets the page's console lines and the browser's events, with
	// tokens redacted. Nil discards them.
	Logf func(format string, args ...any)
}

// Browser is one Chromium process showing one page in kiosk mode.
//
// The page talks back through its console, as LiveKit Egress templates do:
// console.log("START_RECORDING") once the room is on screen, and
// console.log("END_RECORDING") when the room is over. It shows its errors
// in div.error.
//
// Started, Ended and Done are channels that close once. Evaluate, Navigate
// and SetLayout may be called from any goroutine; they run one at a time.
type Browser struct {
	opts      Options
	dataDir   string
	removeDir bool
	output    *lineRing // Chromium's stdout and stderr, last lines but noise
	guard     *guard    // its way beyond loopback; nil with AllowHosts "*"

	allocCancel context.CancelFunc
	tabCtx      context.Context
	tabCancel   context.CancelFunc
	pid         int
	pgid        int

	callMu sync.Mutex // one chromedp action at a time on the tab

	mu     sync.Mutex
	pg     *pageSignals
	errs   []string // last console errors, oldest first
	err    error    // why the browser stopped, if not Close
	crash  chan string
	done   chan struct{}
	doneMu sync.Once

	closing   atomic.Bool
	closingCh chan struct{}
	closeOnce sync.Once
	closeErr  error
	soundOnce sync.Once      // keepSound
	wg        sync.WaitGroup // watcher, console reader and sound thread keeper
}

// pageSignals are the start and end signals of one page load.
type pageSignals struct {
	started, ended chan struct{}
	step           string // the last step of its start it logged
}

func newPageSignals() *pageSignals {
	return &pageSignals{started: make(chan struct{}), ended: make(chan struct{})}
}

// Launch starts Chromium on o.Display and opens o.URL. It returns once the
// navigation has begun: wait for the page with WaitStarted. ctx bounds the
// launch only; the browser runs until Close, or until it dies (Done).
//
// Chromium runs in a process group of its own and is killed if this process
// dies.
func Launch(ctx context.Context, o Options) (*Browser, error) {
	if o.Display == "" {
		return nil, errors.New("launch chromium: no display")
	}
	if o.Width <= 0 || o.Height <= 0 {
		return nil, fmt.Errorf("launch chromium: bad size %dx%d", o.Width, o.Height)
	}
	if _, err := url.Parse(o.URL); err != nil || o.URL == "" {
		return nil, fmt.Errorf("launch chromium: bad URL %q", Redact(o.URL))
	}
	path, err := findExec(o.ExecPath)
	if err != nil {
		return nil, err
	}
	chrt := ""
	if o.Idle {
		if chrt, err = exec.LookPath("chrt"); err != nil {
			return nil, fmt.Errorf("launch chromium idle: %w (chrt is in util-linux)", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("launch chromium: %w", err)
	}

	b := &Browser{
		opts:      o,
		dataDir:   o.UserDataDir,
		output:    &lineRing{max: 8},
		pg:        newPageSignals(),
		crash:     make(chan string, 1),
		done:      make(chan struct{}),
		closingCh: make(chan struct{}),
	}
	if b.dataDir == "" {
		leftovers.RemoveOnce(profilePrefix, o.Logf) // a few hundred KB to MB each
		dir, err := os.MkdirTemp("", profilePrefix)
		if err != nil {
			return nil, fmt.Errorf("launch chromium: %w", err)
		}
		b.dataDir, b.removeDir = dir, true
	} else if b.dataDir, err = filepath.Abs(b.dataDir); err != nil {
		return nil, fmt.Errorf("launch chromium: %w", err)
	}

	if len(o.CAPEM) > 0 {
		home, err := trustCAs(b.dataDir, o.CAPEM)
		if err != nil {
			if b.removeDir {
				_ = removeAll(b.dataDir)
			}
			return nil, err
		}
		o.Env = append(o.Env, "HOME="+home)
	}
	proxy := ""
	if !slices.Contains(o.AllowHosts, "*") {
		if b.guard, err = startGuard(o.AllowHosts, b.logf); err != nil {
			if b.removeDir {
				_ = removeAll(b.dataDir)
			}
			return nil, err
		}
		proxy = b.guard.URL()
	}
	allocOpts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.NoInheritEnv,
		chromedp.Env(environment(o, b.dataDir)...),
		chromedp.CombinedOutput(b.output),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// Its own process group, so Close finds every child; and
			// killed with us. chromedp starts it from a goroutine locked
			// to its thread until it exits, as Pdeathsig needs.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			if o.Idle {
				idled(cmd, chrt)
			}
		}),
	}, flags(o, b.dataDir, proxy)...)
	var allocCtx context.Context
	allocCtx, b.allocCancel = chromedp.NewExecAllocator(context.Background(), allocOpts...)
	b.tabCtx, b.tabCancel = chromedp.NewContext(allocCtx,
		chromedp.WithListener(b.onEvent),
		chromedp.WithLogf(func(f string, a ...any) { b.logf("chromedp: "+f, a...) }),
		chromedp.WithErrorf(func(f string, a ...any) { b.logf("chromedp error: "+f, a...) }),
	)

	// The first action binds the browser's life to tabCtx, so it must run
	// on tabCtx itself; ctx can only abort it, through tabCtx's parent.
	stop := context.AfterFunc(ctx, b.allocCancel)
	err = b.start()
	if !stop() {
		err = fmt.Errorf("launch chromium: %w", ctx.Err())
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	b.wg.Add(1)
	go b.watch()
	if !o.Idle {
		b.keepSound()
	}
	return b, nil
}

// start runs Chromium, pins the viewport, subscribes to the console and
// begins the navigation.
func (b *Browser) start() error {
	t0 := time.Now()
	if err := chromedp.Do(b.tabCtx); err != nil {
		if strings.HasPrefix(err.Error(), "chrome failed to start") {
			// chromedp's error is Chromium's whole output; ours is filtered.
			return fmt.Errorf("launch chromium: it exited at start (output: %s)", b.output)
		}
		return fmt.Errorf("launch chromium: %w (output: %s)", err, b.output)
	}
	up := time.Since(t0)
	c := chromedp.FromContext(b.tabCtx)
	if p := c.Browser.Process(); p != nil {
		b.pid = p.Pid
		b.pgid = p.Pid // Setpgid: the group is named after its leader
	}
	messages := chromedp.Console(b.tabCtx)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			b.onConsole(m)
		}
	}()
	if err := chromedp.Do(b.tabCtx, chromedp.EmulateViewport(int64(b.opts.Width), int64(b.opts.Height))); err != nil {
		return fmt.Errorf("launch chromium: pin the viewport to %dx%d: %w", b.opts.Width, b.opts.Height, err)
	}
	if err := chromedp.Do(b.tabCtx, navigate(b.opts.URL)); err != nil {
		return fmt.Errorf("launch chromium: open %s: %w", Redact(b.opts.URL), err)
	}
	b.logf("chromium (pid %d) on %s: up after %v, navigation begun after %v: %s",
		b.pid, b.opts.Display, up.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), b.opts.URL)
	return nil
}

// navigate sends Page.navigate and returns without waiting for the load:
// the page says when it is ready (START_RECORDING), and a page that loads
// for long (a big bundle, a slow server) is not an error.
func navigate(u string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, page.Navigate, page.NavigateParams{URL: u})
		if err != nil {
			return err
		}
		if res.ErrorText != "" {
			return errors.New(res.ErrorText)
		}
		return nil
	})
}

// onEvent runs in chromedp's loop for the tab: it must not block or call
// chromedp.
func (b *Browser) onEvent(ev any) {
	var why string
	switch ev := ev.(type) {
	case *inspector.EventTargetCrashed:
		why = "the page crashed (renderer process gone)"
	case *inspector.EventDetached:
		why = "DevTools was detached from the page: " + ev.Reason
	default:
		return
	}
	select {
	case b.crash <- why:
	default:
	}
}

// onConsole logs a console message and acts on the template's signals.
func (b *Browser) onConsole(m chromedp.ConsoleMessage) {
	where := ""
	if m.URL != "" && (m.Type == chromedp.ConsoleError || m.IsException()) {
		where = fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
	}
	b.logf("console.%s: %s%s", m.Type, m.Text, where)

	switch {
	case strings.HasSuffix(m.URL, "/favicon.ico"):
		// The browser's own request for an icon; not the template's error.
	case m.Type == chromedp.ConsoleError || m.IsException():
		b.mu.Lock()
		b.errs = append(b.errs, Redact(m.Text+where))
		if len(b.errs) > keptErrors {
			b.errs = b.errs[len(b.errs)-keptErrors:]
		}
		b.mu.Unlock()
	case len(m.Args) > 1 && argString(m.Args[0]) == connectionSignal:
		if b.opts.OnConnection != nil {
			detail := ""
			if len(m.Args) > 2 {
				detail = argString(m.Args[2])
			}
			b.opts.OnConnection(argString(m.Args[1]), detail)
		}
	case len(m.Args) > 1 && argString(m.Args[0]) == unsyncedSignal:
		var identities []string
		if err := json.Unmarshal([]byte(argString(m.Args[1])), &identities); err != nil {
			b.logf("%s: not a JSON list of identities: %v", unsyncedSignal, err)
		} else if b.opts.OnUnsynced != nil {
			b.opts.OnUnsynced(identities)
		}
	case hasArg(m, startSignal):
		b.mu.Lock()
		closeOnce(b.pg.started)
		b.mu.Unlock()
	case hasArg(m, endSignal):
		b.mu.Lock()
		closeOnce(b.pg.ended)
		b.mu.Unlock()
	default:
		if step, ok := startStep(m.Text); ok {
			b.mu.Lock()
			b.pg.step = step
			b.mu.Unlock()
		}
	}
}

// hasArg reports whether one of the arguments of a console API call is the
// string s, as LiveKit Egress matches its signals.
func hasArg(m chromedp.ConsoleMessage, s string) bool {
	for _, a := range m.Args {
		if argString(a) == s {
			return true
		}
	}
	return false
}

// argString is a console argument's value if it is a string, else "".
func argString(a *runtime.RemoteObject) string {
	var v string
	if a.Type == runtime.RemoteObjectTypeString && json.Unmarshal([]byte(a.Value), &v) == nil {
		return v
	}
	return ""
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// watch waits for the browser to stop and records why.
func (b *Browser) watch() {
	defer b.wg.Done()
	detached, err := chromedp.Detached(b.tabCtx)
	if err != nil {
		detached = nil // no target: tabCtx is done, below
	}
	var why error
	select {
	case <-b.closingCh:
	case <-b.tabCtx.Done():
		if !b.closing.Load() {
			why = b.exitError()
		}
	case <-detached:
		if !b.closing.Load() {
			why = errors.New("chromium: the page went away (its target was detached)")
		}
	case s := <-b.crash:
		if !b.closing.Load() {
			why = errors.New("chromium: " + s)
		}
	}
	b.finish(why)
}

// exitError explains a browser that stopped without Close: chromedp adds
// the process's exit status to the error of a call after it died.
func (b *Browser) exitError() error {
	err := chromedp.Do(b.tabCtx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		return ctx.Err()
	}))
	var ee *exec.ExitError
	status := "its DevTools connection closed"
	if errors.As(err, &ee) {
		status = ee.String()
	}
	return fmt.Errorf("chromium exited unexpectedly (%s); last output: %s", status, b.output)
}

// finish records why the browser stopped and closes Done, once.
func (b *Browser) finish(why error) {
	b.doneMu.Do(func() {
		b.mu.Lock()
		b.err = why
		b.mu.Unlock()
		if why != nil {
			b.logf("%v", why)
		}
		close(b.done)
	})
}

// Started is closed when the current page logs START_RECORDING.
func (b *Browser) Started() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pg.started
}

// Ended is closed when the current page logs END_RECORDING.
func (b *Browser) Ended() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pg.ended
}

// Done is closed when the browser stops: Chromium exited, its page crashed
// or went away, or Close was called. Err says which.
func (b *Browser) Done() <-chan struct{} { return b.done }

// Err says why the browser stopped: nil while it runs and after Close,
// otherwise what happened (exit status, crash) and Chromium's last output.
func (b *Browser) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Pid is the process id of Chromium's main process, which leads its
// process group.
func (b *Browser) Pid() int { return b.pid }

// WaitStarted waits up to timeout for the current page to log
// START_RECORDING. If it does not, the error says so and carries the last
// console errors and the text of the page's div.error, which is where the
// templates show what went wrong.
func (b *Browser) WaitStarted(ctx context.Context, timeout time.Duration) error {
	started, ended := b.Started(), b.Ended()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	when := fmt.Sprintf("within %v", timeout)
	select {
	case <-started:
		return nil
	case <-b.done:
		if err := b.Err(); err != nil {
			return fmt.Errorf("%w: %w", errNoStart, err)
		}
		return fmt.Errorf("%w: %w", errNoStart, errClosed)
	case <-ctx.Done():
		return ctx.Err()
	case <-ended:
		// The room was over, or the page could not join it (ours ends
		// after showing why): no use waiting for the timeout.
		when = "and signalled " + endSignal
	case <-timer.C:
	}

	b.mu.Lock()
	last := "none"
	if len(b.errs) > 0 {
		last = strings.Join(b.errs, " | ")
	}
	step := b.pg.step
	b.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, diagnoseTimeout)
	defer cancel()
	shown, err := b.evaluateString(dctx, `(() => { const e = document.querySelector("div.error"); return e ? e.textContent.trim() : ""; })()`)
	switch {
	case err != nil:
		shown = "(could not read: " + err.Error() + ")"
	case shown == "":
		shown = "(empty or absent)"
	default:
		shown = strconv.Quote(Redact(shown))
	}
	return fmt.Errorf("%w %s%s (last console error: %s; div.error: %s)", errNoStart, when, stepNote(step), last, shown)
}

// Evaluate runs js in the page and waits for it, and for the promise it
// returns, if any. An exception or a rejected promise is an error.
func (b *Browser) Evaluate(ctx context.Context, js string) error {
	return b.run(ctx, func(ctx context.Context) error {
		obj, err := chromedp.Run(ctx, chromedp.Evaluate[*runtime.RemoteObject](js, chromedp.EvalAwaitPromise))
		if err == nil && obj != nil && obj.ObjectID != "" {
			// Do not keep the result alive in the page.
			_, err = chromedp.Call(ctx, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: obj.ObjectID})
		}
		return err
	})
}

// SetLayout switches the template's layout in place:
// window.roomcastSetLayout(name).
func (b *Browser) SetLayout(ctx context.Context, name string) error {
	arg, _ := json.Marshal(name)
	if err := b.Evaluate(ctx, "window.roomcastSetLayout("+string(arg)+")"); err != nil {
		return fmt.Errorf("set layout %q: %w", name, err)
	}
	return nil
}

// Reveal moves an Offscreen window onto the screen, where the window of a
// browser that died was. A kiosk window is fullscreen, which ignores a
// move: it leaves fullscreen, moves, and goes back.
func (b *Browser) Reveal(ctx context.Context) error {
	return b.run(ctx, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			w, err := cdp.Call(ctx, t, cdpbrowser.GetWindowForTarget, cdpbrowser.GetWindowForTargetParams{})
			if err != nil {
				return fmt.Errorf("reveal the window: %w", err)
			}
			var zero int64
			for _, bounds := range []*cdpbrowser.Bounds{
				{WindowState: cdpbrowser.WindowStateNormal},
				{Left: &zero, Top: &zero},
				{WindowState: cdpbrowser.WindowStateFullscreen},
			} {
				if _, err := cdp.Call(ctx, t, cdpbrowser.SetWindowBounds, cdpbrowser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: bounds}); err != nil {
					return fmt.Errorf("reveal the window: %w", err)
				}
			}
			return nil
		}))
	})
}

// Navigate opens u in place of the current page. Started and Ended then
// belong to the new page.
func (b *Browser) Navigate(ctx context.Context, u string) error {
	return b.run(ctx, func(ctx context.Context) error {
		b.mu.Lock()
		b.pg = newPageSignals()
		b.errs = nil
		b.mu.Unlock()
		if err := chromedp.Do(ctx, navigate(u)); err != nil {
			return fmt.Errorf("open %s: %w", Redact(u), err)
		}
		return nil
	})
}

// PersonLevel is one person's sound as the page plays it, in dBFS (at
// least -100), and whether their microphone is on.
type PersonLevel struct {
	Identity string  `json:"identity"`
	Name     string  `json:"name"`
	MicOn    bool    `json:"micOn"`
	RMS      float64 `json:"rms"`
	Peak     float64 `json:"peak"`
}

// peopleLevelsJS asks the page for its meters; a template without them
// (window.roomcastLevels is Roomcast's own) gives null.
const peopleLevelsJS = `JSON.stringify(typeof window.roomcastLevels === 'function' ? window.roomcastLevels() : null)`

// PeopleLevels reads the page's meter of each person shown, in join
// order: nil when the template has none.
func (b *Browser) PeopleLevels(ctx context.Context) ([]PersonLevel, error) {
	s, err := b.evaluateString(ctx, peopleLevelsJS)
	if err != nil {
		return nil, fmt.Errorf("read the page's meters: %w", err)
	}
	var people []PersonLevel
	if err := json.Unmarshal([]byte(s), &people); err != nil {
		return nil, fmt.Errorf("the page's meters: %w", err)
	}
	return people, nil
}

// displayDelaysJS asks the page how late it shows each person's camera; a
// template that does not say (window.roomcastDisplayDelays is Roomcast's
// own) gives null.
const displayDelaysJS = `JSON.stringify(typeof window.roomcastDisplayDelays === 'function' ? window.roomcastDisplayDelays() : null)`

// DisplayDelays is how long after their frames arrive the page shows each
// person's camera, by identity: nil when the template does not say.
func (b *Browser) DisplayDelays(ctx context.Context) (map[string]time.Duration, error) {
	s, err := b.evaluateString(ctx, displayDelaysJS)
	if err != nil {
		return nil, fmt.Errorf("read the page's display delays: %w", err)
	}
	var ms map[string]float64
	if err := json.Unmarshal([]byte(s), &ms); err != nil {
		return nil, fmt.Errorf("the page's display delays: %w", err)
	}
	if ms == nil {
		return nil, nil
	}
	out := make(map[string]time.Duration, len(ms))
	for identity, d := range ms {
		out[identity] = time.Duration(d * float64(time.Millisecond))
	}
	return out, nil
}

func (b *Browser) evaluateString(ctx context.Context, js string) (string, error) {
	var s string
	err := b.run(ctx, func(ctx context.Context) (err error) {
		s, err = chromedp.Run(ctx, chromedp.Evaluate[string](js))
		return err
	})
	return s, err
}

// run runs f on the tab, one at a time, with a context that carries the
// tab and ends with ctx.
func (b *Browser) run(ctx context.Context, f func(context.Context) error) error {
	b.callMu.Lock()
	defer b.callMu.Unlock()
	select {
	case <-b.done:
		if err := b.Err(); err != nil {
			return err
		}
		return errClosed
	default:
	}
	tctx, cancel := context.WithCancelCause(b.tabCtx)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	defer stop()
	if err := f(tctx); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	return nil
}

// Close shuts Chromium down: it asks the browser to close, kills what is
// left of its process group and of any process using its profile, and
// removes the temporary profile. No Chromium process is left when it
// returns. Close is safe to call more than once and from several
// goroutines; later calls return the first call's result.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		b.closing.Store(true)
		close(b.closingCh)

		if c := chromedp.FromContext(b.tabCtx); c != nil && c.Browser != nil && b.tabCtx.Err() == nil {
			gctx, cancel := context.WithTimeout(b.tabCtx, gracefulTimeout)
			if err := chromedp.Cancel(gctx); err != nil && !errors.Is(err, context.Canceled) {
				b.logf("chromium did not close by itself: %v", err)
			}
			cancel()
		}
		b.tabCancel()
		b.allocCancel() // kills the main process if it still runs, and waits for it
		b.killLeftovers()
		if b.guard != nil {
			b.guard.Close()
		}
		b.finish(nil)
		b.wg.Wait()
		if b.removeDir {
			if err := removeAll(b.dataDir); err != nil {
				b.closeErr = fmt.Errorf("close chromium: remove its profile: %w", err)
			}
		}
	})
	return b.closeErr
}

// profilePrefix names the temporary profiles Launch makes.
const profilePrefix = "roomcast-chromium-"

// killLeftovers kills the processes of Chromium's group and those that use
// its profile directory, until none is seen for three passes in a row.
func (b *Browser) killLeftovers() {
	deadline := time.Now().Add(leftoverTimeout)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		pids := chromiumProcesses(b.pgid, b.dataDir)
		if len(pids) == 0 {
			quiet++
			continue
		}
		quiet = 0
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// chromiumProcesses lists the live processes in process group pgid (0: none)
// or with --user-data-dir=dir on their command line.
func chromiumProcesses(pgid int, dir string) []int {
	entries, _ := os.ReadDir("/proc")
	want := "--user-data-dir=" + dir
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses: state,
		// ppid, pgrp, ...
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); pgid > 0 && g == pgid {
			pids = append(pids, pid)
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		for arg := range strings.SplitSeq(string(cmdline), "\x00") {
			if arg == want {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// removeAll removes dir, trying again for a while: a dying Chromium child
// can still write into it.
func removeAll(dir string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := os.RemoveAll(dir)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *Browser) logf(format string, args ...any) {
	if b.opts.Logf == nil {
		return
	}
	b.opts.Logf("%s", Redact(fmt.Sprintf(format, args...)))
}

// A token is a JWT (base64url and dots), maybe percent-encoded.
var tokenParam = regexp.MustCompile(`(?i)(token=)[A-Za-z0-9._~%+/=-]+`)

// Redact hides the values of token= parameters (the LiveKit access token of
// a template URL, access_token=...) in s.
func Redact(s string) string {
	return tokenParam.ReplaceAllString(s, "${1}REDACTED")
}

// chromiumNoise matches the lines Chromium prints on every run here and
// that say nothing about a failure: it tries the D-Bus session and system
// buses, which a composite has no use for (Chromium sets
// DBUS_SESSION_BUS_ADDRESS=disabled: itself when the variable is unset, so
// it never autolaunches a bus).
var chromiumNoise = regexp.MustCompile(`:ERROR:dbus/|Failed to connect to the bus`)

// lineRing keeps the last max lines written to it, but Chromium's noise.
type lineRing struct {
	mu      sync.Mutex
	lines   []string
	partial string
	max     int
}

func (r *lineRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.partial + string(p)
	parts := strings.Split(s, "\n")
	r.partial = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		if l = strings.TrimSpace(l); l != "" && !chromiumNoise.MatchString(l) {
			r.lines = append(r.lines, l)
		}
	}
	if over := len(r.lines) - r.max; over > 0 {
		r.lines = r.lines[over:]
	}
	return len(p), nil
}

func (r *lineRing) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	lines := r.lines
	if r.partial != "" {
		lines = append(lines[:len(lines):len(lines)], r.partial)
	}
	if len(lines) == 0 {
		return "(none)"
	}
	return Redact(strings.Join(lines, " | "))
}

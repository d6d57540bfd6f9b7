// Package composite runs one room view: a virtual screen, an audio sink, a
// browser showing the layout page in the room, and the capture pipeline
// whose tees (and shared encoders) every egress and preview on it taps.
package composite

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/utils/guid"

	"roomcast/engine/audio"
	"roomcast/engine/browser"
	"roomcast/engine/display"
	"roomcast/engine/pipeline"
	"roomcast/engine/reach"
	"roomcast/engine/request"
)

// previewWidth and previewFPS size the preview tap: enough to follow the
// room, at about 1 % of a core (a branch of videorate ! videoscale !
// appsink on the capture's tee).
const (
	previewWidth = 480
	previewFPS   = 10
)

// Composite is one running room view: a screen, an audio sink, a browser
// showing the layout, and the capture pipeline. It is started once and
// shared by every egress and preview with the same key.
type Composite struct {
	key    request.CompositeKey
	id     string // the recorder's identity in the room
	logf   func(string, ...any)
	screen *display.Screen
	sink   *audio.Sink
	cap    *pipeline.Capture

	pageOpts     browser.Options // how the page was launched, to relaunch it
	startTimeout time.Duration
	failures     []time.Time     // of the browser, in the last failureWindow
	spareOpts    browser.Options // how a spare is launched (spare.go)
	hasSpares    bool            // built-in layouts only
	spareWG      sync.WaitGroup  // the spare being started

	mu        sync.Mutex
	page      *browser.Browser // replaced when the browser is relaunched
	spare     *browser.Browser // ready to take over; nil if none
	previews  map[int]func(*image.RGBA)
	nextPrev  int
	incidents []Incident
	watchers  map[chan struct{}]struct{} // of incidents
	unsynced  []string                   // people the page cannot lip-sync

	ended     chan struct{} // closed when the room view ends (or fails)
	endErr    error         // nil for a normal end (END_RECORDING)
	closeOnce sync.Once
}

// Deps is what every composite of an engine shares.
type Deps struct {
	// LiveKitURL, APIKey and APISecret name the server whose room is shown.
	LiveKitURL, APIKey, APISecret string
	// Trust is whom TLS to the server trusts; it is checked before a
	// browser is started for it.
	Trust *reach.Trust
	// PageURL is a built-in layout's page for the server and token.
	PageURL func(layout, livekitURL, token string) string
	// Pulse returns the PulseAudio server the sinks are made on.
	Pulse func(context.Context) (*audio.Server, error)
	// StartTimeout is how long the page has to log START_RECORDING.
	StartTimeout time.Duration
	// RejoinWindow, if set, is how long a built-in layout tries to get
	// back into the room after losing the server (its rejoin_window_ms).
	RejoinWindow time.Duration
	Logf         func(string, ...any)
}

// Start brings a composite up: screen, sink, browser, the template's
// START_RECORDING, then capture. With a ready room view that fits the key
// (see Ready) it takes that over instead of the first three, and closes
// one that does not fit. On error, what was started is stopped again in
// reverse.
func Start(ctx context.Context, key request.CompositeKey, deps Deps, ready *Ready) (c *Composite, err error) {
	if ready != nil && !ready.Fits(key) {
		_ = ready.Close()
		ready = nil
	}
	c = &Composite{
		key:      key,
		id:       cmp.Or(key.Owner, guid.New(guid.EgressPrefix)),
		logf:     deps.Logf,
		previews: map[int]func(*image.RGBA){},
		watchers: map[chan struct{}]struct{}{},
		ended:    make(chan struct{}),
	}
	defer func() {
		if ready != nil {
			_ = ready.Close() // nothing once handed over
		}
		if err != nil {
			c.Close()
			c = nil
		}
	}()
	began := time.Now()
	// A server the page cannot reach fails here, in a few milliseconds,
	// saying why; in the page it would be a WebSocket error after the
	// start timeout.
	if err = deps.Trust.Check(ctx, deps.LiveKitURL); err != nil {
		return c, err
	}
	pulse, err := deps.Pulse(ctx)
	if err != nil {
		return c, err
	}
	var stopReading func()
	if ready != nil {
		c.screen, c.sink, stopReading, c.page = ready.handOver()
	} else {
		if c.screen, err = display.Start(ctx, key.Width, key.Height); err != nil {
			return c, err
		}
		if c.sink, err = pulse.NewSink(ctx, "roomcast"); err != nil {
			return c, err
		}
		// A reader joining a sink that plays stalls its player: the
		// capture takes over from this one.
		if stopReading, err = pipeline.ReadMonitor(pulse.Address(), c.sink.Monitor()); err != nil {
			return c, err
		}
	}
	defer stopReading() // the capture reads it from then on
	if err = setSlate(ctx, c.screen.Name(), key.Width, key.Height, strings.HasSuffix(key.Layout, "-light")); err != nil {
		return c, err
	}
	token, err := recorderToken(deps.APIKey, deps.APISecret, key.Room, c.id)
	if err != nil {
		return c, err
	}
	pageURL, allow, err := templateURL(key, deps, token)
	if err != nil {
		return c, err
	}
	c.pageOpts = browser.Options{
		Display:      c.screen.Name(),
		Width:        key.Width,
		Height:       key.Height,
		URL:          pageURL,
		Env:          c.sink.Env(),
		AllowHosts:   allow,
		CAPEM:        deps.Trust.CAPEM,
		OnConnection: c.onConnection,
		OnUnsynced:   c.onUnsynced,
		Logf:         func(f string, a ...any) { deps.Logf("composite %s: "+f, append([]any{key}, a...)...) },
	}
	c.startTimeout = deps.StartTimeout
	if ready != nil {
		deps.Logf("composite %s: takes over the ready page on %s", key, c.screen.Name())
		err = ready.join(ctx, c, deps.LiveKitURL, token, key.Layout)
	} else {
		c.page, err = browser.Launch(ctx, c.pageOpts)
	}
	if err != nil {
		return c, err
	}
	if err = c.page.WaitStarted(ctx, deps.StartTimeout); err != nil {
		return c, err
	}
	display := c.screen.Name()
	if key.AudioOnly {
		display = ""
	}
	c.cap, err = pipeline.NewCapture(pipeline.CaptureConfig{
		Display: display, Width: key.Width, Height: key.Height, FPS: key.FPS,
		PulseServer: pulse.Address(), PulseDevice: c.sink.Monitor(),
		Preview: &pipeline.PreviewConfig{Width: previewWidth, FPS: previewFPS, OnFrame: c.fanOutPreview},
		Logf:    deps.Logf,
	})
	if err != nil {
		return c, err
	}
	deps.Logf("composite %s up in %v", key, time.Since(began).Round(time.Millisecond))
	c.spareOpts, c.hasSpares = spareOptions(c.pageOpts, key.CustomBaseURL != "")
	c.keepSpare()
	go c.watch()
	return c, nil
}

// templateURL builds the page URL with the contract's query parameters,
// and the hosts a custom template may reach.
func templateURL(key request.CompositeKey, deps Deps, token string) (string, []string, error) {
	if key.CustomBaseURL == "" {
		page := deps.PageURL(key.Layout, deps.LiveKitURL, token)
		if deps.RejoinWindow > 0 {
			page += fmt.Sprintf("&rejoin_window_ms=%d", deps.RejoinWindow.Milliseconds())
		}
		if deps.StartTimeout > 0 {
			page += fmt.Sprintf("&start_timeout_ms=%d", deps.StartTimeout.Milliseconds())
		}
		return page, livekitHosts(deps.LiveKitURL), nil
	}
	u, err := url.Parse(key.CustomBaseURL)
	if err != nil {
		return "", nil, fmt.Errorf("custom_base_url: %w", err)
	}
	q := u.Query()
	q.Set("url", deps.LiveKitURL)
	q.Set("token", token)
	q.Set("layout", key.Layout)
	u.RawQuery = q.Encode()
	return u.String(), append(livekitHosts(deps.LiveKitURL), u.Hostname()), nil
}

// livekitHosts lets the page reach the LiveKit server when it is not on
// loopback (loopback is always allowed), and its deployment's other hosts
// (regions, TURN).
func livekitHosts(livekitURL string) []string {
	if u, err := url.Parse(livekitURL); err == nil {
		return browser.SiteHosts(u.Hostname())
	}
	return nil
}

// recorderToken is LiveKit Egress's recorder grant: hidden, subscribe-only.
func recorderToken(key, secret, room, identity string) (string, error) {
	no, yes := false, true
	tok := auth.NewAccessToken(key, secret).
		SetIdentity(identity).
		SetValidFor(24 * time.Hour).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin: true, Room: room, Hidden: true, Recorder: true,
			CanSubscribe: &yes, CanPublish: &no, CanPublishData: &no,
		})
	jwt, err := tok.ToJWT()
	if err != nil {
		return "", fmt.Errorf("recorder token: %w", err)
	}
	return jwt, nil
}

// watch ends the composite when the page says the room is over, the
// screen dies, or capture fails; when the browser dies or its page hangs,
// it relaunches it (see relaunch) and goes on.
func (c *Composite) watch() {
	for {
		page := c.currentPage()
		stopBeat := make(chan struct{})
		hung := heartbeat(page, stopBeat)
		var err error
		relaunch := false // the browser died or hung: a new one can take over
		select {
		case <-page.Ended():
			c.logf("composite %s: the template signalled END_RECORDING", c.key)
		case <-page.Done():
			err, relaunch = fmt.Errorf("the browser stopped: %v", page.Err()), true
		case <-hung:
			err, relaunch = fmt.Errorf("the page stopped answering for %v (hung)", heartbeatTimeout), true
		case <-c.screen.Done():
			err = fmt.Errorf("the virtual screen stopped: %v", c.screen.Err())
		case e := <-c.cap.Failed():
			err = fmt.Errorf("capture failed: %w", e)
		case <-c.ended:
			close(stopBeat)
			return
		}
		close(stopBeat)
		if relaunch {
			if err = c.relaunch(err); err == nil {
				continue
			}
		}
		c.end(err)
		return
	}
}

func (c *Composite) currentPage() *browser.Browser {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.page
}

func (c *Composite) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.ended:
	default:
		c.endErr = err
		close(c.ended)
	}
}

// AddPreview registers a preview consumer; the returned func removes it.
// The capture makes preview frames only while there is one.
func (c *Composite) AddPreview(f func(*image.RGBA)) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextPrev
	c.nextPrev++
	c.previews[id] = f
	c.cap.ShowPreview(true)
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.previews, id)
		if len(c.previews) == 0 {
			c.cap.ShowPreview(false)
		}
	}
}

func (c *Composite) fanOutPreview(img *image.RGBA) {
	c.mu.Lock()
	fs := make([]func(*image.RGBA), 0, len(c.previews))
	for _, f := range c.previews {
		fs = append(fs, f)
	}
	c.mu.Unlock()
	for _, f := range fs {
		f(img)
	}
}

// Capture is the composite's pipeline, which outputs attach to.
func (c *Composite) Capture() *pipeline.Capture { return c.cap }

// SetLayout switches the page to another built-in layout.
func (c *Composite) SetLayout(ctx context.Context, layout string) error {
	return c.currentPage().SetLayout(ctx, layout)
}

// Ended is closed when the room view ends: the template signalled
// END_RECORDING, or a part of it failed (Err says which).
func (c *Composite) Ended() <-chan struct{} { return c.ended }

// Err is why the composite ended; nil for the room's end, or while it runs.
func (c *Composite) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endErr
}

// Stats are a composite's live figures.
type Stats struct {
	// GrabbedFrames counts frames grabbed from the screen; against
	// Running x the frame rate it gives the share of frames delivered.
	GrabbedFrames uint64
	// EncoderDroppedFrames counts grabbed frames the video encoders had
	// no time for (pipeline.Capture.EncoderDroppedFrames).
	EncoderDroppedFrames uint64
	Running              time.Duration
	// VideoEncoders and AudioEncoders count the encoder elements running:
	// one per distinct encoding, however many outputs share it.
	VideoEncoders, AudioEncoders int
	// Unsynced lists the people whose camera and microphone the page
	// cannot lip-sync (see browser.Options.OnUnsynced).
	Unsynced []string
}

// AudioLevel is the composite's newest meter reading.
func (c *Composite) AudioLevel() pipeline.AudioLevel { return c.cap.AudioLevel() }

// PeopleLevels reads the page's meter of each person it shows (nil for a
// template without meters).
func (c *Composite) PeopleLevels(ctx context.Context) ([]browser.PersonLevel, error) {
	return c.currentPage().PeopleLevels(ctx)
}

// DisplayDelays is how long after each person's camera frames arrive the
// composite's picture holds them, by identity (nil for a template that
// does not say): the page's delay to the screen, and half a frame for the
// screen grab, which takes a frame shown up to a frame after it shows.
func (c *Composite) DisplayDelays(ctx context.Context) (map[string]time.Duration, error) {
	delays, err := c.currentPage().DisplayDelays(ctx)
	if err != nil || delays == nil {
		return nil, err
	}
	half := time.Second / time.Duration(2*max(c.key.FPS, 1))
	for identity := range delays {
		delays[identity] += half
	}
	return delays, nil
}

// Stats reports the composite's figures now.
func (c *Composite) Stats() Stats {
	c.mu.Lock()
	unsynced := slices.Clone(c.unsynced)
	c.mu.Unlock()
	return Stats{
		GrabbedFrames:        c.cap.RawFrames(),
		EncoderDroppedFrames: c.cap.EncoderDroppedFrames(),
		Running:              c.cap.RunningTime(),
		VideoEncoders:        c.cap.Elements("x264enc"),
		AudioEncoders:        c.cap.Elements(pipeline.AACEncoder) + c.cap.Elements("opusenc"),
		Unsynced:             unsynced,
	}
}

// onUnsynced keeps the page's list of people it cannot lip-sync, and logs
// the cause and its fix when it grows.
func (c *Composite) onUnsynced(identities []string) {
	c.mu.Lock()
	before := c.unsynced
	c.unsynced = identities
	c.mu.Unlock()
	var added []string
	for _, id := range identities {
		if !slices.Contains(before, id) {
			added = append(added, id)
		}
	}
	if len(added) > 0 {
		c.logf("composite %s: the LiveKit server sends the camera and microphone of %s as separate streams, "+
			"which the browser cannot lip-sync: set room.sync_streams: true in the server's config", c.key, strings.Join(added, ", "))
	}
}

// Close tears down in reverse order of start. Outputs still attached are
// detached (their files finalised) by the capture's Close. Safe to call
// more than once.
func (c *Composite) Close() error {
	var errs []error
	c.closeOnce.Do(func() {
		c.end(nil)
		c.spareWG.Wait() // a spare being started stops at the end
		if spare := c.takeSpare(); spare != nil {
			errs = append(errs, spare.Close())
		}
		if c.cap != nil {
			errs = append(errs, c.cap.Close())
		}
		if page := c.currentPage(); page != nil {
			errs = append(errs, page.Close())
		}
		if c.sink != nil {
			errs = append(errs, c.sink.Close())
		}
		if c.screen != nil {
			errs = append(errs, c.screen.Close())
		}
	})
	return errors.Join(errs...)
}

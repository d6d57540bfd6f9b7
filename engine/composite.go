package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/url"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"

	"roomcast/engine/audio"
	"roomcast/engine/browser"
	"roomcast/engine/display"
	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// compositeKey adds to request.CompositeKey whether the screen is captured:
// an audio-only composite records no video and cannot serve a video egress.
type compositeKey struct {
	request.CompositeKey
	audioOnly bool
}

// composite is one running room view: a screen, an audio sink, a browser
// showing the layout, and the capture pipeline. It is started once and
// shared by every egress and preview with the same key.
type composite struct {
	key    compositeKey
	id     string // the recorder's identity in the room
	logf   func(string, ...any)
	screen *display.Screen
	sink   *audio.Sink
	page   *browser.Browser
	cap    *pipeline.Capture

	mu       sync.Mutex
	previews map[int]func(*image.RGBA)
	nextPrev int

	ended     chan struct{} // closed when the room view ends (or fails)
	endErr    error         // nil for a normal end (END_RECORDING)
	closeOnce sync.Once
}

// compositeDeps is what every composite of an engine shares.
type compositeDeps struct {
	livekitURL, apiKey, apiSecret string
	pageURL                       func(layout, livekitURL, token string) string
	pulse                         func(context.Context) (*audio.Server, error)
	startTimeout                  time.Duration
	logf                          func(string, ...any)
}

// startComposite brings a composite up: screen, sink, browser, the
// template's START_RECORDING, then capture. On error, what was started is
// stopped again in reverse.
func startComposite(ctx context.Context, key compositeKey, deps compositeDeps) (c *composite, err error) {
	c = &composite{
		key:      key,
		id:       newEgressID(),
		logf:     deps.logf,
		previews: map[int]func(*image.RGBA){},
		ended:    make(chan struct{}),
	}
	defer func() {
		if err != nil {
			c.close()
			c = nil
		}
	}()
	began := time.Now()
	if c.screen, err = display.Start(ctx, key.Width, key.Height); err != nil {
		return c, err
	}
	pulse, err := deps.pulse(ctx)
	if err != nil {
		return c, err
	}
	if c.sink, err = pulse.NewSink(ctx, "roomcast"); err != nil {
		return c, err
	}
	token, err := recorderToken(deps.apiKey, deps.apiSecret, key.Room, c.id)
	if err != nil {
		return c, err
	}
	pageURL, allow, err := templateURL(key, deps, token)
	if err != nil {
		return c, err
	}
	c.page, err = browser.Launch(ctx, browser.Options{
		Display:    c.screen.Name(),
		Width:      key.Width,
		Height:     key.Height,
		URL:        pageURL,
		Env:        c.sink.Env(),
		AllowHosts: allow,
		Logf:       func(f string, a ...any) { deps.logf("composite %s: "+f, append([]any{key}, a...)...) },
	})
	if err != nil {
		return c, err
	}
	if err = c.page.WaitStarted(ctx, deps.startTimeout); err != nil {
		return c, err
	}
	display := c.screen.Name()
	if key.audioOnly {
		display = ""
	}
	c.cap, err = pipeline.NewCapture(pipeline.CaptureConfig{
		Display: display, Width: key.Width, Height: key.Height, FPS: key.FPS,
		PulseServer: pulse.Address(), PulseDevice: c.sink.Monitor(),
		Preview: &pipeline.PreviewConfig{Width: 480, FPS: 10, OnFrame: c.fanOutPreview},
		Logf:    deps.logf,
	})
	if err != nil {
		return c, err
	}
	deps.logf("composite %s up in %v", key, time.Since(began).Round(time.Millisecond))
	go c.watch()
	return c, nil
}

// templateURL builds the page URL with the contract's query parameters,
// and the hosts a custom template may reach.
func templateURL(key compositeKey, deps compositeDeps, token string) (string, []string, error) {
	if key.CustomBaseURL == "" {
		return deps.pageURL(key.Layout, deps.livekitURL, token), livekitHosts(deps.livekitURL), nil
	}
	u, err := url.Parse(key.CustomBaseURL)
	if err != nil {
		return "", nil, fmt.Errorf("custom_base_url: %w", err)
	}
	q := u.Query()
	q.Set("url", deps.livekitURL)
	q.Set("token", token)
	q.Set("layout", key.Layout)
	u.RawQuery = q.Encode()
	return u.String(), append(livekitHosts(deps.livekitURL), u.Hostname()), nil
}

// livekitHosts lets the page reach the LiveKit server when it is not on
// loopback (loopback is always allowed).
func livekitHosts(livekitURL string) []string {
	if u, err := url.Parse(livekitURL); err == nil && u.Hostname() != "" {
		return []string{u.Hostname()}
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
// browser dies, the screen dies, or capture fails.
func (c *composite) watch() {
	var err error
	select {
	case <-c.page.Ended():
		c.logf("composite %s: the template signalled END_RECORDING", c.key)
	case <-c.page.Done():
		err = fmt.Errorf("the browser stopped: %v", c.page.Err())
	case <-c.screen.Done():
		err = fmt.Errorf("the virtual screen stopped: %v", c.screen.Err())
	case e := <-c.cap.Failed():
		err = fmt.Errorf("capture failed: %w", e)
	case <-c.ended:
		return
	}
	c.end(err)
}

func (c *composite) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.ended:
	default:
		c.endErr = err
		close(c.ended)
	}
}

// addPreview registers a preview consumer; the returned func removes it.
func (c *composite) addPreview(f func(*image.RGBA)) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextPrev
	c.nextPrev++
	c.previews[id] = f
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.previews, id)
	}
}

func (c *composite) fanOutPreview(img *image.RGBA) {
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

// close tears down in reverse order of start. Branches still attached are
// detached (their files finalised) by the capture's Close. Safe to call
// more than once.
func (c *composite) close() error {
	var errs []error
	c.closeOnce.Do(func() {
		c.end(nil)
		if c.cap != nil {
			errs = append(errs, c.cap.Close())
		}
		if c.page != nil {
			errs = append(errs, c.page.Close())
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

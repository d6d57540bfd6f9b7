package composite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"

	"roomcast/engine/audio"
	"roomcast/engine/browser"
	"roomcast/engine/display"
	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

/*
An engine keeps a room view ready before it is asked for one: a virtual
screen, an audio sink with a reader on its monitor, and Chromium with a
built-in layout's page loaded in standby, in no room. A composite of the
same size takes it over and only has to join the room: Chromium's start
and the page's load (1.8 s of a 3.9 s cold start on a 2-core box) are
paid before the request comes. A custom template, or another size, starts
cold.
*/

// readyLayout is the layout a ready page loads with; the one it is called
// in with replaces it before it joins.
const readyLayout = "grid"

// Ready is a room view kept ready for the next composite of its size.
type Ready struct {
	width, height int
	screen        *display.Screen
	sink          *audio.Sink
	stopReading   func()
	page          *browser.Browser
	idle          bool
	taken         bool // handed over: its parts are a composite's to close

	// owner is the composite its page joined the room for: the page's
	// reports (the connection's state, the unsynced people, its log
	// lines) go there.
	owner atomic.Pointer[Composite]
}

// StartReady brings up a room view of width x height for the next
// composite, its page loaded and waiting to be called in. With idle, its
// browser runs idle (see browser.Options.Idle) until taken, so that it
// takes no CPU from composites already running, and waits for its turn
// to start (idleTurn). It has deps.StartTimeout from its start.
func StartReady(ctx context.Context, width, height int, idle bool, deps Deps) (r *Ready, err error) {
	r = &Ready{width: width, height: height, idle: idle && browser.CanWake()}
	done, err := idleTurn(ctx, r.idle)
	if err != nil {
		return nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, deps.StartTimeout)
	defer cancel()
	defer func() {
		if err != nil {
			_ = r.Close()
			r = nil
		}
	}()
	if r.screen, err = display.Start(ctx, width, height); err != nil {
		return r, err
	}
	pulse, err := deps.Pulse(ctx)
	if err != nil {
		return r, err
	}
	if r.sink, err = pulse.NewSink(ctx, "roomcast"); err != nil {
		return r, err
	}
	// A reader joining a sink that plays stalls its player: the
	// composite's capture takes over from this one.
	if r.stopReading, err = pipeline.ReadMonitor(pulse.Address(), r.sink.Monitor()); err != nil {
		return r, err
	}
	page, _, err := templateURL(request.CompositeKey{Layout: readyLayout}, deps, "")
	if err != nil {
		return r, err
	}
	logf := func(f string, a ...any) { deps.Logf("ready page on "+r.screen.Name()+": "+f, a...) }
	r.page, err = browser.Launch(ctx, browser.Options{
		Display:    r.screen.Name(),
		Width:      width,
		Height:     height,
		URL:        standbyURL(page, standbyOwnSink),
		Env:        r.sink.Env(),
		AllowHosts: livekitHosts(deps.LiveKitURL),
		CAPEM:      deps.Trust.CAPEM,
		Idle:       r.idle,
		OnConnection: func(state, detail string) {
			if c := r.owner.Load(); c != nil {
				c.onConnection(state, detail)
			}
		},
		OnUnsynced: func(ids []string) {
			if c := r.owner.Load(); c != nil {
				c.onUnsynced(ids)
			}
		},
		Logf: func(f string, a ...any) {
			if c := r.owner.Load(); c != nil {
				c.pageOpts.Logf(f, a...)
				return
			}
			logf(f, a...)
		},
	})
	if err != nil {
		return r, err
	}
	return r, waitStandby(ctx, r.page)
}

// The standby parameter's values: a room view kept ready plays into a sink
// of its own; a composite's spare into the composite's, which is live.
const (
	standbyOwnSink = "1"
	standbySpare   = "spare"
)

// standbyURL is page's URL with the standby parameter set to mode:
// loaded, it waits to be called in (window.roomcastJoin). A spare's page
// warms up no audio output: opened in the live sink by a browser that
// runs idle, one cut holes of 0.1-0.3 s in the recording's sound.
func standbyURL(page, mode string) string {
	u, err := url.Parse(page)
	if err != nil {
		return page // a page URL of our own; Launch says what is wrong with it
	}
	q := u.Query()
	q.Set("standby", mode)
	u.RawQuery = q.Encode()
	return u.String()
}

// Fits reports whether a composite for key can take r over: a built-in
// layout of r's size.
func (r *Ready) Fits(key request.CompositeKey) bool {
	return key.CustomBaseURL == "" && key.Width == r.width && key.Height == r.height
}

// Alive reports whether r's screen and browser still run.
func (r *Ready) Alive() bool {
	select {
	case <-r.page.Done():
		return false
	case <-r.screen.Done():
		return false
	default:
		return true
	}
}

// handOver gives r's parts to a composite, which closes them from then on.
func (r *Ready) handOver() (*display.Screen, *audio.Sink, func(), *browser.Browser) {
	r.taken = true
	return r.screen, r.sink, r.stopReading, r.page
}

// join calls r's page into c's room: the LiveKit server at url, with
// token and layout. The page reports to c from then on.
func (r *Ready) join(ctx context.Context, c *Composite, url, token, layout string) error {
	r.owner.Store(c)
	if r.idle {
		if err := r.page.Wake(); err != nil {
			return err
		}
	}
	arg, err := json.Marshal(map[string]string{"url": url, "token": token, "layout": layout})
	if err != nil {
		return err
	}
	if err := r.page.Evaluate(ctx, "window.roomcastJoin("+string(arg)+")"); err != nil {
		return fmt.Errorf("the ready page did not take the call: %w", err)
	}
	return nil
}

// Close stops what r still owns; nothing once a composite took it over.
func (r *Ready) Close() error {
	if r.taken {
		return nil
	}
	var errs []error
	if r.page != nil {
		errs = append(errs, r.page.Close())
	}
	if r.stopReading != nil {
		r.stopReading()
	}
	if r.sink != nil {
		errs = append(errs, r.sink.Close())
	}
	if r.screen != nil {
		errs = append(errs, r.screen.Close())
	}
	return errors.Join(errs...)
}

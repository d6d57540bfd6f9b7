package composite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"roomcast/engine/browser"
)

/*
A composite of a built-in layout keeps a spare browser beside the screen:
started, its page loaded, not in the room (the page's standby parameter:
two pages with one identity would push each other out). When the browser
on the screen dies, the spare is called in, and the slate lasts its join
and its first frame, not Chromium's start and the page's load as well (a
cold relaunch took 3.7-6.8 s). A custom template has no such step in its
contract: its browser is relaunched cold. So is any when the spare is not
ready or dies too.
*/

// spareDelay: the spare starts this long after the composite is up, or
// after it took over: Chromium's start takes about a second of both cores,
// which a recording's first frames should not pay for.
const spareDelay = 3 * time.Second

// spareOptions is how a spare of the page pageOpts launched is launched;
// false for a custom template.
func spareOptions(pageOpts browser.Options, custom bool) (browser.Options, bool) {
	if custom {
		return browser.Options{}, false
	}
	opts := pageOpts
	opts.URL = standbyURL(pageOpts.URL, standbySpare)
	opts.Offscreen = true
	// Its start and its page's load take only what the composite leaves
	// (browser.Options.Idle), when it can be woken as it takes over. Run
	// like the composite, the start cost 3 % of the composite's frames
	// (96.9 % delivered over the 30 s around it); ready, the spare costs
	// nothing measurable.
	opts.Idle = browser.CanWake()
	return opts, true
}

// keepSpare starts a spare after spareDelay, unless the composite has no
// spares or ends first. A spare that fails to start is logged and not
// retried until the next relaunch.
func (c *Composite) keepSpare() {
	if !c.hasSpares {
		return
	}
	c.spareWG.Go(func() {
		select {
		case <-c.ended:
			return
		case <-time.After(spareDelay):
		}
		if c.relaunching() {
			return // two Chromiums starting at once take twice as long; the relaunch asks again
		}
		ctx, cancel := c.untilEnded(context.Background())
		defer cancel()
		done, err := idleTurn(ctx, c.spareOpts.Idle)
		if err != nil {
			return // the composite ended while another idle start ran
		}
		defer done()
		ctx, cancelStart := context.WithTimeout(ctx, c.startTimeout)
		defer cancelStart()
		began := time.Now()
		b, err := browser.Launch(ctx, c.spareOpts)
		if err == nil {
			if err = waitStandby(ctx, b); err != nil {
				_ = b.Close()
			}
		}
		if err != nil {
			if !c.isEnded() {
				c.logf("composite %s: no spare browser: %v", c.key, err)
			}
			return
		}
		c.mu.Lock()
		keep := !c.isEnded() && c.spare == nil
		if keep {
			c.spare = b
		}
		c.mu.Unlock()
		if !keep {
			_ = b.Close()
			return
		}
		c.logf("composite %s: a spare browser is ready (pid %d), %v after it was started", c.key, b.Pid(), time.Since(began).Round(time.Millisecond))
	})
}

// idleTurns lets one idle browser start at a time in the process: a
// composite's spare and a room view kept ready (or two composites'
// spares). One idle start beside a 1080p30 recording on two cores left
// its sound as whole as none did (3-9 dropouts of 10-75 ms in 24 s); two
// at once took 8-13 s each and cut 20-50 holes in it, some of 0.3-1.4 s,
// though neither got CPU from the recording (SCHED_IDLE).
var idleTurns = make(chan struct{}, 1)

// idleTurn waits for the turn to start an idle browser and returns its
// end; a browser started at full speed (idle false) needs no turn.
func idleTurn(ctx context.Context, idle bool) (done func(), err error) {
	if !idle {
		return func() {}, nil
	}
	select {
	case idleTurns <- struct{}{}:
		return func() { <-idleTurns }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// relaunching reports whether a browser that died is being replaced.
func (c *Composite) relaunching() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastingLocked(BrowserDied) != nil
}

// standbyReady throws until the page waits to be called in.
const standbyReady = `if (typeof window.roomcastJoin !== 'function') throw new Error('not in standby yet')`

// waitStandby returns once b's page waits to be called in.
func waitStandby(ctx context.Context, b *browser.Browser) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if b.Evaluate(ctx, standbyReady) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("its page never came to standby: %w", ctx.Err())
		case <-b.Done():
			return fmt.Errorf("it stopped: %v", b.Err())
		case <-tick.C:
		}
	}
}

// takeSpare hands over the spare if one is ready and alive, else nil.
func (c *Composite) takeSpare() *browser.Browser {
	c.mu.Lock()
	b := c.spare
	c.spare = nil
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	select {
	case <-b.Done():
		_ = b.Close()
		return nil
	default:
		return b
	}
}

// callSpare calls the spare into the room and onto the screen; nil (and
// no error) when there is none.
func (c *Composite) callSpare(ctx context.Context) (*browser.Browser, error) {
	b := c.takeSpare()
	if b == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.startTimeout) // a spare that hung
	defer cancel()
	var err error
	if c.spareOpts.Idle {
		err = b.Wake()
	}
	if err == nil {
		err = b.Evaluate(ctx, "window.roomcastJoin()")
	}
	if err == nil {
		err = b.WaitStarted(ctx, c.startTimeout)
	}
	if err == nil {
		err = b.Reveal(ctx)
	}
	if err != nil {
		_ = b.Close()
		return nil, errors.Join(errors.New("the spare browser failed"), err)
	}
	return b, nil
}

package composite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"roomcast/engine/browser"
)

// A browser that died is relaunched unless it failed this often (deaths
// and failed relaunches) within failureWindow: then the composite fails.
const (
	maxFailures   = 3
	failureWindow = 2 * time.Minute
)

// relaunch replaces a browser that died (why) while the capture goes on:
// the screen shows the slate (the root window, bare without the browser's
// window), and the capture, with nothing playing into the sink, silence,
// to every output and the preview alike; their timestamps run on. The
// spare (spare.go), or else a new browser whose window opens beside the
// screen, joins the room, and is moved onto the screen once its page
// signals START_RECORDING. It returns an error
// when the browser failed maxFailures times within failureWindow.
func (c *Composite) relaunch(why error) error {
	for {
		if c.isEnded() {
			return nil // closed meanwhile: nothing to relaunch for
		}
		now := time.Now()
		kept := c.failures[:0]
		for _, t := range c.failures {
			if now.Sub(t) < failureWindow {
				kept = append(kept, t)
			}
		}
		c.failures = append(kept, now)
		if len(c.failures) >= maxFailures {
			return fmt.Errorf("%s; the browser failed %d times within %v", shortReason(why), len(c.failures), failureWindow)
		}
		c.begin(BrowserDied, shortReason(why))
		c.logf("composite %s: %v; relaunching it", c.key, why)
		if old := c.currentPage(); old != nil {
			_ = old.Close() // what is left of it
		}
		page, how, err := c.replacement()
		if err != nil {
			why = fmt.Errorf("relaunching the browser: %w", err)
			continue
		}
		c.mu.Lock()
		closed := c.isEnded()
		if !closed {
			c.page = page
		}
		c.mu.Unlock()
		if closed {
			_ = page.Close()
			return nil
		}
		if gap, ok := c.over(BrowserDied, how); ok {
			c.logf("composite %s: %s is on the screen, %v after the last one died", c.key, how, gap.Round(time.Millisecond))
		}
		c.keepSpare()
		return nil
	}
}

// replacement is the browser that takes over from one that died: the
// spare, called in, or else a new one; how says which. Closing the
// composite aborts it.
func (c *Composite) replacement() (page *browser.Browser, how string, err error) {
	ctx, cancel := c.untilEnded(context.Background())
	defer cancel()
	page, err = c.callSpare(ctx)
	if page != nil {
		return page, "the spare browser", nil
	}
	if err != nil {
		c.logf("composite %s: %v; starting a new one", c.key, err)
	}
	page, err = c.launchHidden(ctx)
	return page, "a new browser", err
}

// launchHidden starts a browser off the screen, waits for its page's
// START_RECORDING and moves it onto the screen.
func (c *Composite) launchHidden(ctx context.Context) (*browser.Browser, error) {
	opts := c.pageOpts
	opts.Offscreen = true
	page, err := browser.Launch(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err = page.WaitStarted(ctx, c.startTimeout); err == nil {
		err = page.Reveal(ctx)
	}
	if err != nil {
		_ = page.Close()
		return nil, err
	}
	return page, nil
}

// untilEnded is a context of parent's that also ends when the composite
// does.
func (c *Composite) untilEnded(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-c.ended:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (c *Composite) isEnded() bool {
	select {
	case <-c.ended:
		return true
	default:
		return false
	}
}

// shortReason is why without the browser's last output lines.
func shortReason(why error) string {
	s, _, _ := strings.Cut(why.Error(), "; last output")
	return s
}

// The page's heartbeat: a trivial script every heartbeatEvery, which a
// page that runs answers in milliseconds. One not answered within
// heartbeatTimeout means the page is hung (a busy loop, a wedged
// renderer), and it is relaunched like a dead one. A still picture is no
// sign: the screen is captured whatever it shows.
const (
	heartbeatEvery   = time.Second
	heartbeatTimeout = 2 * time.Second
)

// heartbeat closes the channel it returns when page stops answering; it
// stops when stop is closed or the page is done.
func heartbeat(page *browser.Browser, stop <-chan struct{}) <-chan struct{} {
	hung := make(chan struct{})
	go func() {
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-page.Done():
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), heartbeatTimeout)
			err := page.Evaluate(ctx, "1")
			timedOut := ctx.Err() != nil
			cancel()
			if err != nil && timedOut {
				close(hung)
				return
			}
		}
	}()
	return hung
}

package composite

import (
	"fmt"
	"strings"
	"time"
)

// Incident is a stretch of a composite's life when something it is made
// of was gone and it went on: its page lost the LiveKit server (the
// screen shows the room as it was, then as it comes back), or its browser
// died and a new one was started (the screen shows the slate). Every
// egress on the composite reports it.
type Incident struct {
	Kind   IncidentKind
	At     time.Time     // when it began
	Why    string        // what happened, in the page's or the browser's words
	Gap    time.Duration // until it was over; 0 while it lasts
	Lasted bool          // it is over (Gap is set)
	How    string        // what took over, once over: "the spare browser", "a new browser"
}

// IncidentKind is what an Incident was about.
type IncidentKind int

// The kinds of incident.
const (
	LiveKitLost IncidentKind = iota // the page lost the LiveKit server
	BrowserDied                     // the browser died (crashed, hung) and was relaunched
)

// String is the incident for EgressInfo.details and the studio.
func (i Incident) String() string {
	at := i.At.UTC().Format("15:04:05")
	why := ""
	if i.Why != "" {
		why = " (" + i.Why + ")"
	}
	switch {
	case i.Kind == BrowserDied && !i.Lasted:
		return fmt.Sprintf("browser relaunching since %s%s", at, why)
	case i.Kind == BrowserDied:
		return fmt.Sprintf("browser died at %s, picture back after %.1f s from %s%s", at, i.Gap.Seconds(), i.How, why)
	case !i.Lasted:
		return fmt.Sprintf("reconnecting to LiveKit since %s%s", at, why)
	}
	return fmt.Sprintf("LiveKit connection lost at %s for %.1f s%s, reconnected", at, i.Gap.Seconds(), why)
}

// Incidents describes incidents, "" for none.
func Incidents(incidents []Incident) string {
	s := make([]string, len(incidents))
	for i, in := range incidents {
		s[i] = in.String()
	}
	return strings.Join(s, "; ")
}

// onConnection follows the page's reports on its connection to LiveKit
// (browser.Options.OnConnection).
func (c *Composite) onConnection(state, detail string) {
	switch state {
	case "reconnecting":
		if c.begin(LiveKitLost, detail) {
			c.logf("composite %s: lost the LiveKit server (%s); reconnecting", c.key, detail)
		}
	case "reconnected":
		if gap, ok := c.over(LiveKitLost, ""); ok {
			c.logf("composite %s: back in the room after %v", c.key, gap.Round(time.Millisecond))
		}
	case "lost":
		c.end(fmt.Errorf("lost the LiveKit server: %s", detail))
	}
}

// begin starts an incident of kind unless one lasts; it reports whether
// it did.
func (c *Composite) begin(kind IncidentKind, why string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastingLocked(kind) != nil {
		return false
	}
	c.incidents = append(c.incidents, Incident{Kind: kind, At: time.Now(), Why: why})
	c.notifyLocked()
	return true
}

// over ends the lasting incident of kind, if any, saying what took over
// ("" when nothing had to), and says how long it was.
func (c *Composite) over(kind IncidentKind, how string) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.lastingLocked(kind)
	if in == nil {
		return 0, false
	}
	in.Gap, in.Lasted, in.How = time.Since(in.At), true, how
	c.notifyLocked()
	return in.Gap, true
}

func (c *Composite) lastingLocked(kind IncidentKind) *Incident {
	for i := len(c.incidents) - 1; i >= 0; i-- {
		if in := &c.incidents[i]; in.Kind == kind && !in.Lasted {
			return in
		}
	}
	return nil
}

// IncidentsSince lists the incidents that lasted into or began after t.
func (c *Composite) IncidentsSince(t time.Time) []Incident {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Incident
	for _, in := range c.incidents {
		if !in.Lasted || !in.At.Add(in.Gap).Before(t) {
			out = append(out, in)
		}
	}
	return out
}

// WatchIncidents returns a channel poked (without blocking: it holds
// one) when an incident begins or ends, and a func that stops that.
func (c *Composite) WatchIncidents() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watchers[ch] = struct{}{}
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.watchers, ch)
	}
}

func (c *Composite) notifyLocked() {
	for ch := range c.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

package composite

import (
	"fmt"
	"strings"
	"time"
)

// Incident is a stretch of a composite's life when its page lost the
// LiveKit server: the recording goes on (the screen shows the room as it
// was, then as it comes back), and every egress on the composite reports
// it.
type Incident struct {
	At     time.Time     // when the page lost the server
	Why    string        // the page's word for it (a disconnect reason)
	Gap    time.Duration // until it was back; 0 while it lasts
	Lasted bool          // the page is back (Gap is set)
}

// String is the incident for EgressInfo.details and the studio.
func (i Incident) String() string {
	at := i.At.UTC().Format("15:04:05")
	why := ""
	if i.Why != "" {
		why = " (" + i.Why + ")"
	}
	if !i.Lasted {
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
		c.mu.Lock()
		if n := len(c.incidents); n == 0 || c.incidents[n-1].Lasted {
			c.incidents = append(c.incidents, Incident{At: time.Now(), Why: detail})
			c.logf("composite %s: lost the LiveKit server (%s); reconnecting", c.key, detail)
		}
		c.mu.Unlock()
	case "reconnected":
		c.mu.Lock()
		if n := len(c.incidents); n > 0 && !c.incidents[n-1].Lasted {
			in := &c.incidents[n-1]
			in.Gap, in.Lasted = time.Since(in.At), true
			c.logf("composite %s: back in the room after %v", c.key, in.Gap.Round(time.Millisecond))
		}
		c.mu.Unlock()
	case "lost":
		c.end(fmt.Errorf("lost the LiveKit server: %s", detail))
		return
	default:
		return
	}
	c.notifyIncident()
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

func (c *Composite) notifyIncident() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

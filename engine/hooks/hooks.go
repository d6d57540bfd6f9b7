// Package hooks posts LiveKit's egress webhooks, as livekit-server's
// IOInfoService does: egress_started when an egress is created (STARTING),
// egress_updated on each update while it is ACTIVE or ENDING, egress_ended
// at its final state. Each target URL has its own notifier (LiveKit's
// protocol/webhook), which signs every post with its API key and secret
// and keeps one queue per egress, so that one egress's events arrive in
// order. The API server posts to the server's URLs; the engine posts to a
// request's own.
package hooks

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/utils/guid"
	"github.com/livekit/protocol/webhook"
	"google.golang.org/protobuf/proto"
)

// Target is one receiver: its URL, the key that signs its posts, and the
// events it wants (Include: only these; Exclude: all but these; both
// empty: all), by their names ("egress_started").
type Target struct {
	URL               string
	APIKey, APISecret string
	Include, Exclude  []string
}

func (t Target) wants(event string) bool {
	if len(t.Include) > 0 && !slices.Contains(t.Include, event) {
		return false
	}
	return !slices.Contains(t.Exclude, event)
}

// Announcer turns EgressInfo updates into webhook posts to its targets.
type Announcer struct {
	targets   []Target
	notifiers []webhook.QueuedNotifier
	logf      func(string, ...any)

	mu   sync.Mutex
	seen map[string]*state
}

// state is what has been announced for one egress.
type state struct {
	started, ended bool
	last           livekit.EgressStatus
}

var statsOnce sync.Once

// New starts a notifier per target. Failed posts are logged (with the
// URL's scheme and host only: its path or query may hold a secret).
func New(targets []Target, logf func(string, ...any)) *Announcer {
	// The notifiers count what they send in Prometheus metrics that must
	// exist first (livekit-server does this at boot); once per process.
	statsOnce.Do(func() { webhook.InitWebhookStats(nil) })
	a := &Announcer{targets: targets, logf: logf, seen: map[string]*state{}}
	for _, t := range targets {
		n := webhook.NewResourceURLNotifier(webhook.ResourceURLNotifierParams{
			URL:       t.URL,
			Logger:    logger.GetDiscardLogger(), // failures are reported below
			APIKey:    t.APIKey,
			APISecret: t.APISecret,
		})
		shown := RedactURL(t.URL)
		n.RegisterProcessedHook(func(_ context.Context, whi *livekit.WebhookInfo) {
			switch {
			case whi.IsDropped:
				logf("webhook %s for %s to %s: dropped (the receiver is too far behind)", whi.Event, whi.EgressId, shown)
			case whi.SendError != "":
				logf("webhook %s for %s to %s: %s", whi.Event, whi.EgressId, shown, whi.SendError)
			}
		})
		a.notifiers = append(a.notifiers, n)
	}
	return a
}

// Observe announces what info changes. With reconcile (a catch-up from
// List, or an egress's last word), an unchanged status is not news.
func (a *Announcer) Observe(info *livekit.EgressInfo, reconcile bool) {
	// Queued under the lock, so that events keep their order (queueing
	// does not block: each notifier has its own worker).
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.seen[info.EgressId]
	if st == nil {
		st = &state{}
		a.seen[info.EgressId] = st
	}
	for _, ev := range st.next(info, reconcile) {
		for i, n := range a.notifiers {
			if !a.targets[i].wants(ev) {
				continue
			}
			event := &livekit.WebhookEvent{
				Event:      ev,
				EgressInfo: proto.Clone(info).(*livekit.EgressInfo),
				Id:         guid.New("EV_"),
				CreatedAt:  time.Now().Unix(),
			}
			if err := n.QueueNotify(context.Background(), event); err != nil {
				a.logf("webhook %s for %s: %v", ev, info.EgressId, err)
			}
		}
	}
}

// next returns the events that info calls for, given what was announced,
// and records them.
func (st *state) next(info *livekit.EgressInfo, reconcile bool) []string {
	if st.ended || (reconcile && st.started && info.Status == st.last) {
		return nil
	}
	var events []string
	if !st.started {
		// Announced once, even when the STARTING update was missed.
		events = append(events, webhook.EventEgressStarted)
		st.started = true
	}
	switch info.Status {
	case livekit.EgressStatus_EGRESS_COMPLETE, livekit.EgressStatus_EGRESS_FAILED,
		livekit.EgressStatus_EGRESS_ABORTED, livekit.EgressStatus_EGRESS_LIMIT_REACHED:
		events = append(events, webhook.EventEgressEnded)
		st.ended = true
	case livekit.EgressStatus_EGRESS_ACTIVE, livekit.EgressStatus_EGRESS_ENDING:
		events = append(events, webhook.EventEgressUpdated)
	}
	st.last = info.Status
	return events
}

// Close lets the queued posts go out, for at most drain (a receiver that
// is down is retried with back-off by the notifiers).
func (a *Announcer) Close(drain time.Duration) {
	drained := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, n := range a.notifiers {
			wg.Go(func() { n.Stop(false) })
		}
		wg.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(drain):
		a.logf("webhooks: gave up waiting for queued posts after %s", drain)
	}
}

// RedactURL keeps a webhook URL's scheme and host: its path or query may
// carry a receiver's secret.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparseable URL)"
	}
	if u.Path == "" && u.RawQuery == "" && u.User == nil {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/..."
}

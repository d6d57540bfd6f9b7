package api

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/utils/guid"
	"github.com/livekit/protocol/webhook"
	"google.golang.org/protobuf/proto"

	"roomcast/engine"
)

// webhookDrain bounds how long Close waits for queued webhooks to go out
// (a receiver that is down is retried with backoff by protocol/webhook).
const webhookDrain = 10 * time.Second

// webhooks turns the studio's EgressInfo updates into LiveKit's egress
// webhooks, as livekit-server's IOInfoService does: egress_started when an
// egress is created (STARTING), egress_updated on each update while ACTIVE
// or ENDING, egress_ended at a final state. Each URL has its own
// protocol/webhook notifier, which signs every post with the API key and
// secret and keeps one queue per egress, so one egress's events arrive in
// order.
type webhooks struct {
	studio    engine.Studio
	notifiers []webhook.QueuedNotifier
	logf      func(string, ...any)
	cancel    context.CancelFunc
	done      chan struct{} // closed when the watch loop ends

	mu   sync.Mutex
	seen map[string]*hookState
}

// hookState is what has been announced for one egress.
type hookState struct {
	started, ended bool
	last           livekit.EgressStatus
}

func startWebhooks(studio engine.Studio, cfg Config) (*webhooks, error) {
	// The notifiers count what they send in Prometheus metrics that
	// must exist first (livekit-server does this at boot); once per process.
	webhook.InitWebhookStats(nil)
	h := &webhooks{studio: studio, logf: cfg.Logf, done: make(chan struct{}), seen: map[string]*hookState{}}
	for i, raw := range cfg.WebhookURLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webhook.urls[%d]: %q is not an http:// or https:// URL", i, redactURL(raw))
		}
	}
	for _, raw := range cfg.WebhookURLs {
		n := webhook.NewResourceURLNotifier(webhook.ResourceURLNotifierParams{
			URL:       raw,
			Logger:    logger.GetDiscardLogger(), // failures are reported below
			APIKey:    cfg.APIKey,
			APISecret: cfg.APISecret,
		})
		shown := redactURL(raw)
		n.RegisterProcessedHook(func(_ context.Context, whi *livekit.WebhookInfo) {
			switch {
			case whi.IsDropped:
				h.logf("webhook %s for %s to %s: dropped (the receiver is too far behind)", whi.Event, whi.EgressId, shown)
			case whi.SendError != "":
				h.logf("webhook %s for %s to %s: %s", whi.Event, whi.EgressId, shown, whi.SendError)
			}
		})
		h.notifiers = append(h.notifiers, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	updates := studio.Watch(ctx)
	go func() {
		defer close(h.done)
		for info := range updates {
			h.observe(info, false)
		}
	}()
	return h, nil
}

// observe announces what info changes. With reconcile (a catch-up from
// List), an unchanged status is not news.
func (h *webhooks) observe(info *livekit.EgressInfo, reconcile bool) {
	// Queued under the lock, so that events keep their order (queueing
	// does not block: each notifier has its own worker).
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.seen[info.EgressId]
	if st == nil {
		st = &hookState{}
		h.seen[info.EgressId] = st
	}
	for _, ev := range st.next(info, reconcile) {
		for _, n := range h.notifiers {
			event := &livekit.WebhookEvent{
				Event:      ev,
				EgressInfo: proto.Clone(info).(*livekit.EgressInfo),
				Id:         guid.New("EV_"),
				CreatedAt:  time.Now().Unix(),
			}
			if err := n.QueueNotify(context.Background(), event); err != nil {
				h.logf("webhook %s for %s: %v", ev, info.EgressId, err)
			}
		}
	}
}

// next returns the events that info calls for, given what was announced,
// and records them.
func (st *hookState) next(info *livekit.EgressInfo, reconcile bool) []string {
	if st.ended || (reconcile && st.started && info.Status == st.last) {
		return nil
	}
	var events []string
	if !st.started {
		// Announced once, even when the STARTING update was missed.
		events = append(events, webhook.EventEgressStarted)
		st.started = true
	}
	switch {
	case final(info.Status):
		events = append(events, webhook.EventEgressEnded)
		st.ended = true
	case info.Status == livekit.EgressStatus_EGRESS_ACTIVE, info.Status == livekit.EgressStatus_EGRESS_ENDING:
		events = append(events, webhook.EventEgressUpdated)
	}
	st.last = info.Status
	return events
}

// close stops watching, catches up from List (an update the watch lost
// under load, or final states reached while closing), then lets the
// queued posts go out, for at most webhookDrain.
func (h *webhooks) close() {
	h.cancel()
	<-h.done
	if infos, err := h.studio.List(context.Background(), &livekit.ListEgressRequest{}); err == nil {
		for _, info := range infos {
			h.observe(info, true)
		}
	}
	drained := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, n := range h.notifiers {
			wg.Go(func() { n.Stop(false) })
		}
		wg.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(webhookDrain):
		h.logf("webhooks: gave up waiting for queued posts after %s", webhookDrain)
	}
}

// redactURL keeps a webhook URL's scheme and host: its path or query may
// carry a receiver's secret.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparseable URL)"
	}
	if u.Path == "" && u.RawQuery == "" && u.User == nil {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/..."
}

package api

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
	"roomcast/engine/hooks"
)

// webhookDrain bounds how long Close waits for queued webhooks to go out.
const webhookDrain = 10 * time.Second

// webhooks posts the server's egress webhooks (webhook.urls) for every
// egress the studio reports, signed with the API key and secret.
type webhooks struct {
	studio engine.Studio
	hooks  *hooks.Announcer
	cancel context.CancelFunc
	done   chan struct{} // closed when the watch loop ends
}

func startWebhooks(studio engine.Studio, cfg Config) (*webhooks, error) {
	var targets []hooks.Target
	for i, raw := range cfg.WebhookURLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webhook.urls[%d]: %q is not an http:// or https:// URL", i, hooks.RedactURL(raw))
		}
		targets = append(targets, hooks.Target{URL: raw, APIKey: cfg.APIKey, APISecret: cfg.APISecret})
	}
	h := &webhooks{studio: studio, hooks: hooks.New(targets, cfg.Logf), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	updates := studio.Watch(ctx)
	go func() {
		defer close(h.done)
		for info := range updates {
			h.hooks.Observe(info, false)
		}
	}()
	return h, nil
}

// close stops watching, catches up from List (an update the watch lost
// under load, or final states reached while closing), then lets the
// queued posts go out.
func (h *webhooks) close() {
	h.cancel()
	<-h.done
	if resp, err := h.studio.List(context.Background(), &livekit.ListEgressRequest{}); err == nil {
		for _, info := range resp.Items {
			h.hooks.Observe(info, true)
		}
	}
	h.hooks.Close(webhookDrain)
}

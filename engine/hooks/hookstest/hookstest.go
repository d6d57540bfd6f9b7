// Package hookstest receives egress webhooks in tests: an HTTP endpoint on
// loopback that verifies each post's signature as a LiveKit app does
// (protocol/webhook) and keeps the events.
package hookstest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
)

// Receiver is a webhook endpoint.
type Receiver struct {
	mu          sync.Mutex
	key, secret string // what posts must be signed with
	events      []*livekit.WebhookEvent
	errs        []error
	notify      chan struct{}
}

// New starts a receiver that takes posts signed with key and secret, and
// returns it with its URL (whose query holds a token, as a real
// receiver's might: it must not reach a log). The test's cleanup stops it.
func New(t testing.TB, key, secret string) (*Receiver, string) {
	r := &Receiver{key: key, secret: secret, notify: make(chan struct{}, 100)}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		ev, err := webhook.ReceiveWebhookEvent(req, auth.NewSimpleKeyProvider(r.key, r.secret))
		if err != nil {
			r.errs = append(r.errs, err)
		} else {
			r.events = append(r.events, ev)
		}
		r.mu.Unlock()
		select {
		case r.notify <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(hs.Close)
	return r, hs.URL + "/hooks?token=receiver-secret"
}

// SetKeys changes the key and secret posts must be signed with (a server
// that makes its own when it starts).
func (r *Receiver) SetKeys(key, secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.key, r.secret = key, secret
}

// Of returns the events of egress id so far.
func (r *Receiver) Of(id string) []*livekit.WebhookEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var mine []*livekit.WebhookEvent
	for _, ev := range r.events {
		if ev.EgressInfo.GetEgressId() == id {
			mine = append(mine, ev)
		}
	}
	return mine
}

// WaitEnded waits for egress_ended of id and returns the events of id; a
// post that did not verify fails the test.
func (r *Receiver) WaitEnded(t testing.TB, id string, timeout time.Duration) []*livekit.WebhookEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		errs := r.errs
		r.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("a webhook did not verify: %v", errs)
		}
		mine := r.Of(id)
		if n := len(mine); n > 0 && mine[n-1].Event == webhook.EventEgressEnded {
			return mine
		}
		select {
		case <-r.notify:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no egress_ended for %s within %s; got %v", id, timeout, Names(mine))
		}
	}
}

// Names shows events as "egress_updated/ACTIVE".
func Names(events []*livekit.WebhookEvent) []string {
	var names []string
	for _, ev := range events {
		names = append(names, ev.Event+"/"+strings.TrimPrefix(ev.EgressInfo.GetStatus().String(), "EGRESS_"))
	}
	return names
}

// CheckOrder: egress_started first, egress_updated between, egress_ended
// last, each with an ID and a time.
func CheckOrder(t testing.TB, events []*livekit.WebhookEvent) {
	t.Helper()
	for _, ev := range events {
		if ev.Id == "" || ev.CreatedAt == 0 {
			t.Errorf("event %s lacks an id or a time", ev.Event)
		}
	}
	names := Names(events)
	n := len(events)
	ok := n >= 3 && events[0].Event == webhook.EventEgressStarted && events[n-1].Event == webhook.EventEgressEnded
	for i := 1; ok && i < n-1; i++ {
		ok = events[i].Event == webhook.EventEgressUpdated
	}
	if !ok {
		t.Fatalf("events %v, want egress_started, egress_updated..., egress_ended", names)
	}
	t.Logf("webhooks: %s", strings.Join(names, ", "))
}

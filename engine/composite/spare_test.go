package composite

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"roomcast/engine/browser"
)

// TestSpareOptions: a built-in layout's spare opens the same page in
// standby as a spare, beside the screen; a custom template gets none.
func TestSpareOptions(t *testing.T) {
	page := browser.Options{Display: ":5", Width: 1280, Height: 720, URL: "http://127.0.0.1:4000/?layout=grid&token=T&url=ws%3A%2F%2F127.0.0.1%3A7880"}
	cases := []struct {
		name   string
		custom bool
		ok     bool
	}{
		{"built-in layout", false, true},
		{"custom template", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts, ok := spareOptions(page, c.custom)
			if ok != c.ok {
				t.Fatalf("spare: %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			u, err := url.Parse(opts.URL)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if q.Get("standby") != standbySpare || q.Get("layout") != "grid" || q.Get("token") != "T" || q.Get("url") != "ws://127.0.0.1:7880" {
				t.Errorf("spare URL %s: want the page's, in standby as a spare (no audio warmed up in the live sink)", opts.URL)
			}
			if !opts.Offscreen || opts.Display != page.Display || opts.Width != page.Width {
				t.Errorf("spare options %+v: want the page's, beside the screen", opts)
			}
			if opts.Idle != browser.CanWake() {
				t.Errorf("spare idle: %v, want %v (idle only when it can be woken)", opts.Idle, browser.CanWake())
			}
		})
	}
}

// TestIncidentString: what EgressInfo.details says of each incident.
func TestIncidentString(t *testing.T) {
	at := time.Date(2026, 12, 4, 21, 30, 5, 0, time.UTC)
	cases := []struct {
		in   Incident
		want string
	}{
		{Incident{Kind: BrowserDied, At: at, Why: "crashed"}, "browser relaunching since 21:30:05 (crashed)"},
		{Incident{Kind: BrowserDied, At: at, Why: "crashed", Gap: 1500 * time.Millisecond, Lasted: true, How: "the spare browser"},
			"browser died at 21:30:05, picture back after 1.5 s from the spare browser (crashed)"},
		{Incident{Kind: LiveKitLost, At: at, Why: "signal closed"}, "reconnecting to LiveKit since 21:30:05 (signal closed)"},
		{Incident{Kind: LiveKitLost, At: at, Gap: 2 * time.Second, Lasted: true}, "LiveKit connection lost at 21:30:05 for 2.0 s, reconnected"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			if got := c.in.String(); got != c.want {
				t.Errorf("String() = %q, want %q", got, c.want)
			}
		})
	}
}

// TestIdleTurn: one idle browser starts at a time; the next waits for the
// first's end (or gives up with its context), and a browser started at
// full speed waits for nobody.
func TestIdleTurn(t *testing.T) {
	first, err := idleTurn(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	full, err := idleTurn(context.Background(), false)
	if err != nil {
		t.Fatalf("a full-speed start waited for a turn: %v", err)
	}
	full()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := idleTurn(ctx, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second idle start during the first: %v, want it to wait until its context ends", err)
	}
	got := make(chan error, 1)
	go func() {
		done, err := idleTurn(context.Background(), true)
		if err == nil {
			done()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the second idle start went ahead (%v) before the first ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	first()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second idle start never got its turn after the first ended")
	}
}

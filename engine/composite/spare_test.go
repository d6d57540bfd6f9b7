package composite

import (
	"net/url"
	"testing"
	"time"

	"roomcast/engine/browser"
)

// TestSpareOptions: a built-in layout's spare opens the same page in
// standby, beside the screen; a custom template gets none.
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
			if q.Get("standby") != "1" || q.Get("layout") != "grid" || q.Get("token") != "T" || q.Get("url") != "ws://127.0.0.1:7880" {
				t.Errorf("spare URL %s: want the page's, in standby", opts.URL)
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

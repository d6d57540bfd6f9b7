package layouts

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"roomcast/engine/waittest"
)

// serve starts a Server for one test and closes it at the end, failing the
// test if Close blocks for more than 3 s.
func serve(t *testing.T) *Server {
	t.Helper()
	s, err := Serve()
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() { waittest.Returns(t, 3*time.Second, "Close", s.Close) })
	return s
}

func get(t *testing.T, rawURL string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", rawURL, err)
	}
	return resp, string(body)
}

func TestNames(t *testing.T) {
	want := []string{"grid", "grid-light", "single-speaker", "single-speaker-light", "speaker", "speaker-light"}
	got := Names()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	// Callers may not change the package's list.
	Names()[0] = "changed"
	if Names()[0] == "changed" {
		t.Fatal("Names() returns the package's own slice")
	}
}

// TestNamesMatchWebApp checks that the built page knows every layout name
// the Go side advertises (the names are string literals in app.js).
func TestNamesMatchWebApp(t *testing.T) {
	files, err := builtFiles()
	if err != nil {
		t.Fatal(err)
	}
	app, err := fs.ReadFile(files, "app.js")
	if err != nil {
		t.Fatalf("read app.js: %v", err)
	}
	for _, name := range Names() {
		if !strings.Contains(string(app), `"`+name+`"`) {
			t.Errorf("app.js does not mention layout %q", name)
		}
	}
}

func TestServe(t *testing.T) {
	s := serve(t)
	if !strings.HasPrefix(s.BaseURL(), "http://127.0.0.1:") {
		t.Fatalf("BaseURL() = %q, want http://127.0.0.1:PORT", s.BaseURL())
	}

	cases := []struct {
		name      string
		path      string
		status    int
		ctype     string
		bodyHas   string
		bodyLacks string
	}{
		{"page", s.URL("grid", "ws://127.0.0.1:7880", "tok"), 200, "text/html; charset=utf-8", `<script src="app.js">`, ""},
		{"page for an unknown layout is still served", s.URL("no-such-layout", "ws://127.0.0.1:7880", "tok"), 200, "text/html; charset=utf-8", `class="error"`, ""},
		{"page at a layout path", s.BaseURL() + "/speaker-light", 200, "text/html; charset=utf-8", `<div id="stage">`, ""},
		{"index.html", s.BaseURL() + "/index.html", 200, "text/html; charset=utf-8", "<!doctype html>", ""},
		{"script", s.BaseURL() + "/app.js", 200, "text/javascript; charset=utf-8", "START_RECORDING", ""},
		{"script has the end signal and the layout hook", s.BaseURL() + "/app.js", 200, "text/javascript; charset=utf-8", "roomcastSetLayout", ""},
		{"style", s.BaseURL() + "/app.css", 200, "text/css; charset=utf-8", "object-fit", "@import"},
		{"no web fonts from elsewhere", s.BaseURL() + "/app.css", 200, "text/css; charset=utf-8", "DejaVu Sans", "url(http"},
		{"missing file", s.BaseURL() + "/nope.js", 404, "", "", ""},
		{"placeholder is not served", s.BaseURL() + "/.gitkeep", 404, "", "", ""},
		{"no directory escape", s.BaseURL() + "/../layouts.go", 404, "", "", ""},
		{"no sub-folders", s.BaseURL() + "/a/b", 404, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %.200q)", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if !strings.Contains(body, tc.bodyHas) {
				t.Errorf("body lacks %q", tc.bodyHas)
			}
			if tc.bodyLacks != "" && strings.Contains(body, tc.bodyLacks) {
				t.Errorf("body has %q", tc.bodyLacks)
			}
		})
	}

	t.Run("app.js references no other host", func(t *testing.T) {
		_, body := get(t, s.BaseURL()+"/app.js")
		for _, bad := range []string{"cdn.", "googleapis", "unpkg", "jsdelivr"} {
			if strings.Contains(body, bad) {
				t.Errorf("app.js mentions %q", bad)
			}
		}
	})
}

func TestURL(t *testing.T) {
	s := serve(t)
	token := "eyJhbGciOiJIUzI1NiJ9.e30+/=&x"
	lk := "ws://127.0.0.1:7880/rtc?a=b"
	raw := s.URL("speaker-light", lk, token)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("URL() = %q does not parse: %v", raw, err)
	}
	if got, want := u.Scheme+"://"+u.Host, s.BaseURL(); got != want {
		t.Errorf("URL() host %q, want %q", got, want)
	}
	if u.Path != "/" {
		t.Errorf("URL() path %q, want /", u.Path)
	}
	q := u.Query()
	for key, want := range map[string]string{"url": lk, "token": token, "layout": "speaker-light"} {
		if got := q.Get(key); got != want {
			t.Errorf("query %s = %q, want %q", key, got, want)
		}
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	files, err := builtFiles()
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(files)
	cases := []struct {
		name   string
		remote string
		host   string
		method string
		status int
	}{
		{"loopback v4", "127.0.0.1:5000", "127.0.0.1:8080", http.MethodGet, 200},
		{"loopback v6", "[::1]:5000", "[::1]:8080", http.MethodGet, 200},
		{"localhost name", "127.0.0.1:5000", "localhost:8080", http.MethodGet, 200},
		{"HEAD", "127.0.0.1:5000", "127.0.0.1:8080", http.MethodHead, 200},
		{"LAN address", "192.168.1.20:5000", "127.0.0.1:8080", http.MethodGet, 403},
		{"documentation address", "192.0.2.1:5000", "127.0.0.1:8080", http.MethodGet, 403},
		{"v4-mapped LAN", "[::ffff:10.0.0.1]:5000", "127.0.0.1:8080", http.MethodGet, 403},
		{"garbage remote", "somewhere", "127.0.0.1:8080", http.MethodGet, 403},
		{"rebinding host name", "127.0.0.1:5000", "evil.example:8080", http.MethodGet, 403},
		{"POST", "127.0.0.1:5000", "127.0.0.1:8080", http.MethodPost, 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://"+tc.host+"/?layout=grid", nil)
			r.RemoteAddr = tc.remote
			r.Host = tc.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
		})
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	s, err := Serve()
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	base := s.BaseURL()
	if resp, _ := get(t, base+"/"); resp.StatusCode != 200 {
		t.Fatalf("status %d before Close", resp.StatusCode)
	}
	waittest.Returns(t, 3*time.Second, "Close", s.Close)
	waittest.Returns(t, time.Second, "Close", s.Close)
	client := http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(base + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("server still answers after Close")
	}
}

func TestTwoServersGetTwoPorts(t *testing.T) {
	a, b := serve(t), serve(t)
	if a.BaseURL() == b.BaseURL() {
		t.Fatalf("both servers at %s", a.BaseURL())
	}
}

// chromium is Debian's browser binary, the one the engine drives.
const chromium = "/usr/lib/chromium/chromium"

// TestPageRunsInChromium loads the page from the Go server in headless
// Chromium and reads the DOM back: the bundle runs with the headers this
// server sends, applies the layout's theme, and reports bad input in
// div.error (no LiveKit server needed: the page stops before connecting).
func TestPageRunsInChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no Chromium at %s (apt-get install chromium): %v", chromium, err)
	}
	s := serve(t)
	cases := []struct {
		name  string
		query string
		want  []string
	}{
		// One case: each Chromium start costs seconds on a 2-core machine.
		{"unknown layout, no url", "?layout=mosaic&token=x", []string{
			`data-theme="dark"`, `data-layout="grid"`,
			`<div class="error" role="alert">missing url query parameter`,
			`unknown layout "mosaic"; showing "grid"`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, chromium,
				"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
				"--user-data-dir="+t.TempDir(), "--dump-dom", s.BaseURL()+"/"+tc.query)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("chromium: %v\n%s", err, stderr.String())
			}
			for _, want := range tc.want {
				if !strings.Contains(string(out), want) {
					t.Errorf("DOM lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

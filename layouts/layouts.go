// Package layouts serves the room-composite web templates (grid, speaker, single-speaker and their -light variants) to the engine's Chromium on loopback.
//
// The templates are a small web app (layouts/src, built with npm into
// layouts/dist and embedded here) that follows LiveKit Egress's template
// contract: the page is opened with the query parameters url, token and
// layout, joins the room as the hidden recorder, and logs START_RECORDING /
// END_RECORDING on the console. The engine switches layouts live by
// evaluating window.roomcastSetLayout(name) in the page. See README.md.
//
// The web app must be built before `go build` embeds it:
//
//	npm ci --prefix layouts && npm run build --prefix layouts
//
// Without that, the package still compiles (dist/ holds a placeholder) and
// Serve returns ErrNotBuilt.
package layouts

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed all:dist
var dist embed.FS

// names are the layouts the web app knows (src/geometry.js LAYOUT_NAMES).
var names = []string{
	"grid",
	"speaker",
	"single-speaker",
	"grid-light",
	"speaker-light",
	"single-speaker-light",
}

// required are the files a built dist/ must hold.
var required = []string{"index.html", "app.js", "app.css"}

// contentTypes is fixed here rather than taken from the mime package, whose
// answers depend on the machine's /etc/mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
}

// shutdownTimeout bounds how long Close waits for requests in flight (the
// files are small; a request still running after this is cut off).
const shutdownTimeout = 2 * time.Second

// ErrNotBuilt is returned by Serve when the web app was not built before the
// Go build embedded layouts/dist.
var ErrNotBuilt = errors.New("layouts: web templates not built (run `npm ci --prefix layouts && npm run build --prefix layouts`, then rebuild)")

// Names returns the layout names a request may use, dark ones first. The
// page also accepts "grid-dark", "speaker-dark" and "single-speaker-dark"
// (older LiveKit names) and treats an empty layout as "grid".
func Names() []string {
	return slices.Clone(names)
}

// Server serves the templates on 127.0.0.1 at a port chosen by the system.
// It answers only requests from loopback addresses. Close must be called.
type Server struct {
	base      string // http://127.0.0.1:PORT
	srv       *http.Server
	served    chan struct{} // closed when srv.Serve has returned
	closeOnce sync.Once
	closeErr  error
}

// Serve starts a Server. It fails with ErrNotBuilt when the embedded web app
// is missing, or with the listener's error.
func Serve() (*Server, error) {
	files, err := builtFiles()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("layouts: listen on 127.0.0.1:0: %w", err)
	}
	s := &Server{
		base: "http://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           newHandler(files),
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       time.Minute,
		},
		served: make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		// Serve returns http.ErrServerClosed after Close; nothing else is
		// expected from a loopback listener, and no caller is left to tell.
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// builtFiles returns dist/ as a file system, or ErrNotBuilt.
func builtFiles() (fs.FS, error) {
	files, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, fmt.Errorf("layouts: %w", err)
	}
	for _, name := range required {
		if _, err := fs.Stat(files, name); err != nil {
			return nil, fmt.Errorf("%w: dist/%s is missing", ErrNotBuilt, name)
		}
	}
	return files, nil
}

// BaseURL returns http://127.0.0.1:PORT, the address of the page without a
// query (what LiveKit calls custom_base_url).
func (s *Server) BaseURL() string {
	return s.base
}

// URL returns the page's address for a layout, a LiveKit server URL and the
// recorder's access token. The result carries the token: log it redacted.
// The layout is not checked here; an unknown one shows an error on the page.
func (s *Server) URL(layout, livekitURL, token string) string {
	q := url.Values{}
	q.Set("url", livekitURL)
	q.Set("token", token)
	q.Set("layout", layout)
	return s.base + "/?" + q.Encode()
}

// Close stops the server, waiting up to 2 s for requests in flight. It is
// idempotent: later calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.closeErr = fmt.Errorf("layouts: stop server at %s: %w", s.base, errors.Join(err, s.srv.Close()))
		}
		<-s.served
	})
	return s.closeErr
}

// newHandler serves the flat files of dist/: the page at "/" (and at any
// extension-less name such as "/grid", so a base URL naming a layout works
// too), its assets by name, nothing else.
func newHandler(files fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fromLoopback(r) {
			http.Error(w, "forbidden: the layouts are served to this machine only", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" || (!strings.Contains(name, "/") && path.Ext(name) == "") {
			name = "index.html"
		}
		ctype, known := contentTypes[path.Ext(name)]
		if !known || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			http.NotFound(w, r)
			return
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		// The page's own URL carries the access token.
		h.Set("Referrer-Policy", "no-referrer")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	})
}

// fromLoopback reports whether the request comes from a loopback address and
// names a loopback host (the Host check stops DNS-rebinding pages in a
// desktop browser from reading the server).
func fromLoopback(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

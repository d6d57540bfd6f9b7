package browser

/*
The guard is the composite browser's only way to the network beyond
loopback: an HTTP proxy on 127.0.0.1 that Chromium is given with
--proxy-server. It keeps a layout or a custom template from reaching the
web at large, without breaking WebRTC.

How Chromium routes, and so what the guard sees:
  - Every HTTP(S) request and WebSocket beyond loopback goes to the proxy,
    by name (Chromium lets the proxy resolve it): CONNECT host:port for
    HTTPS, WSS and WS, an absolute URI for plain HTTP. Loopback never
    goes through a proxy (Chromium's implicit bypass rules), which keeps
    the engine's layout server and a local LiveKit server direct.
  - WebRTC over UDP never goes through an HTTP proxy: ICE over UDP and
    TURN over UDP go straight to their addresses, whatever the guard.
  - WebRTC over TCP does: ICE over TCP to a candidate's address, TURN
    over TCP and over TLS, each as a CONNECT. Before the guard, a
    blackhole proxy made these fail, so a network without UDP could not
    record at all.

What the guard lets through:
  - The web (any CONNECT or request) to the allowed hosts: the LiveKit
    server's host and the other hosts of its registered domain (LiveKit
    Cloud's region and TURN hosts are *.livekit.cloud; a self-hosted
    deployment's TURN is usually turn.<its domain>), a custom template's
    host, and the addresses those exact names resolve to.
  - WebRTC over TCP to any address, told apart by its first bytes: a
    STUN message (TURN over TCP) or one framed by RFC 4571 (ICE over TCP).
    A page can send UDP to those addresses anyway, so this opens nothing
    UDP did not; an HTTP client cannot make Chromium speak STUN.
  - TLS whose server name (SNI) is an allowed host: TURN over TLS to the
    deployment's TURN server, when the CONNECT names an address.
  - Nothing else: the connection is refused, with a log line naming the
    host, so a producer sees what a template tried to reach.

The TURN servers' names arrive in the LiveKit server's join response, long
after Chromium's flags are fixed, so the guard decides per connection, not
from a list made at launch. Names are not blocked at resolution (no
--host-resolver-rules): WebRTC resolves TURN and STUN names itself, and a
web request is resolved by the guard, so a blocked resolver would only
break TURN by name. A page can still make the resolver look up a name
(a STUN server named in its own peer connection), which is all that
leaves: WebRTC is not the guard's to limit, UDP never could be.
*/

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"
)

// peekTimeout bounds the wait for a tunnel's first bytes: WebRTC and TLS
// clients speak first, at once.
const peekTimeout = 10 * time.Second

// dialTimeout bounds a connection to an upstream.
const dialTimeout = 15 * time.Second

// stunCookie is the magic cookie of every STUN message (RFC 5389).
const stunCookie = 0x2112A442

// guard is a running proxy; see the comment above.
type guard struct {
	ln    net.Listener
	allow hostRules
	logf  func(string, ...any)
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	// lookup resolves an allowed name, to allow its addresses.
	lookup func(ctx context.Context, host string) ([]string, error)
	web    *http.Transport

	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	refused map[string]bool // hosts refused and logged once
}

// startGuard listens on a free loopback port.
func startGuard(allow []string, logf func(string, ...any)) (*guard, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("browser guard: %w", err)
	}
	d := &net.Dialer{Timeout: dialTimeout}
	g := &guard{
		ln:      ln,
		allow:   newHostRules(allow),
		logf:    logf,
		dial:    d.DialContext,
		lookup:  net.DefaultResolver.LookupHost,
		conns:   map[net.Conn]struct{}{},
		refused: map[string]bool{},
	}
	g.web = &http.Transport{Proxy: nil, DialContext: g.dial, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}
	g.wg.Add(1)
	go g.serve()
	return g, nil
}

// URL is the proxy's address for --proxy-server.
func (g *guard) URL() string { return "http://" + g.ln.Addr().String() }

// Close stops the guard and cuts every connection through it.
func (g *guard) Close() {
	g.ln.Close()
	g.mu.Lock()
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.web.CloseIdleConnections()
	g.wg.Wait()
}

func (g *guard) serve() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.track(c, true)
			defer g.track(c, false)
			defer c.Close()
			g.handle(c)
		}()
	}
}

func (g *guard) track(c net.Conn, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if on {
		g.conns[c] = struct{}{}
	} else {
		delete(g.conns, c)
	}
}

// handle serves one connection from Chromium: a CONNECT, or plain HTTP
// requests one after the other.
func (g *guard) handle(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.Method == http.MethodConnect {
			g.tunnel(c, br, req.Host)
			return
		}
		if !g.forward(c, req) {
			return
		}
	}
}

// forward proxies one plain HTTP request to an allowed host; false ends
// the connection.
func (g *guard) forward(c net.Conn, req *http.Request) bool {
	host := req.URL.Hostname()
	if req.URL.Scheme != "http" || host == "" {
		writeStatus(c, http.StatusBadRequest, "roomcast's browser guard takes absolute http:// requests and CONNECT")
		return false
	}
	if !g.webAllowed(req.Context(), host) {
		// Cut, not answered: the page sees a failed request, as it does
		// for a refused tunnel, not a response it could take for the
		// site's.
		g.refuse(host, "http://"+req.URL.Host)
		return false
	}
	req.RequestURI = ""
	resp, err := g.web.RoundTrip(req)
	if err != nil {
		writeStatus(c, http.StatusBadGateway, err.Error())
		return false
	}
	defer resp.Body.Close()
	if err := resp.Write(c); err != nil {
		return false
	}
	return !req.Close && !resp.Close
}

func writeStatus(c net.Conn, code int, msg string) {
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(msg), msg)
}

// tunnel serves a CONNECT to target (host:port).
func (g *guard) tunnel(c net.Conn, br *bufio.Reader, target string) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		writeStatus(c, http.StatusBadRequest, "CONNECT needs host:port")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	allowed := g.webAllowed(ctx, host)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var first []byte
	if !allowed {
		// Not a host of the web it may reach: WebRTC over TCP may still
		// pass, which speaks first.
		kind, peeked := g.classify(c, br)
		switch {
		case kind == "webrtc":
		case kind == "tls" && g.allow.match(peeked.serverName):
		default:
			g.refuse(host, fmt.Sprintf("%s (%s)", target, kind))
			return
		}
		first = peeked.bytes
	}
	up, err := g.dial(ctx, "tcp", target)
	if err != nil {
		g.logf("browser guard: %s: %v", target, err)
		return
	}
	defer up.Close()
	g.track(up, true)
	defer g.track(up, false)
	if len(first) > 0 {
		if _, err := up.Write(first); err != nil {
			return
		}
	}
	pipe(c, br, up)
}

// refuse logs a refusal, once per host: Chromium itself calls on Google's
// services now and then (sign-in, updates) whatever its flags say, and a
// template may retry.
func (g *guard) refuse(host, what string) {
	g.mu.Lock()
	seen := g.refused[host]
	g.refused[host] = true
	g.mu.Unlock()
	if !seen {
		g.logf("browser guard: refused %s: only the LiveKit server's and the template's hosts are reachable (further refusals of %s not logged)", what, host)
	}
}

// pipe copies both ways until either side ends.
func pipe(c net.Conn, br *bufio.Reader, up net.Conn) {
	done := make(chan struct{}, 2)
	go func() {
		_, _ = br.WriteTo(up)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(c, up)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
}

// peeked is what classify read of a tunnel's first bytes.
type peeked struct {
	bytes      []byte
	serverName string // a TLS ClientHello's SNI
}

// classify reads the start of what the browser sends into a tunnel and
// says what it is: "webrtc" (STUN, bare or framed by RFC 4571), "tls", or
// "other".
func (g *guard) classify(c net.Conn, br *bufio.Reader) (string, peeked) {
	_ = c.SetReadDeadline(time.Now().Add(peekTimeout))
	defer c.SetReadDeadline(time.Time{})
	head, err := br.Peek(10)
	if err != nil {
		return "other", peeked{}
	}
	if isSTUN(head) || isSTUN(head[2:]) {
		return "webrtc", peeked{}
	}
	if head[0] != 0x16 { // a TLS handshake record
		return "other", peeked{}
	}
	rec := &recorder{r: br}
	var sni string
	_ = tls.Server(rec, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni = h.ServerName
		return nil, errHelloRead
	}}).Handshake()
	// What was read to parse the hello goes to the upstream first.
	return "tls", peeked{bytes: rec.buf.Bytes(), serverName: sni}
}

// isSTUN reports whether b starts a STUN message: its first two bits
// zero, its magic cookie in place.
func isSTUN(b []byte) bool {
	return len(b) >= 8 && b[0]&0xc0 == 0 && binary.BigEndian.Uint32(b[4:8]) == stunCookie
}

var errHelloRead = errors.New("client hello read")

// recorder is the read side of a connection for crypto/tls to parse a
// ClientHello from: it keeps what it reads and writes nothing.
type recorder struct {
	r   io.Reader
	buf bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf.Write(p[:n])
	return n, err
}
func (r *recorder) Write(p []byte) (int, error)      { return len(p), nil }
func (r *recorder) Close() error                     { return nil }
func (r *recorder) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (r *recorder) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (r *recorder) SetDeadline(time.Time) error      { return nil }
func (r *recorder) SetReadDeadline(time.Time) error  { return nil }
func (r *recorder) SetWriteDeadline(time.Time) error { return nil }

// webAllowed reports whether the web may reach host: an allowed name, or
// an address an allowed exact name resolves to.
func (g *guard) webAllowed(ctx context.Context, host string) bool {
	if g.allow.match(host) {
		return true
	}
	if net.ParseIP(host) == nil {
		return false
	}
	for _, name := range g.allow.exact {
		addrs, err := g.lookup(ctx, name)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if net.ParseIP(a).Equal(net.ParseIP(host)) {
				return true
			}
		}
	}
	return false
}

// hostRules are the hosts the web may reach: exact names or addresses,
// and domains ("*.example.com": its hosts, not example.com itself).
type hostRules struct {
	exact   []string
	domains []string // ".example.com"
}

func newHostRules(hosts []string) hostRules {
	var r hostRules
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if d, ok := strings.CutPrefix(h, "*."); ok {
			r.domains = append(r.domains, "."+d)
		} else if h != "" {
			r.exact = append(r.exact, h)
		}
	}
	return r
}

func (r hostRules) match(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return false
	}
	for _, e := range r.exact {
		if host == e {
			return true
		}
	}
	for _, d := range r.domains {
		if strings.HasSuffix(host, d) {
			return true
		}
	}
	return false
}

// SiteHosts are the hosts a page for a server at host may reach: host
// itself and, for a name, the other hosts of its registered domain
// (myproject.livekit.cloud: *.livekit.cloud, where LiveKit Cloud's
// regions and TURN servers are; livekit.example.com: *.example.com).
func SiteHosts(host string) []string {
	if host == "" {
		return nil
	}
	if net.ParseIP(host) != nil {
		return []string{host}
	}
	hosts := []string{host}
	if site, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		hosts = append(hosts, "*."+site)
	}
	return hosts
}

package browser

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestGuard puts the guard between a client speaking as Chromium does
// (CONNECT, or an absolute http:// request) and real servers on loopback,
// named by test names that the guard's dialer maps to them.
func TestGuard(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "web "+r.Host)
	}))
	defer web.Close()
	// The LiveKit host's address, as its name resolves (below).
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("no 127.0.0.2 on this machine's loopback")
	}
	lkAddr := httptest.NewUnstartedServer(web.Config.Handler)
	lkAddr.Listener.Close()
	lkAddr.Listener = ln
	lkAddr.Start()
	defer lkAddr.Close()
	turnTLS := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "tls "+r.TLS.ServerName)
	}))
	defer turnTLS.Close()
	stun := echoServer(t)

	upstream := map[string]string{
		"livekit.site.test": web.Listener.Addr().String(),
		"turn.site.test":    turnTLS.Listener.Addr().String(),
		"region1.site.test": web.Listener.Addr().String(),
		"template.test":     web.Listener.Addr().String(),
		"evil.test":         web.Listener.Addr().String(),
	}
	g, err := startGuard(append(SiteHosts("livekit.site.test"), "template.test"), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	d := &net.Dialer{Timeout: time.Second}
	g.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if a, ok := upstream[host]; ok {
			addr = a
		}
		return d.DialContext(ctx, network, addr)
	}
	g.web.DialContext = g.dial
	// livekit.site.test resolves to 127.0.0.2: the web may reach that
	// address as it may reach the name.
	g.lookup = func(_ context.Context, host string) ([]string, error) {
		if host == "livekit.site.test" {
			return []string{"127.0.0.2"}, nil
		}
		return nil, fmt.Errorf("no such host %s", host)
	}

	stunMsg := stunBinding()
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(stunMsg)))
	framed = append(framed, stunMsg...)

	cases := []struct {
		name   string
		target string
		speak  func(c net.Conn, target string) (string, error)
		want   string // what comes back; "" when the guard must cut it
	}{
		{"https to the LiveKit host", "livekit.site.test:443", httpGet, "web livekit.site.test"},
		{"https to a host of its domain", "region1.site.test:443", httpGet, "web region1.site.test"},
		{"https to the template's host", "template.test:443", httpGet, "web template.test"},
		{"https elsewhere", "evil.test:443", httpGet, ""},
		{"https to an address of the LiveKit host", ln.Addr().String(), httpGet, "web 127.0.0.2"},
		{"https to another address", web.Listener.Addr().String(), httpGet, ""},
		{"ICE over TCP (RFC 4571) to any address", stun, sendEcho(framed), string(framed)},
		{"TURN over TCP to any address", stun, sendEcho(stunMsg), string(stunMsg)},
		{"TURN over TLS to the deployment's TURN by address", turnTLS.Listener.Addr().String(), tlsGet("turn.site.test"), "tls turn.site.test"},
		{"TLS elsewhere by address", turnTLS.Listener.Addr().String(), tlsGet("evil.test"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := connect(t, g, c.target)
			got, err := c.speak(conn, c.target)
			if c.want == "" {
				if err == nil {
					t.Errorf("got %q through the guard, want the connection cut", got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %q (%v), want %q", got, err, c.want)
			}
		})
	}

	t.Run("plain http", func(t *testing.T) {
		proxy, _ := http.NewRequest("GET", g.URL(), nil)
		client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy.URL)}, Timeout: 5 * time.Second}
		resp, err := client.Get("http://livekit.site.test/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("the LiveKit host: %s, want 200", resp.Status)
		}
		if resp, err := client.Get("http://evil.test/"); err == nil {
			resp.Body.Close()
			t.Errorf("elsewhere: %s, want the request cut", resp.Status)
		}
	})
}

// connect opens a tunnel through g as Chromium does.
func connect(t *testing.T, g *guard, target string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", g.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %v %v", target, resp, err)
	}
	return c
}

func httpGet(c net.Conn, target string) (string, error) {
	host, _, _ := net.SplitHostPort(target)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
	return readBody(c)
}

func tlsGet(serverName string) func(net.Conn, string) (string, error) {
	return func(c net.Conn, _ string) (string, error) {
		tc := tls.Client(c, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			return "", err
		}
		fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", serverName)
		return readBody(tc)
	}
}

func readBody(r io.Reader) (string, error) {
	resp, err := http.ReadResponse(bufio.NewReader(r), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func sendEcho(msg []byte) func(net.Conn, string) (string, error) {
	return func(c net.Conn, _ string) (string, error) {
		if _, err := c.Write(msg); err != nil {
			return "", err
		}
		got := make([]byte, len(msg))
		_, err := io.ReadFull(c, got)
		return string(got), err
	}
}

// echoServer sends back what it gets; its address is an IP literal, as
// an ICE candidate's is.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// stunBinding is a STUN binding request (RFC 5389), as ICE and TURN
// clients send first.
func stunBinding() []byte {
	m := make([]byte, 20)
	binary.BigEndian.PutUint16(m[0:], 0x0001)
	binary.BigEndian.PutUint32(m[4:], stunCookie)
	copy(m[8:], "transaction1")
	return m
}

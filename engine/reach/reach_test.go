package reach

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck runs Check against real servers on loopback: plain, TLS with
// a certificate of httptest's own CA (given or not), and none at all.
func TestCheck(t *testing.T) {
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	secure := httptest.NewTLSServer(http.NotFoundHandler())
	defer secure.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	wss := "wss://" + secure.Listener.Addr().String()
	cases := []struct {
		name, url, ca string
		want          []string // in the error; none: no error
	}{
		{"plain", "ws://" + plain.Listener.Addr().String(), "", nil},
		{"TLS, CA given", wss, caFile, nil},
		{"TLS, CA not given", wss, "", []string{"not trusted", "O=Acme Co", "set livekit.tls_ca"}},
		{"nothing listens", "ws://" + closed, "", []string{"unreachable", "connection refused"}},
		{"not a URL", "::", "", []string{"livekit.url"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trust, err := LoadTrust(c.ca)
			if err != nil {
				t.Fatal(err)
			}
			err = trust.Check(context.Background(), c.url)
			if len(c.want) == 0 {
				if err != nil {
					t.Errorf("Check: %v", err)
				}
				return
			}
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Check: %v; want it to say %q", err, w)
				}
			}
		})
	}
}

func TestLoadTrustRefusesWhatIsNoCA(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{path: "holds no PEM certificate", "/nonexistent/ca.pem": "no such file"} {
		if _, err := LoadTrust(file); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "livekit.tls_ca") {
			t.Errorf("LoadTrust(%s): %v, want livekit.tls_ca: ...%s", file, err, want)
		}
	}
}

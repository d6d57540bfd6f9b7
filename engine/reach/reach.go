// Package reach is how the engine reaches a LiveKit server: whom it trusts
// for TLS (the system's CAs, plus a deployment's own CA from
// livekit.tls_ca), a check of the server before a browser is started for
// it, and the RoomService client that trusts the same.
package reach

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
)

// checkTimeout bounds Check: a server that does not answer the TCP and
// TLS handshakes within it will not carry a recording either.
const checkTimeout = 10 * time.Second

// Trust is whom TLS connections to the LiveKit server trust.
type Trust struct {
	// CAPEM is the extra CA (livekit.tls_ca), nil for the system's alone.
	CAPEM []byte
	pool  *x509.CertPool // the system's CAs plus CAPEM; nil: the system's
}

// LoadTrust reads the CA certificate file at path ("" for none) and adds
// it to the system's CAs.
func LoadTrust(path string) (*Trust, error) {
	if path == "" {
		return &Trust{}, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("livekit.tls_ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("livekit.tls_ca: %s holds no PEM certificate; give the CA certificate your LiveKit server's certificate is signed with", path)
	}
	return &Trust{CAPEM: pem, pool: pool}, nil
}

// sdkTrust is what the SDK's room connections trust besides the system's
// CAs. The SDK dials its signalling WebSocket with gorilla's
// DefaultDialer, a process-wide one it gives no option for, so the CAs of
// every Trust shared are added to that dialer.
var sdkTrust struct {
	sync.Mutex
	pool *x509.CertPool
}

// ShareWithSDK makes the SDK's room connections (track copies, person
// recordings: no browser) trust what t trusts, besides what they did. Call
// it before they dial: the dialer is swapped, not changed under them.
func (t *Trust) ShareWithSDK() {
	if len(t.CAPEM) == 0 {
		return
	}
	sdkTrust.Lock()
	defer sdkTrust.Unlock()
	// A clone: the pool a dial in flight may hold stays as it was.
	var pool *x509.CertPool
	if sdkTrust.pool != nil {
		pool = sdkTrust.pool.Clone()
		pool.AppendCertsFromPEM(t.CAPEM)
	} else {
		pool = t.pool.Clone() // the system's CAs and t's
	}
	sdkTrust.pool = pool
	dialer := *websocket.DefaultDialer
	dialer.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	websocket.DefaultDialer = &dialer
}

// TLSConfig is the client side of TLS to host.
func (t *Trust) TLSConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: t.pool, MinVersion: tls.VersionTLS12}
}

// HTTPClient is an HTTP client that trusts what t trusts.
func (t *Trust) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: t.pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Check connects to the LiveKit server at livekitURL as the page will
// (TCP, then TLS for wss:// and https://) and says what fails, in the
// producer's terms: a browser's page would only see a WebSocket error,
// after its timeout. An untrusted certificate is named with its subject
// and issuer, and the fix.
func (t *Trust) Check(ctx context.Context, livekitURL string) error {
	u, err := url.Parse(livekitURL)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("livekit.url %q: not a ws:// or wss:// URL", livekitURL)
	}
	secure := u.Scheme == "wss" || u.Scheme == "https"
	port := u.Port()
	if port == "" {
		port = map[bool]string{true: "443", false: "80"}[secure]
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	addr := net.JoinHostPort(u.Hostname(), port)
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return &Error{err: fmt.Errorf("LiveKit server %s unreachable: %w", livekitURL, err)}
	}
	defer conn.Close()
	if !secure {
		return nil
	}
	tc := tls.Client(conn, t.TLSConfig(u.Hostname()))
	if err := tc.HandshakeContext(ctx); err != nil {
		return &Error{Untrusted: true, err: t.certError(livekitURL, err)}
	}
	return nil
}

// Error is why Check failed: the server does not answer, or (Untrusted)
// its TLS certificate does not verify.
type Error struct {
	Untrusted bool
	err       error
}

func (e *Error) Error() string { return e.err.Error() }
func (e *Error) Unwrap() error { return e.err }

// certError explains a failed TLS handshake.
func (t *Trust) certError(livekitURL string, err error) error {
	fix := "set livekit.tls_ca to the CA certificate that signed it (a self-signed deployment), or give the server a certificate from a public CA"
	if t.CAPEM != nil {
		fix = "the CA in livekit.tls_ca did not sign it either; give the CA that did, or a certificate from a public CA"
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	switch {
	case errors.As(err, &unknown) && unknown.Cert != nil:
		return fmt.Errorf("LiveKit server %s: its TLS certificate (%s, issued by %s) is not trusted: %w; %s",
			livekitURL, unknown.Cert.Subject, unknown.Cert.Issuer, err, fix)
	case errors.As(err, &invalid):
		return fmt.Errorf("LiveKit server %s: its TLS certificate is not valid: %w", livekitURL, err)
	case errors.As(err, &host):
		return fmt.Errorf("LiveKit server %s: its TLS certificate is for another host: %w", livekitURL, err)
	}
	return fmt.Errorf("LiveKit server %s: TLS handshake failed: %w", livekitURL, err)
}

// Rooms is a RoomService client for the server at livekitURL that trusts
// what t trusts (server-sdk-go's own client takes no HTTP client).
type Rooms struct {
	api         livekit.RoomService
	trust       *Trust
	url         string
	key, secret string
}

// Rooms returns the server's RoomService.
func (t *Trust) Rooms(livekitURL, key, secret string) *Rooms {
	return &Rooms{
		api:   livekit.NewRoomServiceProtobufClient(httpURL(livekitURL), t.HTTPClient()),
		trust: t, url: livekitURL, key: key, secret: secret,
	}
}

// ListRooms lists the rooms named (every room for none). When the call
// fails, Check says why if it can (an untrusted certificate, a server
// that does not answer), rather than Twirp's "failed to do request".
func (r *Rooms) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	ctx, err := r.authorized(ctx, &auth.VideoGrant{RoomList: true})
	if err != nil {
		return nil, err
	}
	resp, err := r.api.ListRooms(ctx, req)
	return resp, r.why(ctx, err)
}

// ListParticipants lists the participants of a room, as ListRooms lists
// rooms.
func (r *Rooms) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	ctx, err := r.authorized(ctx, &auth.VideoGrant{RoomAdmin: true, Room: req.Room})
	if err != nil {
		return nil, err
	}
	resp, err := r.api.ListParticipants(ctx, req)
	return resp, r.why(ctx, err)
}

// authorized is ctx carrying a token with grant for the call.
func (r *Rooms) authorized(ctx context.Context, grant *auth.VideoGrant) (context.Context, error) {
	tok, err := auth.NewAccessToken(r.key, r.secret).SetVideoGrant(grant).SetValidFor(time.Minute).ToJWT()
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	return twirp.WithHTTPRequestHeaders(ctx, h)
}

// why is a failed call's reason, from Check when it knows one.
func (r *Rooms) why(ctx context.Context, err error) error {
	if err != nil {
		if why := r.trust.Check(ctx, r.url); why != nil {
			return why
		}
	}
	return err
}

// httpURL is the server's base URL for its Twirp APIs.
func httpURL(livekitURL string) string {
	u, err := url.Parse(livekitURL)
	if err != nil {
		return livekitURL
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	return u.String()
}

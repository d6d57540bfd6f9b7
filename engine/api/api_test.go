package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"roomcast/engine"
	"roomcast/engine/hooks/hookstest"
	"roomcast/engine/reach"
	"roomcast/engine/request"
	"roomcast/engine/storage"
)

const (
	testKey    = "APIroomcasttest"
	testSecret = "a-test-secret-of-at-least-32-characters"
)

// token signs an access token with the given grant, valid for a minute.
func token(t *testing.T, key, secret string, grant *auth.VideoGrant) string {
	t.Helper()
	at := auth.NewAccessToken(key, secret).SetValidFor(time.Minute)
	if grant != nil {
		at.SetVideoGrant(grant)
	}
	s, err := at.ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// expiredToken is a token with the roomRecord grant that expired two
// minutes ago (past the verifier's one-minute leeway). AccessToken cannot
// make one: it refuses a validity <= 0.
func expiredToken(t *testing.T, key, secret string) string {
	t.Helper()
	now := time.Now()
	claims := struct {
		jwt.RegisteredClaims
		Video *auth.VideoGrant `json:"video"`
	}{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    key,
			IssuedAt:  jwt.NewNumericDate(now.Add(-10 * time.Minute)),
			NotBefore: jwt.NewNumericDate(now.Add(-10 * time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(-2 * time.Minute)),
		},
		Video: &auth.VideoGrant{RoomRecord: true},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client is the generated protobuf client (what the server SDKs use)
// with a fixed Authorization header ("" sends none).
func client(url, authorization string) livekit.Egress {
	hc := &http.Client{Transport: headerTransport{authorization}}
	return livekit.NewEgressProtobufClient(url, hc)
}

type headerTransport struct{ authorization string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if h.authorization != "" {
		r.Header.Set("Authorization", h.authorization)
	}
	return http.DefaultTransport.RoundTrip(r)
}

type testServer struct {
	studio *fakeStudio
	srv    *Server
	url    string
	logs   *logBuffer
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	cfg.APIKey, cfg.APISecret = testKey, testSecret
	logs := &logBuffer{}
	cfg.Logf = logs.logf
	f := newFakeStudio()
	s, err := New(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		s.Close()
		if strings.Contains(logs.String(), testSecret) {
			t.Errorf("the API secret reached the log:\n%s", logs)
		}
	})
	return &testServer{studio: f, srv: s, url: hs.URL, logs: logs}
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func fileRequest(room, layout string) *livekit.RoomCompositeEgressRequest {
	return &livekit.RoomCompositeEgressRequest{RoomName: room, Layout: layout, FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "x.mp4"}}}
}

func code(err error) twirp.ErrorCode {
	var te twirp.Error
	if errors.As(err, &te) {
		return te.Code()
	}
	if err == nil {
		return twirp.NoError
	}
	return twirp.Unknown
}

// TestAuth: each bad token is refused with its Twirp code, the refusal
// never quotes the token, and nothing starts.
func TestAuth(t *testing.T) {
	ts := newTestServer(t, Config{})
	record := &auth.VideoGrant{RoomRecord: true}
	forged := token(t, testKey, "another-secret-of-at-least-32-characters", record)
	cases := []struct {
		name          string
		authorization string
		want          twirp.ErrorCode
	}{
		{"no token", "", twirp.Unauthenticated},
		{"not a bearer token", "Basic " + token(t, testKey, testSecret, record), twirp.Unauthenticated},
		{"not a JWT", "Bearer not-a-jwt", twirp.Unauthenticated},
		{"bad signature", "Bearer " + forged, twirp.Unauthenticated},
		{"expired", "Bearer " + expiredToken(t, testKey, testSecret), twirp.Unauthenticated},
		{"another key", "Bearer " + token(t, "APIsomeoneelse", testSecret, record), twirp.Unauthenticated},
		{"no roomRecord", "Bearer " + token(t, testKey, testSecret, &auth.VideoGrant{RoomAdmin: true, RoomCreate: true}), twirp.PermissionDenied},
		{"no video grant", "Bearer " + token(t, testKey, testSecret, nil), twirp.PermissionDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := client(ts.url, c.authorization).StartRoomCompositeEgress(context.Background(), fileRequest("demo", "grid"))
			if got := code(err); got != c.want {
				t.Fatalf("code %s (%v), want %s", got, err, c.want)
			}
			if tok, ok := strings.CutPrefix(c.authorization, "Bearer "); ok && strings.Contains(err.Error(), tok) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
	if n := ts.studio.startCount(); n != 0 {
		t.Errorf("%d egresses started with bad tokens", n)
	}
	if strings.Contains(ts.logs.String(), forged) {
		t.Errorf("a token reached the log:\n%s", ts.logs)
	}
	t.Run("good token", func(t *testing.T) {
		info, err := client(ts.url, "Bearer "+token(t, testKey, testSecret, record)).StartRoomCompositeEgress(context.Background(), fileRequest("demo", "grid"))
		if err != nil || info.Status != livekit.EgressStatus_EGRESS_STARTING {
			t.Fatalf("Start = %v, %v", info, err)
		}
	})
}

// TestErrors: what each method answers when it cannot do what is asked.
// unifiedRequest is LiveKit's unified form of a one-file room composite.
func unifiedRequest(room, layout, path string) *livekit.StartEgressRequest {
	return &livekit.StartEgressRequest{RoomName: room,
		Source:  &livekit.StartEgressRequest_Template{Template: &livekit.TemplateSource{Layout: layout}},
		Outputs: []*livekit.Output{{Config: &livekit.Output_File{File: &livekit.FileOutput{Filepath: path}}}}}
}

func TestErrors(t *testing.T) {
	ts := newTestServer(t, Config{Capacity: Capacity{CPUs: 1}})
	c := client(ts.url, "Bearer "+token(t, testKey, testSecret, &auth.VideoGrant{RoomRecord: true}))
	ctx := context.Background()
	if _, err := c.StartRoomCompositeEgress(ctx, fileRequest("demo", "grid")); err != nil {
		t.Fatal(err)
	}
	ended, err := c.StartRoomCompositeEgress(ctx, fileRequest("demo", "grid"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.studio.Stop(ctx, ended.EgressId); err != nil {
		t.Fatal(err)
	}
	bad := fileRequest("demo", "mosaic")
	cases := []struct {
		name string
		call func() error
		want twirp.ErrorCode
		msg  string
	}{
		{"invalid request", func() error { _, err := c.StartRoomCompositeEgress(ctx, bad); return err }, twirp.InvalidArgument, "layout"},
		{"beyond capacity", func() error { _, err := c.StartRoomCompositeEgress(ctx, fileRequest("other", "grid")); return err }, twirp.ResourceExhausted, "1 composite running uses 1.0 of 1.0 CPUs"},
		{"stop unknown", func() error { _, err := c.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: "EG_nope"}); return err }, twirp.NotFound, "EG_nope"},
		{"stop without ID", func() error { _, err := c.StopEgress(ctx, &livekit.StopEgressRequest{}); return err }, twirp.InvalidArgument, "egress_id"},
		{"stop ended", func() error {
			_, err := c.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: ended.EgressId})
			return err
		}, twirp.FailedPrecondition, "EGRESS_COMPLETE cannot be stopped"},
		{"layout of unknown", func() error {
			_, err := c.UpdateLayout(ctx, &livekit.UpdateLayoutRequest{EgressId: "EG_nope", Layout: "speaker"})
			return err
		}, twirp.NotFound, "EG_nope"},
		{"layout of ended", func() error {
			_, err := c.UpdateLayout(ctx, &livekit.UpdateLayoutRequest{EgressId: ended.EgressId, Layout: "speaker"})
			return err
		}, twirp.FailedPrecondition, "cannot be updated"},
		{"stream of unknown", func() error {
			_, err := c.UpdateStream(ctx, &livekit.UpdateStreamRequest{EgressId: "EG_nope", AddOutputUrls: []string{"rtmp://127.0.0.1/live/k"}})
			return err
		}, twirp.NotFound, "EG_nope"},
		{"stream of ended", func() error {
			_, err := c.UpdateStream(ctx, &livekit.UpdateStreamRequest{EgressId: ended.EgressId, AddOutputUrls: []string{"rtmp://127.0.0.1/live/k"}})
			return err
		}, twirp.FailedPrecondition, "cannot be updated"},
		{"web egress", func() error {
			_, err := c.StartWebEgress(ctx, &livekit.WebEgressRequest{Url: "https://example.com"})
			return err
		}, twirp.Unimplemented, "Roomcast records room composites"},
		{"participant egress", func() error { _, err := c.StartParticipantEgress(ctx, &livekit.ParticipantEgressRequest{}); return err }, twirp.Unimplemented, "room composites"},
		{"track composite egress", func() error {
			_, err := c.StartTrackCompositeEgress(ctx, &livekit.TrackCompositeEgressRequest{})
			return err
		}, twirp.Unimplemented, "room composites"},
		{"track egress", func() error { _, err := c.StartTrackEgress(ctx, &livekit.TrackEgressRequest{}); return err }, twirp.Unimplemented, "room composites"},
		{"unified start without a source", func() error { _, err := c.StartEgress(ctx, &livekit.StartEgressRequest{}); return err }, twirp.InvalidArgument, "template: required"},
		{"unified start of a web page", func() error {
			_, err := c.StartEgress(ctx, &livekit.StartEgressRequest{RoomName: "demo", Source: &livekit.StartEgressRequest_Web{Web: &livekit.WebSource{Url: "https://example.com"}}})
			return err
		}, twirp.InvalidArgument, "web: Roomcast records rooms through a layout template"},
		{"unified start, bad output", func() error {
			req := unifiedRequest("demo", "grid", "a.mp3")
			req.Outputs[0].GetFile().FileType = livekit.EncodedFileType_MP3
			_, err := c.StartEgress(ctx, req)
			return err
		}, twirp.InvalidArgument, "outputs[0].file.file_type"},
		{"unified start beyond capacity", func() error { _, err := c.StartEgress(ctx, unifiedRequest("other", "grid", "a.mp4")); return err }, twirp.ResourceExhausted, "1 composite running uses"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := code(err); got != tc.want {
				t.Fatalf("code %s (%v), want %s", got, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%v: message lacks %q", err, tc.msg)
			}
		})
	}
	if n := ts.studio.startCount(); n != 2 {
		t.Errorf("%d starts reached the studio, want the 2 good ones", n)
	}
}

func TestTwirpErrorMapping(t *testing.T) {
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	defer untrusted.Close()
	_, invalid := request.Build(&livekit.RoomCompositeEgressRequest{}, request.Options{})
	cases := []struct {
		name string
		err  error
		want twirp.ErrorCode
	}{
		{"request field", invalid, twirp.InvalidArgument},
		{"wrapped request field", fmt.Errorf("start: %w", invalid), twirp.InvalidArgument},
		{"remote twirp error", fmt.Errorf("remote: %w", twirp.NewError(twirp.NotFound, "x")), twirp.NotFound},
		{"capacity", Capacity{CPUs: 1}.Admit([]request.CompositeKey{key("a", "grid", 1280, 720, 30)}, TrackLoad{}, key("b", "grid", 1280, 720, 30)), twirp.ResourceExhausted},
		{"deadline", fmt.Errorf("stop: %w", context.DeadlineExceeded), twirp.DeadlineExceeded},
		{"room the server lacks", fmt.Errorf("room_name: %w: \"x\"", engine.ErrRoomNotFound), twirp.NotFound},
		{"egress not known", engine.NotFound("EG_x"), twirp.NotFound},
		{"bucket that does not exist", fmt.Errorf("start: %w", &storage.Error{Field: "file_outputs[0].s3.bucket", Reason: "no such bucket", Permanent: true}), twirp.InvalidArgument},
		{"storage unreachable for now", &storage.Error{Field: "file_outputs[0].s3", Reason: "connection refused"}, twirp.Internal},
		{"LiveKit server not answering", fmt.Errorf("look up room: %w", checkServer(t, "ws://127.0.0.1:1")), twirp.Unavailable},
		{"LiveKit server's certificate untrusted", fmt.Errorf("look up room: %w", checkServer(t, "wss://"+untrusted.Listener.Addr().String())), twirp.FailedPrecondition},
		{"engine failure", errors.New("chromium: exited"), twirp.Internal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := twirpError(c.err).Code(); got != c.want {
				t.Errorf("code %s, want %s", got, c.want)
			}
		})
	}
}

// checkServer is reach's check of a LiveKit server at url, which must fail.
func checkServer(t *testing.T, url string) error {
	t.Helper()
	trust, err := reach.LoadTrust("")
	if err != nil {
		t.Fatal(err)
	}
	err = trust.Check(context.Background(), url)
	if err == nil {
		t.Fatalf("%s passed the check", url)
	}
	return err
}

// TestStopAnswersAtEnding: StopEgress returns the ENDING info while the
// outputs are still being finalised; ListEgress shows COMPLETE later.
func TestStopAnswersAtEnding(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.studio.hold = make(chan struct{})
	c := client(ts.url, "Bearer "+token(t, testKey, testSecret, &auth.VideoGrant{RoomRecord: true}))
	ctx := context.Background()
	info, err := c.StartRoomCompositeEgress(ctx, fileRequest("demo", "grid"))
	if err != nil {
		t.Fatal(err)
	}
	ts.studio.activate(info.EgressId)
	stopped, err := c.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: info.EgressId})
	if err != nil || stopped.Status != livekit.EgressStatus_EGRESS_ENDING {
		t.Fatalf("StopEgress = %v, %v; want EGRESS_ENDING", stopped, err)
	}
	close(ts.studio.hold)
	deadline := time.Now().Add(3 * time.Second)
	for {
		list, err := c.ListEgress(ctx, &livekit.ListEgressRequest{EgressId: info.EgressId})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) == 1 && list.Items[0].Status == livekit.EgressStatus_EGRESS_COMPLETE {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not COMPLETE 3 s after the stop was released: %v", list.Items)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// postTwirpJSON sends a Twirp call as curl would (JSON body, bearer
// token) and returns the HTTP status and body.
func postTwirpJSON(t *testing.T, base, bearer, method, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/twirp/livekit.Egress/"+method, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestJSONEncoding: the same call as curl sends it, with a JSON body, and
// an error in Twirp's JSON form.
func TestJSONEncoding(t *testing.T) {
	ts := newTestServer(t, Config{})
	bearer := "Bearer " + token(t, testKey, testSecret, &auth.VideoGrant{RoomRecord: true})
	post := func(method, body string) (int, []byte) { return postTwirpJSON(t, ts.url, bearer, method, body) }
	status, body := post("StartRoomCompositeEgress", `{"room_name": "demo", "layout": "speaker", "file_outputs": [{"filepath": "x.mp4"}]}`)
	var out struct {
		EgressID string `json:"egress_id"`
		Status   string `json:"status"`
	}
	if err := json.Unmarshal(body, &out); status != 200 || err != nil || out.EgressID == "" || out.Status != "EGRESS_STARTING" {
		t.Fatalf("HTTP %d %s", status, body)
	}
	status, body = post("StopEgress", `{"egress_id": "EG_nope"}`)
	var te struct{ Code, Msg string }
	if err := json.Unmarshal(body, &te); status != 404 || err != nil || te.Code != "not_found" {
		t.Fatalf("HTTP %d %s, want 404 not_found", status, body)
	}
}

func TestWebhooks(t *testing.T) {
	rcv, url := hookstest.New(t, testKey, testSecret)
	ts := newTestServer(t, Config{WebhookURLs: []string{url}})
	c := client(ts.url, "Bearer "+token(t, testKey, testSecret, &auth.VideoGrant{RoomRecord: true}))
	ctx := context.Background()
	info, err := c.StartRoomCompositeEgress(ctx, fileRequest("demo", "grid"))
	if err != nil {
		t.Fatal(err)
	}
	ts.studio.activate(info.EgressId)
	if _, err := c.UpdateLayout(ctx, &livekit.UpdateLayoutRequest{EgressId: info.EgressId, Layout: "speaker"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: info.EgressId}); err != nil {
		t.Fatal(err)
	}
	events := rcv.WaitEnded(t, info.EgressId, 5*time.Second)
	hookstest.CheckOrder(t, events)
	want := []string{"egress_started/STARTING", "egress_updated/ACTIVE", "egress_updated/ACTIVE", "egress_updated/ENDING", "egress_ended/COMPLETE"}
	for i, ev := range events {
		if got := ev.Event + "/" + strings.TrimPrefix(ev.EgressInfo.Status.String(), "EGRESS_"); i >= len(want) || got != want[i] {
			t.Errorf("event %d = %s, want %v", i, got, want)
		}
	}
	if l := ts.logs.String(); strings.Contains(l, "receiver-secret") {
		t.Errorf("the webhook URL's query reached the log:\n%s", l)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"no key", Config{APISecret: testSecret}, "API key and secret"},
		{"bad capacity", Config{APIKey: testKey, APISecret: testSecret, Capacity: Capacity{CPUs: -2}}, "capacity.cpus"},
		{"bad webhook URL", Config{APIKey: testKey, APISecret: testSecret, WebhookURLs: []string{"ftp://host/x?key=hush"}}, "webhook.urls[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(newFakeStudio(), c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("New = %v, want an error naming %s", err, c.msg)
			}
			if strings.Contains(err.Error(), "hush") {
				t.Errorf("the error shows the URL's secret: %v", err)
			}
		})
	}
}

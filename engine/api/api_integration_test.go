//go:build integration

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"roomcast/engine"
	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/hooks/hookstest"
	"roomcast/engine/local"
	"roomcast/engine/local/localtest"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/engine/request"
	"roomcast/engine/rtmptest"
	"roomcast/engine/session"
	"roomcast/engine/waittest"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	os.Exit(m.Run())
}

// stage is the demo room with the embedded engine on it; one per test
// function (each API server over it is cheap).
type stage struct {
	demo   *demo.Demo
	engine *local.Local
}

func newStage(t *testing.T, participants int) *stage {
	t.Helper()
	d := demotest.Start(t, demo.Options{Participants: participants})
	l := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret()})
	return &stage{demo: d, engine: l}
}

// serve runs an API server over the stage's engine on 127.0.0.1, signed
// with the demo's key and secret.
func (s *stage) serve(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.APIKey, cfg.APISecret, cfg.Logf = s.demo.APIKey(), s.demo.APISecret(), t.Logf
	srv, err := New(s.engine, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return hs.URL
}

// remote is the API at url as a Studio (LiveKit's EgressClient inside),
// to wait on its egresses.
func (s *stage) remote(t *testing.T, url string) *engine.Remote {
	t.Helper()
	r, err := engine.NewRemote(engine.RemoteConfig{URL: url, APIKey: s.demo.APIKey(), APISecret: s.demo.APISecret()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *stage) bearer(t *testing.T) string {
	return "Bearer " + token(t, s.demo.APIKey(), s.demo.APISecret(), &auth.VideoGrant{RoomRecord: true})
}

func demoRequest(path, layout string) *livekit.RoomCompositeEgressRequest {
	return &livekit.RoomCompositeEgressRequest{RoomName: demo.DefaultRoom, Layout: layout, FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}}}
}

// verifyMP4 checks a recording of the demo room (mediatest.VerifyVideo,
// with AAC audio) and each participant's colour in its last second; it
// returns that frame.
func verifyMP4(t *testing.T, path string, w, h, fps int, seconds float64, people []demo.Persona) image.Image {
	t.Helper()
	p := mediatest.VerifyVideo(t, path, mediatest.Expect{Width: w, Height: h, FPS: float64(fps), Seconds: seconds, Audio: "aac"})
	vdur, _ := strconv.ParseFloat(p.First("video").Duration, 64)
	img, err := mediatest.FrameAt(path, math.Max(0, math.Min(p.Duration(), vdur)-1))
	if err != nil {
		t.Fatal(err)
	}
	for _, person := range people {
		if !mediatest.Contains(img, person.Color, 50, 6) {
			t.Errorf("%s: the last second has no %s", filepath.Base(path), person.Identity)
		}
	}
	return img
}

// colourShares is how many sampled pixels of img show each person: equal
// in a grid, one far ahead in the speaker layout.
func colourShares(img image.Image, people []demo.Persona) []int {
	counts := make([]int, len(people))
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			for i, p := range people {
				if mediatest.Near(img.At(x, y), p.Color, 40) {
					counts[i]++
				}
			}
		}
	}
	return counts
}

func spread(counts []int) float64 {
	lo, hi := counts[0], counts[0]
	for _, c := range counts {
		lo, hi = min(lo, c), max(hi, c)
	}
	return float64(hi) / float64(max(lo, 1))
}

// postJSON sends a Twirp call as curl would: JSON body, bearer token.
func postJSON(t *testing.T, base, bearer, method, body string, out any) int {
	t.Helper()
	status, data := postTwirpJSON(t, base, bearer, method, body)
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("%s: HTTP %d, not JSON: %s", method, status, data)
	}
	return status
}

// TestEgressAPI drives the embedded engine on the demo room through the
// Egress API with server-sdk-go's EgressClient, plain JSON, bad tokens,
// webhooks and a capacity of one composite.
func TestEgressAPI(t *testing.T) {
	s := newStage(t, 3)
	people := s.demo.Participants()
	dir := t.TempDir()
	rcv, hookURL := hookstest.New(t, s.demo.APIKey(), s.demo.APISecret())
	url := s.serve(t, Config{Capacity: Capacity{CPUs: 1}, WebhookURLs: []string{hookURL}})
	sdk := lksdk.NewEgressClient(url, s.demo.APIKey(), s.demo.APISecret())
	remote := s.remote(t, url)
	ctx := context.Background()

	t.Run("bad tokens start nothing", func(t *testing.T) {
		before := len(proctest.Descendants(os.Getpid()))
		record := &auth.VideoGrant{RoomRecord: true}
		key, secret := s.demo.APIKey(), s.demo.APISecret()
		cases := []struct {
			name, authorization string
			want                twirp.ErrorCode
		}{
			{"no token", "", twirp.Unauthenticated},
			{"bad signature", "Bearer " + token(t, key, "not-the-secret-but-long-enough-to-sign", record), twirp.Unauthenticated},
			{"expired", "Bearer " + expiredToken(t, key, secret), twirp.Unauthenticated},
			{"no roomRecord", "Bearer " + token(t, key, secret, &auth.VideoGrant{RoomJoin: true, Room: demo.DefaultRoom}), twirp.PermissionDenied},
			{"another key", "Bearer " + token(t, "APIanotherproject", "the-other-projects-secret-32-chars-long", record), twirp.Unauthenticated},
		}
		for _, c := range cases {
			_, err := client(url, c.authorization).StartRoomCompositeEgress(ctx, demoRequest(filepath.Join(dir, "never.mp4"), "grid"))
			if got := code(err); got != c.want {
				t.Errorf("%s: code %s (%v), want %s", c.name, got, err, c.want)
			}
		}
		// The SDK with another project's key and secret.
		other := lksdk.NewEgressClient(url, "APIanotherproject", "the-other-projects-secret-32-chars-long")
		if _, err := other.ListEgress(ctx, &livekit.ListEgressRequest{}); code(err) != twirp.Unauthenticated {
			t.Errorf("another project's SDK client: %v, want unauthenticated", err)
		}
		if list, _ := engine.Items(s.engine.List(ctx, &livekit.ListEgressRequest{})); len(list) != 0 {
			t.Errorf("%d egresses exist after refused calls", len(list))
		}
		if after := len(proctest.Descendants(os.Getpid())); after > before {
			t.Errorf("refused calls started %d processes", after-before)
		}
	})

	t.Run("one page", func(t *testing.T) {
		// This engine lists all in one page (no next_page_token), so a
		// page token can only be a mistake: refused, naming the field.
		resp, err := sdk.ListEgress(ctx, &livekit.ListEgressRequest{})
		if err != nil || resp.NextPageToken != nil {
			t.Fatalf("ListEgress = %v, %v; want one page, no next_page_token", resp, err)
		}
		_, err = sdk.ListEgress(ctx, &livekit.ListEgressRequest{PageToken: &livekit.TokenPagination{Token: "2"}})
		if code(err) != twirp.InvalidArgument || !strings.Contains(err.Error(), "page_token") {
			t.Errorf("ListEgress with a page token: %v, want invalid_argument naming page_token", err)
		}
	})

	t.Run("record with the SDK, join with JSON, capacity", func(t *testing.T) {
		path := filepath.Join(dir, "sdk.mp4")
		began := time.Now()
		info, err := sdk.StartRoomCompositeEgress(ctx, demoRequest(path, "grid"))
		if err != nil {
			t.Fatal(err)
		}
		if info.Status != livekit.EgressStatus_EGRESS_STARTING || !strings.HasPrefix(info.EgressId, "EG_") {
			t.Fatalf("Start returned %s %q", info.Status, info.EgressId)
		}
		id := info.EgressId
		active := waittest.AwaitStatus(t, remote, id, livekit.EgressStatus_EGRESS_ACTIVE, 60*time.Second)
		t.Logf("Start -> ACTIVE over the API (cold composite): %v", time.Unix(0, active.StartedAt).Sub(began).Round(time.Millisecond))
		list, err := sdk.ListEgress(ctx, &livekit.ListEgressRequest{RoomName: demo.DefaultRoom, Active: true})
		if err != nil || len(list.Items) != 1 || list.Items[0].EgressId != id || list.Items[0].Status != livekit.EgressStatus_EGRESS_ACTIVE {
			t.Fatalf("ListEgress(active) = %v, %v; want %s ACTIVE", list.GetItems(), err, id)
		}
		time.Sleep(2 * time.Second) // grid on record
		screens := proctest.Screens()
		updated, err := sdk.UpdateLayout(ctx, &livekit.UpdateLayoutRequest{EgressId: id, Layout: "speaker"})
		if err != nil || updated.GetRoomComposite().GetLayout() != "speaker" {
			t.Fatalf("UpdateLayout = %v, %v", updated, err)
		}

		// One CPU holds one composite: another room or layout is refused...
		for _, req := range []*livekit.RoomCompositeEgressRequest{
			{RoomName: "elsewhere", Layout: "speaker", FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, "no1.mp4")}}},
			demoRequest(filepath.Join(dir, "no2.mp4"), "grid"),
		} {
			_, err := sdk.StartRoomCompositeEgress(ctx, req)
			if code(err) != twirp.ResourceExhausted || !strings.Contains(err.Error(), "1 composite running uses 1.0 of 1.0 CPUs") {
				t.Errorf("%s/%s beyond capacity: %v, want resource_exhausted saying why", req.RoomName, req.Layout, err)
			}
		}
		// ...while joining the running one is free; sent as curl would.
		joined := filepath.Join(dir, "joined.mp4")
		var j struct {
			EgressID string `json:"egress_id"`
			Status   string `json:"status"`
			Code     string `json:"code"`
			Msg      string `json:"msg"`
		}
		joinBegan := time.Now()
		status := postJSON(t, url, s.bearer(t), "StartRoomCompositeEgress",
			`{"room_name": "demo", "layout": "speaker", "file_outputs": [{"filepath": "`+joined+`"}]}`, &j)
		if status != 200 || j.Status != "EGRESS_STARTING" {
			t.Fatalf("JSON start: HTTP %d %+v", status, j)
		}
		joinedActive := waittest.AwaitStatus(t, remote, j.EgressID, livekit.EgressStatus_EGRESS_ACTIVE, 10*time.Second)
		// ...and so is a stream of the same preset, which shares the
		// recordings' encode too; asked in LiveKit's unified form.
		rtmp := rtmptest.Start(t)
		live, err := sdk.StartEgress(ctx, &livekit.StartEgressRequest{RoomName: demo.DefaultRoom,
			Source:  &livekit.StartEgressRequest_Template{Template: &livekit.TemplateSource{Layout: "speaker"}},
			Outputs: []*livekit.Output{{Config: &livekit.Output_Stream{Stream: &livekit.StreamOutput{Destinations: []*livekit.StreamDestination{{Id: "main", Url: rtmp.URL("api")}}}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if u := live.GetEgress(); u.GetTemplate().GetLayout() != "speaker" || strings.Contains(u.String(), rtmp.URL("api")) {
			t.Errorf("the unified egress's info holds request %v, want it as sent, its stream key redacted", u)
		}
		waittest.AwaitStatus(t, remote, live.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 10*time.Second)
		if st := s.engine.Stats(); len(st) != 1 || st[0].VideoEncoders != 1 || st[0].AudioEncoders != 1 {
			t.Errorf("two recordings and a stream of one preset run %+v, want one composite with one video and one audio encoder", st)
		}
		time.Sleep(4 * time.Second) // all three recording
		if got := proctest.Screens(); got != screens {
			t.Errorf("virtual screens went from %d to %d: the JSON egress did not join the composite", screens, got)
		}
		// Its only destination removed, the stream egress ends as on
		// LiveKit: complete, all streams stopped, its results also in the
		// deprecated single-result field that older clients read.
		if _, err := sdk.UpdateStream(ctx, &livekit.UpdateStreamRequest{EgressId: live.EgressId, RemoveOutputUrls: []string{rtmp.URL("api")}}); err != nil {
			t.Fatal(err)
		}
		liveFinal := waittest.AwaitStatus(t, remote, live.EgressId, livekit.EgressStatus_EGRESS_COMPLETE, 10*time.Second)
		if !strings.HasPrefix(liveFinal.Details, "End reason: "+livekit.EndReasonStreamsStopped) || liveFinal.ErrorCode != 0 {
			t.Errorf("stream egress with its last destination removed: details %q, error code %d; want End reason: %s, no code", liveFinal.Details, liveFinal.ErrorCode, livekit.EndReasonStreamsStopped)
		}
		//lint:ignore SA1019 the deprecated field is what is tested
		if legacy := liveFinal.GetStream().GetInfo(); len(legacy) != 1 || legacy[0].Status != livekit.StreamInfo_FINISHED || legacy[0].Id != "main" {
			t.Errorf("deprecated stream result %v, want its one destination, main, FINISHED", legacy)
		}
		rtmp.CheckRecording(t, "api", 1280, 720)
		joinStopped := time.Now()
		var stopped struct {
			Status string `json:"status"`
		}
		if status := postJSON(t, url, s.bearer(t), "StopEgress", `{"egress_id": "`+j.EgressID+`"}`, &stopped); status != 200 || stopped.Status != "EGRESS_ENDING" {
			t.Fatalf("JSON stop: HTTP %d %+v, want EGRESS_ENDING", status, stopped)
		}
		time.Sleep(2 * time.Second) // speaker on record

		stopBegan := time.Now()
		ending, err := sdk.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: id})
		stopLatency := time.Since(stopBegan)
		if err != nil || ending.Status != livekit.EgressStatus_EGRESS_ENDING {
			t.Fatalf("StopEgress = %v, %v; want EGRESS_ENDING", ending, err)
		}
		final := waittest.AwaitStatus(t, remote, id, livekit.EgressStatus_EGRESS_COMPLETE, 10*time.Second)
		t.Logf("StopEgress answered ENDING in %v; COMPLETE %v after the call", stopLatency.Round(time.Millisecond), time.Unix(0, final.EndedAt).Sub(stopBegan).Round(time.Millisecond))
		if stopLatency > time.Second {
			t.Errorf("StopEgress took %v, want well under a second", stopLatency)
		}
		if _, err := sdk.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: id}); code(err) != twirp.FailedPrecondition {
			t.Errorf("second StopEgress: %v, want failed_precondition", err)
		}
		joinedFinal := waittest.AwaitStatus(t, remote, j.EgressID, livekit.EgressStatus_EGRESS_COMPLETE, 10*time.Second)

		if len(final.FileResults) != 1 || final.FileResults[0].Filename != path || final.FileResults[0].Size == 0 {
			t.Fatalf("file results %v", final.FileResults)
		}
		// What was asked: from ACTIVE to the stop call (one clock: the
		// engine runs in this process).
		last := verifyMP4(t, path, 1280, 720, 30, stopBegan.Sub(time.Unix(0, active.StartedAt)).Seconds(), people)
		verifyMP4(t, joined, 1280, 720, 30, joinStopped.Sub(time.Unix(0, joinedActive.StartedAt)).Seconds(), people)
		t.Logf("file results say %.2f s and %.2f s", time.Duration(final.FileResults[0].Duration).Seconds(), time.Duration(joinedFinal.FileResults[0].Duration).Seconds())
		t.Logf("joined egress: Start -> ACTIVE %v on the running composite", time.Unix(0, joinedActive.StartedAt).Sub(joinBegan).Round(time.Millisecond))

		// The layout switch is in the picture: equal tiles, then one
		// speaker far larger than the others.
		first, err := mediatest.FrameAt(path, 1)
		if err != nil {
			t.Fatal(err)
		}
		g, sp := colourShares(first, people), colourShares(last, people)
		t.Logf("colour shares: grid %v, speaker %v", g, sp)
		if spread(g) > 1.5 || spread(sp) < 3 {
			t.Errorf("colour shares grid %v (spread %.1f, want <= 1.5), speaker %v (spread %.1f, want >= 3): the layout did not switch", g, spread(g), sp, spread(sp))
		}

		events := rcv.WaitEnded(t, id, 10*time.Second)
		hookstest.CheckOrder(t, events)
		if n := len(events); events[n-1].EgressInfo.Status != livekit.EgressStatus_EGRESS_COMPLETE || len(events[n-1].EgressInfo.FileResults) != 1 {
			t.Errorf("egress_ended carries %v", events[n-1].EgressInfo)
		}
	})

	t.Run("stream outputs", func(t *testing.T) {
		testStreams(t, s, sdk, remote, dir)
	})
}

// TestTwoComposites: two rooms on the demo server, each with participants
// of its own, recorded at once on a budget of two composites: each file
// shows its room's people and none of the other's; a third composite is
// refused. They are 640x360 at 15 fps: two 720p30 composites and the demo
// room's publishers together need more than this 2-core machine has, and
// what is tested here is that composites run side by side, not throughput
// (the bench measures that).
func TestTwoComposites(t *testing.T) {
	s := newStage(t, 2)
	ctx := context.Background()
	second, err := s.demo.AddRoom(ctx, "second", 2)
	if err != nil {
		t.Fatal(err)
	}
	people := map[string][]demo.Persona{demo.DefaultRoom: s.demo.Participants(), "second": second}
	dir := t.TempDir()
	small := func(room, layout string) *livekit.RoomCompositeEgressRequest {
		return &livekit.RoomCompositeEgressRequest{
			RoomName: room, Layout: layout,
			Options:     &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{Width: 640, Height: 360, Framerate: 15}},
			FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, room+".mp4")}},
		}
	}
	plan, err := request.Build(small("x", "grid"), request.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cost := Capacity{}.Cost(plan.CompositeKey())
	url := s.serve(t, Config{Capacity: Capacity{CPUs: 2 * cost}})
	sdk := lksdk.NewEgressClient(url, s.demo.APIKey(), s.demo.APISecret())
	remote := s.remote(t, url)
	rooms := []string{demo.DefaultRoom, "second"}
	var ids []string
	for _, room := range rooms {
		info, err := sdk.StartRoomCompositeEgress(ctx, small(room, "grid"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.EgressId)
	}
	for _, id := range ids {
		waittest.AwaitStatus(t, remote, id, livekit.EgressStatus_EGRESS_ACTIVE, 60*time.Second)
	}
	_, err = sdk.StartRoomCompositeEgress(ctx, small(demo.DefaultRoom, "speaker"))
	if want := fmt.Sprintf("2 composites running use %s of %s CPUs", cores(2*cost), cores(2*cost)); code(err) != twirp.ResourceExhausted || !strings.Contains(err.Error(), want) {
		t.Errorf("third composite: %v, want resource_exhausted saying %q", err, want)
	}
	time.Sleep(5 * time.Second) // the recordings
	stopped := map[string]time.Time{}
	for _, id := range ids {
		stopped[id] = time.Now()
		if _, err := sdk.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: id}); err != nil {
			t.Fatal(err)
		}
	}
	for i, room := range rooms {
		final := waittest.AwaitStatus(t, remote, ids[i], livekit.EgressStatus_EGRESS_COMPLETE, 10*time.Second)
		last := verifyMP4(t, filepath.Join(dir, room+".mp4"), 640, 360, 15, stopped[ids[i]].Sub(time.Unix(0, final.StartedAt)).Seconds(), people[room])
		other := people[rooms[1-i]]
		for _, p := range other {
			if mediatest.Contains(last, p.Color, 50, 6) {
				t.Errorf("%s.mp4 shows %s of the other room", room, p.Identity)
			}
		}
	}
}

// testStreams: a file and an RTMP stream to a loopback nginx, a second URL
// added with UpdateStream, both ACTIVE in ListEgress with their keys
// redacted, the layout switched, ENDING on stop and COMPLETE later; the
// file and both streams verify. It skips while the engine refuses stream
// outputs.
func testStreams(t *testing.T, s *stage, sdk *lksdk.EgressClient, remote *engine.Remote, dir string) {
	rtmp := rtmptest.Start(t)
	ctx := context.Background()
	path := filepath.Join(dir, "with-stream.mp4")
	req := demoRequest(path, "grid")
	req.StreamOutputs = []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_RTMP, Urls: []string{rtmp.URL("key1")}}}
	info, err := sdk.StartRoomCompositeEgress(ctx, req)
	if err != nil {
		if strings.Contains(err.Error(), "stream_outputs") {
			t.Skipf("the engine refuses stream outputs for now: %v", err)
		}
		t.Fatal(err)
	}
	id := info.EgressId
	waittest.AwaitStatus(t, remote, id, livekit.EgressStatus_EGRESS_ACTIVE, 60*time.Second)
	time.Sleep(2 * time.Second) // one URL on record
	if _, err := sdk.UpdateStream(ctx, &livekit.UpdateStreamRequest{EgressId: id, AddOutputUrls: []string{rtmp.URL("key2")}}); err != nil {
		t.Fatalf("UpdateStream: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := sdk.ListEgress(ctx, &livekit.ListEgressRequest{EgressId: id, Active: true})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("ListEgress = %v, %v", list, err)
		}
		results := list.Items[0].StreamResults
		n := 0
		for _, sr := range results {
			if sr.Status == livekit.StreamInfo_ACTIVE {
				n++
			}
			if strings.Contains(sr.Url, "key1") || strings.Contains(sr.Url, "key2") {
				t.Fatalf("a stream result shows its stream key: %q", sr.Url)
			}
		}
		if n == 2 && rtmp.Received("key2") > 20000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream results %v (%d bytes at key2), want two ACTIVE and media on both", results, rtmp.Received("key2"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := sdk.UpdateLayout(ctx, &livekit.UpdateLayoutRequest{EgressId: id, Layout: "speaker"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second) // both URLs and the new layout on record
	stopCalled := time.Now()
	ending, err := sdk.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: id})
	if err != nil || ending.Status != livekit.EgressStatus_EGRESS_ENDING {
		t.Fatalf("StopEgress = %v, %v; want EGRESS_ENDING", ending, err)
	}
	final := waittest.AwaitStatus(t, remote, id, livekit.EgressStatus_EGRESS_COMPLETE, 15*time.Second)
	last := verifyMP4(t, path, 1280, 720, 30, stopCalled.Sub(time.Unix(0, final.StartedAt)).Seconds(), s.demo.Participants())
	if sp := colourShares(last, s.demo.Participants()); spread(sp) < 3 {
		t.Errorf("colour shares at the end %v: not the speaker layout", sp)
	}
	if len(final.StreamResults) != 2 {
		t.Errorf("final stream results %v, want 2", final.StreamResults)
	}
	for _, key := range []string{"key1", "key2"} {
		rtmp.CheckRecording(t, key, 1280, 720)
	}
}

// TestSessionOnAnEgressService: "record each person separately" with the
// remote engine, on an Egress service (this API over the embedded
// engine): the people come from the LiveKit server's room service, their
// participant egresses run on the service, and the manifest lists the
// composite and each person's COMPLETE file, in their colour.
func TestSessionOnAnEgressService(t *testing.T) {
	s := newStage(t, 2)
	url := s.serve(t, Config{})
	remote, err := engine.NewRemote(engine.RemoteConfig{URL: url, RoomsURL: s.demo.URL(), APIKey: s.demo.APIKey(), APISecret: s.demo.APISecret(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	manifest := filepath.Join(dir, "show-session.json")
	req := &livekit.RoomCompositeEgressRequest{RoomName: demo.DefaultRoom, Layout: "grid",
		Options:     &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{Width: 640, Height: 360, Framerate: 15}},
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, "show.mp4")}}}
	show, info, err := session.Start(context.Background(), session.Config{Studio: remote, Composite: req, People: true, Manifest: manifest, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	active := waittest.AwaitStatus(t, remote, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 60*time.Second)
	time.Sleep(time.Until(time.Unix(0, active.StartedAt).Add(8 * time.Second)))
	if err := show.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("manifest:\n%s", data)
	var m session.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Composite.Status != livekit.EgressStatus_EGRESS_COMPLETE.String() || m.Composite.File == "" {
		t.Errorf("composite %+v, want COMPLETE with its file", m.Composite)
	}
	byIdentity := map[string]session.Entry{}
	for _, e := range m.People {
		byIdentity[e.Identity] = e
	}
	for _, p := range s.demo.Participants() {
		e, ok := byIdentity[p.Identity]
		if !ok || e.Status != livekit.EgressStatus_EGRESS_COMPLETE.String() || e.File == "" || e.OffsetSeconds == nil {
			t.Errorf("%s: %+v, want a COMPLETE file with an offset", p.Identity, e)
			continue
		}
		frame, err := mediatest.FrameAt(e.File, 2)
		if err != nil {
			t.Error(err)
			continue
		}
		if !mediatest.Contains(frame, p.Color, 40, 8) {
			t.Errorf("%s's file %s does not show their colour at 2 s", p.Identity, e.File)
		}
		for _, other := range s.demo.Participants() {
			if other.Identity != p.Identity && mediatest.Contains(frame, other.Color, 40, 8) {
				t.Errorf("%s's file %s shows %s too: want them alone", p.Identity, e.File, other.Identity)
			}
		}
	}
	if len(m.People) != len(s.demo.Participants()) {
		t.Errorf("%d people in the manifest, want %d", len(m.People), len(s.demo.Participants()))
	}
}

package api

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"roomcast/engine/request"
)

func key(room, layout string, w, h, fps int) request.CompositeKey {
	return request.CompositeKey{Room: room, Layout: layout, Width: w, Height: h, FPS: fps}
}

func audioOnly(k request.CompositeKey) request.CompositeKey {
	k.AudioOnly = true
	return k
}

func TestCapacityCost(t *testing.T) {
	cases := []struct {
		name string
		cap  Capacity
		key  request.CompositeKey
		want float64
	}{
		{"720p30 default", Capacity{}, key("r", "grid", 1280, 720, 30), 1.0},
		{"1080p30 default", Capacity{}, key("r", "grid", 1920, 1080, 30), 1.6},
		{"portrait 720p30 costs as landscape", Capacity{}, key("r", "grid", 720, 1280, 30), 1.0},
		{"720p60 on the line", Capacity{}, key("r", "grid", 1280, 720, 60), 1.48},
		{"1080p60 on the line", Capacity{}, key("r", "grid", 1920, 1080, 60), 2.68},
		{"audio only: the browser", Capacity{}, audioOnly(key("r", "grid", 1280, 720, 30)), 0.52},
		{"configured costs", Capacity{Cost720p30: 0.5, Cost1080p30: 0.8}, key("r", "grid", 1920, 1080, 30), 0.8},
		{"steep line keeps a floor", Capacity{Cost720p30: 1, Cost1080p30: 10}, key("r", "grid", 500, 144, 1), 0.1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.cap.Cost(c.key); math.Abs(got-c.want) > 0.005 {
				t.Errorf("Cost = %.3f, want %.2f", got, c.want)
			}
		})
	}
}

func TestCapacityCheck(t *testing.T) {
	cases := []struct {
		name string
		cap  Capacity
		ok   bool
	}{
		{"defaults", Capacity{CPUs: 2}, true},
		{"no limit", Capacity{}, true},
		{"negative budget", Capacity{CPUs: -1}, false},
		{"NaN budget", Capacity{CPUs: math.NaN()}, false},
		{"1080p cheaper than 720p", Capacity{CPUs: 2, Cost720p30: 1, Cost1080p30: 0.5}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.cap.check(); (err == nil) != c.ok {
				t.Errorf("check() = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func TestCapacityAdmit(t *testing.T) {
	grid := key("demo", "grid", 1280, 720, 30)
	speaker := key("demo", "speaker", 1280, 720, 30)
	other := key("other", "grid", 1280, 720, 30)
	full1080 := key("demo", "grid", 1920, 1080, 30)
	audioGrid := audioOnly(grid)
	cases := []struct {
		name    string
		cpus    float64
		inUse   []request.CompositeKey
		want    request.CompositeKey
		refused string // "" for admitted; else a part of the message
	}{
		{"first composite fits", 1, nil, grid, ""},
		{"no limit", 0, []request.CompositeKey{grid, speaker, other}, full1080, ""},
		{"join the running composite", 1, []request.CompositeKey{grid}, grid, ""},
		{"another layout is another composite", 1, []request.CompositeKey{grid}, speaker, "1 composite running uses 1.0 of 1.0 CPUs; a 720p30 composite needs 1.0 more"},
		{"another room is another composite", 1, []request.CompositeKey{grid}, other, "a 720p30 composite needs 1.0"},
		{"two fit in two", 2, []request.CompositeKey{grid}, other, ""},
		{"third refused", 2, []request.CompositeKey{grid, other}, speaker, "2 composites running use 2.0 of 2.0 CPUs"},
		{"1080p30 needs more", 2, []request.CompositeKey{grid}, full1080, "a 1080p30 composite needs 1.6"},
		{"audio only joins a video composite", 1, []request.CompositeKey{grid}, audioGrid, ""},
		{"video does not join an audio-only composite", 1, []request.CompositeKey{audioGrid}, grid, "a 720p30 composite needs 1.0"},
		{"audio only alone is cheap", 1.6, []request.CompositeKey{grid}, audioOnly(other), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Capacity{CPUs: c.cpus}.Admit(c.inUse, TrackLoad{}, c.want)
			if c.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var te twirp.Error
			if !errors.As(err, &te) || te.Code() != twirp.ResourceExhausted {
				t.Fatalf("err = %v, want resource_exhausted", err)
			}
			if !strings.Contains(te.Msg(), c.refused) {
				t.Errorf("message %q lacks %q", te.Msg(), c.refused)
			}
		})
	}
}

// TestCapacityWithTrackCopies: a track copy costs Capacity.CostTrack
// (0.05 by default) and a participant recording Capacity.CostRecording
// (0.4) beside the composites, and the composites beside them; a refusal
// says what runs.
func TestCapacityWithTrackCopies(t *testing.T) {
	grid := key("demo", "grid", 1280, 720, 30)
	other := key("other", "grid", 1280, 720, 30)
	for _, c := range []struct {
		name    string
		cpus    float64
		inUse   []request.CompositeKey
		tracks  TrackLoad
		admit   string // "copy", "recording", else the composite other
		refused string
	}{
		{"a copy beside a composite", 1.05, []request.CompositeKey{grid}, TrackLoad{}, "copy", ""},
		{"no room for one more copy", 1.05, []request.CompositeKey{grid}, TrackLoad{Copies: 1}, "copy", "1 composite and 1 track copy running use 1.05 of 1.05 CPUs; a track copy needs 0.05 more"},
		{"twenty copies in a core", 1, nil, TrackLoad{Copies: 19}, "copy", ""},
		{"the twenty-first refused", 1, nil, TrackLoad{Copies: 20}, "copy", "0 composites and 20 track copies running use 1.0 of 1.0 CPUs"},
		{"copies leave no room for a composite", 2, []request.CompositeKey{grid}, TrackLoad{Copies: 2}, "", "1 composite and 2 track copies running use 1.1 of 2.0 CPUs; a 720p30 composite needs 1.0 more"},
		{"a recording beside a composite", 1.4, []request.CompositeKey{grid}, TrackLoad{}, "recording", ""},
		{"no room for one more recording", 1.8, []request.CompositeKey{grid}, TrackLoad{Copies: 1, Recordings: 1}, "recording", "1 composite and 1 track copy and 1 participant recording running use 1.45 of 1.8 CPUs; a participant recording needs 0.4 more"},
		{"recordings leave no room for a composite", 2, nil, TrackLoad{Recordings: 3}, "", "0 composites and 3 participant recordings running use 1.2 of 2.0 CPUs; a 720p30 composite needs 1.0 more"},
		{"no limit", 0, []request.CompositeKey{grid, other}, TrackLoad{Copies: 100, Recordings: 100}, "copy", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			capacity := Capacity{CPUs: c.cpus}
			err := capacity.Admit(c.inUse, c.tracks, other)
			switch c.admit {
			case "copy":
				err = capacity.AdmitTrack(c.inUse, c.tracks)
			case "recording":
				err = capacity.AdmitRecording(c.inUse, c.tracks)
			}
			if c.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var te twirp.Error
			if !errors.As(err, &te) || te.Code() != twirp.ResourceExhausted || !strings.Contains(te.Msg(), c.refused) {
				t.Fatalf("err = %v, want resource_exhausted saying %q", err, c.refused)
			}
		})
	}
}

// TestCompositesFromRequests: the composites in use are found from the
// stored (redacted) requests, deduplicated, with the engine's defaults.
func TestCompositesFromRequests(t *testing.T) {
	info := func(req *livekit.RoomCompositeEgressRequest) *livekit.EgressInfo {
		return &livekit.EgressInfo{Request: &livekit.EgressInfo_RoomComposite{RoomComposite: request.RedactRequest(req)}}
	}
	file := []*livekit.EncodedFileOutput{{Filepath: "a.mp4"}}
	stream := []*livekit.StreamOutput{{Urls: []string{"rtmp://127.0.0.1/live/secretkey"}}}
	got := Composites([]*livekit.EgressInfo{
		info(&livekit.RoomCompositeEgressRequest{RoomName: "demo", FileOutputs: file}),
		info(&livekit.RoomCompositeEgressRequest{RoomName: "demo", Layout: "grid", StreamOutputs: stream}),
		info(&livekit.RoomCompositeEgressRequest{RoomName: "demo", Layout: "speaker", FileOutputs: file,
			Options: &livekit.RoomCompositeEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_H264_1080P_30}}),
		info(&livekit.RoomCompositeEgressRequest{RoomName: "demo", AudioOnly: true, FileOutputs: file}),
		{Request: &livekit.EgressInfo_Web{}}, // not ours: ignored
	}, nil)
	want := []request.CompositeKey{
		key("demo", "grid", 1280, 720, 30),
		key("demo", "speaker", 1920, 1080, 30),
		audioOnly(key("demo", "grid", 1280, 720, 30)),
	}
	if len(got) != len(want) {
		t.Fatalf("composites = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("composite %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

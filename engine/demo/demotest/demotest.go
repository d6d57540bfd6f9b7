// Package demotest starts the demo room for a test and stops it when the
// test ends, so that no test leaves a LiveKit server or a participant
// behind, even when it fails.
package demotest

import (
	"context"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine/demo"
	"roomcast/engine/mediatest"
	"roomcast/engine/waittest"
)

// startTimeout bounds the server's start and the participants' joining:
// seconds on an idle box, tens of seconds on a loaded 2-core one.
const startTimeout = 2 * time.Minute

// Start starts the demo room with opts, logging to the test unless
// opts.Logf is set; it fails the test if the room does not start, and
// closes it when the test ends.
func Start(t testing.TB, opts demo.Options) *demo.Demo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	d, err := demo.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// VerifyRecording checks a recording of the demo room: H.264 at w x h
// and 30 fps, seconds long (within a second), every frame decodable, AAC
// audio; with people, each one's colour in the middle frame and each
// one's tone in the sound.
func VerifyRecording(t testing.TB, path string, w, h int, seconds float64, people []demo.Persona) {
	t.Helper()
	want := mediatest.Expect{Width: w, Height: h, Seconds: seconds, Audio: "aac"}
	for _, p := range people {
		want.Colors = append(want.Colors, p.Color)
	}
	mediatest.VerifyVideo(t, path, want)
	if len(people) > 0 {
		VerifyTones(t, path, people)
	}
}

// VerifyTones checks that each person's tone is heard in path's sound
// (from its second second, for four).
func VerifyTones(t testing.TB, path string, people []demo.Persona) {
	t.Helper()
	VerifyTonesFrom(t, path, 1, people)
}

// VerifyTonesFrom checks that each person's tone is heard in path's sound
// for four seconds from start.
func VerifyTonesFrom(t testing.TB, path string, start float64, people []demo.Persona) {
	t.Helper()
	const rate = 48000
	pcm, err := mediatest.AudioPCM(path, rate, start, 4)
	if err != nil {
		t.Fatal(err)
	}
	// 550 Hz lies between the demo's tones: the noise floor to beat.
	floor := mediatest.ToneLevel(pcm, rate, 550)
	for _, person := range people {
		if lvl := mediatest.ToneLevel(pcm, rate, person.ToneHz); lvl < 0.01 || lvl < 5*floor {
			t.Errorf("%s's %g Hz tone at %.4f (floor %.4f) from %.1f s: not heard", person.Identity, person.ToneHz, lvl, floor, start)
		}
	}
}

// Tracks is each demo person's published tracks, by identity and type,
// once every one has published its camera and microphone: Start returns
// as they join, and a track can follow a moment later.
func Tracks(t testing.TB, d *demo.Demo) map[string]map[livekit.TrackType]*livekit.TrackInfo {
	t.Helper()
	rooms := lksdk.NewRoomServiceClient(d.HTTPURL(), d.APIKey(), d.APISecret())
	out := map[string]map[livekit.TrackType]*livekit.TrackInfo{}
	waittest.Until(t, 10*time.Second, "every demo person's camera and microphone published", func() bool {
		res, err := rooms.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: d.Room()})
		if err != nil {
			t.Fatal(err)
		}
		clear(out)
		complete := len(res.Participants) > 0
		for _, p := range res.Participants {
			out[p.Identity] = map[livekit.TrackType]*livekit.TrackInfo{}
			for _, tr := range p.Tracks {
				out[p.Identity][tr.Type] = tr
			}
			complete = complete && len(out[p.Identity]) == 2
		}
		return complete
	})
	return out
}

//go:build integration

package demo_test

import (
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
)

// TestLoudestIsActiveSpeaker: the participants' tones carry their audio
// level, so the LiveKit server reports them as active speakers, and the one
// made loudest with SetVolume comes first, as a subscriber sees it.
func TestLoudestIsActiveSpeaker(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 3})
	room, err := lksdk.ConnectToRoom(d.URL(), lksdk.ConnectInfo{
		APIKey: d.APIKey(), APISecret: d.APISecret(), RoomName: d.Room(), ParticipantIdentity: "listener",
	}, &lksdk.RoomCallback{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Disconnect)

	// await polls the room's active speakers (the SDK's callbacks run on
	// goroutines of their own and may arrive out of order) until ok.
	await := func(what string, ok func([]string) bool) time.Duration {
		t.Helper()
		began := time.Now()
		var got []string
		for time.Since(began) < 10*time.Second {
			got = got[:0]
			for _, p := range room.ActiveSpeakers() {
				got = append(got, p.Identity())
			}
			if ok(got) {
				return time.Since(began)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("active speakers %v after 10 s, want %s", got, what)
		return 0
	}
	ids := []string{"alice", "bob", "carol"}
	// At the default volume everyone speaks. (A steady level is sent only
	// when it changes, or when someone subscribes: a speaker the listener
	// did not know yet at that moment may stay missing until its level
	// moves, so one is enough here.)
	took := await("someone speaking at the default volume", func(got []string) bool { return len(got) > 0 })
	t.Logf("first active speaker %v after the listener joined", took.Round(time.Millisecond))

	for _, loud := range []string{"carol", "alice"} {
		if err := d.SetVolume(loud, 1); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id != loud {
				if err := d.SetVolume(id, 0.05); err != nil {
					t.Fatal(err)
				}
			}
		}
		took := await(loud+" first of 3", func(got []string) bool { return len(got) == 3 && got[0] == loud })
		t.Logf("%s made the loudest: first of the active speakers after %v", loud, took.Round(time.Millisecond))
	}
	if err := d.SetVolume("bob", 1.5); err == nil {
		t.Error("SetVolume(1.5) was accepted, want an out-of-range error")
	}
}

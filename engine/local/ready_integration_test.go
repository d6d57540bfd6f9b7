//go:build integration

package local_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/local"
	"roomcast/engine/proctest"
)

// TestRoomViewKeptReady: an engine that keeps a room view ready starts a
// composite of its size on it, called into the request's room with the
// request's layout (the recording shows that layout and the room's
// people); a custom template starts cold and leaves the view for the next
// request; another size starts cold and is the size kept ready from then
// on. Closing the engine leaves no Chromium and no Xvfb behind.
func TestRoomViewKeptReady(t *testing.T) {
	d := demotest.Start(t, demo.Options{Participants: 3})
	people := demoPeople(d)
	log := &engineLog{t: t}
	eng, err := local.New(local.Config{
		LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(),
		KeepReady: true, Logf: log.logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = eng.Close()
		}
	})
	tpl := serveTemplate(t, customPage)
	dir := t.TempDir()

	steps := []struct {
		name         string
		layout       string
		custom       bool
		preset       livekit.EncodingOptionsPreset
		width        int
		height       int
		readyBefore  int  // room views made ready so far, to wait for
		takesOver    bool // the composite starts on the ready view
		checkPicture bool
	}{
		{"LiveKit's default size on the view kept ready", "speaker-light", false, livekit.EncodingOptionsPreset_H264_720P_30, 1280, 720, 1, true, true},
		{"a custom template starts cold", "my-own-layout", true, livekit.EncodingOptionsPreset_H264_720P_30, 1280, 720, 2, false, false},
		{"and leaves the view kept ready to the next", "grid", false, livekit.EncodingOptionsPreset_H264_720P_30, 1280, 720, 2, true, true},
		{"another size starts cold", "grid", false, livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30, 720, 1280, 3, false, true},
		{"and is the size kept ready from then on", "speaker", false, livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30, 720, 1280, 4, true, true},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			awaitLines(t, log, "room view is ready for the next composite", st.readyBefore, 60*time.Second)
			took := len(log.with("takes over the ready page"))
			path := filepath.Join(dir, fmt.Sprintf("step%d.mp4", i))
			req := &livekit.RoomCompositeEgressRequest{
				RoomName:    demo.DefaultRoom,
				Layout:      st.layout,
				Options:     &livekit.RoomCompositeEgressRequest_Preset{Preset: st.preset},
				FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}},
			}
			if st.custom {
				req.CustomBaseUrl = tpl.url + "/template"
			}
			rec := startRecording(t, eng, req)
			time.Sleep(3 * time.Second)
			rec.verify(t, rec.stop(t), st.width, st.height)
			if got := len(log.with("takes over the ready page")) > took; got != st.takesOver {
				t.Errorf("started on the ready view: %v, want %v", got, st.takesOver)
			}
			if st.checkPicture {
				checkFrame(t, path, 2, st.layout, people)
			}
		})
	}

	closed = true
	if err := eng.Close(); err != nil {
		t.Fatalf("engine close: %v", err)
	}
	for _, pid := range proctest.Descendants(os.Getpid()) {
		if cmd := proctest.Command(pid); strings.Contains(cmd, "chromium") || strings.Contains(cmd, "Xvfb") {
			t.Errorf("left after the engine closed: %d %s", pid, cmd)
		}
	}
}

// awaitLines waits until the engine has logged n lines containing substr.
func awaitLines(t *testing.T, log *engineLog, substr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(log.with(substr)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the engine logged %d lines with %q within %v, want %d", len(log.with(substr)), substr, timeout, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

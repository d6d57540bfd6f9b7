package ui

import (
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine/mediatest"
	"roomcast/engine/request"
)

var demoRooms = []*livekit.Room{{Name: "demo", NumParticipants: 3}, {Name: "standup", NumParticipants: 1}}

func presetLabel(t *testing.T, p livekit.EncodingOptionsPreset) string {
	t.Helper()
	for _, c := range presetChoices {
		if c.preset == p {
			return c.label
		}
	}
	t.Fatalf("no choice for %s", p)
	return ""
}

func TestPresetChoices(t *testing.T) {
	if len(presetChoices) != len(request.Presets) {
		t.Fatalf("%d choices for %d presets", len(presetChoices), len(request.Presets))
	}
	for _, c := range presetChoices {
		if c.preset == livekit.EncodingOptionsPreset_PASSTHROUGH {
			t.Error("PASSTHROUGH is offered; a room composite cannot pass through")
		}
	}
	for p, want := range map[livekit.EncodingOptionsPreset]string{
		livekit.EncodingOptionsPreset_H264_720P_30:           "720p30 · 1280×720 · 3 Mb/s",
		livekit.EncodingOptionsPreset_H264_1080P_60:          "1080p60 · 1920×1080 · 6 Mb/s",
		livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30:  "Portrait 720p30 · 720×1280 · 3 Mb/s",
		livekit.EncodingOptionsPreset_PORTRAIT_H264_1080P_30: "Portrait 1080p30 · 1080×1920 · 4.5 Mb/s",
	} {
		if got := presetLabel(t, p); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
}

// TestChooseRoomLayoutPreset picks a room from the server's list, a layout
// and a portrait preset as the operator does; the preview follows, and
// Start Recording sends exactly that.
func TestChooseRoomLayoutPreset(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	h.settle("rooms listed", func() bool { return len(h.s.rooms.rooms) == 2 })
	h.relayout()
	if h.s.rooms.room() != "demo" {
		t.Fatalf("room %q, want the demo room picked by itself", h.s.rooms.room())
	}
	if findText(h.w.Canvas().Content(), "3 people") == nil {
		t.Error("the room list does not show demo's 3 people")
	}

	h.tapText("standup")
	portrait := presetLabel(t, livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30)
	h.choose(h.s.enc.layout, "Speaker (light)")
	h.choose(h.s.enc.preset, portrait)
	if h.s.rooms.room() != "standup" {
		t.Fatalf("room %q after tapping standup", h.s.rooms.room())
	}

	h.settle("portrait preview of standup", func() bool {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		if len(eng.previews) == 0 {
			return false
		}
		last := eng.previews[len(eng.previews)-1]
		return last.RoomName == "standup" && last.Layout == "speaker-light" &&
			last.GetPreset() == livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30
	})
	if r := h.s.preview.aspect.ratio; r != 720.0/1280 {
		t.Errorf("preview aspect %.3f, want portrait 0.5625", r)
	}

	test.Tap(h.s.controls.record)
	h.settle("recording", func() bool { return h.s.controls.record.Text == "Stop Recording" })
	started, _, _ := eng.snapshot()
	req := started[0]
	if req.RoomName != "standup" || req.Layout != "speaker-light" || req.GetPreset() != livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30 {
		t.Errorf("started %s / %s / %s", req.RoomName, req.Layout, req.GetPreset())
	}
	path := req.FileOutputs[0].Filepath
	if filepath.Dir(path) != h.cfg.OutputDir || !strings.HasPrefix(filepath.Base(path), "standup-") ||
		!strings.HasSuffix(path, ".mp4") || strings.Contains(path, "{") {
		t.Errorf("file %q, want <output>/standup-<time>.mp4", path)
	}
	if findText(h.w.Canvas().Content(), "REC") == nil || h.s.controls.rec.dot.FillColor != colorRec {
		t.Error("the REC light is not on")
	}
	if !h.s.rooms.entry.Disabled() || !h.s.enc.preset.Disabled() {
		t.Error("room and preset can still change while recording")
	}

	test.Tap(h.s.controls.record)
	h.settle("saved", func() bool { return h.s.controls.savedBox.Visible() })
	if got := h.s.controls.saved.Text; !strings.HasPrefix(got, "Recording saved to "+filepath.Base(path)) || h.s.controls.savedIn.Text != "in "+filepath.Dir(path) {
		t.Errorf("saved lines %q, %q", got, h.s.controls.savedIn.Text)
	}
	if bottom, top := savedAndHistory(h.s); top < bottom {
		t.Errorf("the history starts at y=%.0f, over the saved lines, which end at y=%.0f", top, bottom)
	}
	if n := len(h.s.history.order); n != 1 {
		t.Fatalf("history has %d egresses, want 1", n)
	}
	info := h.s.history.get(h.s.history.order[0])
	if info.Status != livekit.EgressStatus_EGRESS_COMPLETE || !strings.Contains(historyDetail(info), filepath.Base(path)) {
		t.Errorf("history: %s %q", info.Status, historyDetail(info))
	}
	if h.s.controls.record.Text != "Start Recording" || h.s.rooms.entry.Disabled() {
		t.Error("the window did not come back to idle")
	}
}

// TestLayoutSwitchesLive: while recording, a layout change goes to the
// engine (UpdateLayout) and the recording goes on.
func TestLayoutSwitchesLive(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	test.Tap(h.s.controls.record)
	h.settle("recording", func() bool { return h.s.rec.phase == active })
	h.relayout()
	h.choose(h.s.enc.layout, "Speaker")
	h.settle("layout switched", func() bool { return h.s.runningLayout == "speaker" })
	eng.mu.Lock()
	layouts := eng.layouts
	eng.mu.Unlock()
	if len(layouts) != 1 || layouts[0] != "speaker" {
		t.Errorf("UpdateLayout calls %v, want [speaker]", layouts)
	}
	if _, stopped, _ := eng.snapshot(); len(stopped) != 0 || h.s.rec.phase != active {
		t.Error("the recording stopped")
	}
}

// TestIncidentShown: while a recording's composite has lost LiveKit, or
// its browser (its details say so), the status bar says the recording
// goes on; once over, it shows the connection again.
func TestIncidentShown(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	test.Tap(h.s.controls.record)
	h.settle("recording", func() bool { return h.s.rec.phase == active })
	connected := h.s.status.conn.Text
	for _, c := range []struct{ details, want string }{
		{"reconnecting to LiveKit since 17:32:15 (disconnected: SERVER_SHUTDOWN)", "Reconnecting to LiveKit (lost at 17:32:15 UTC); recording goes on…"},
		{"LiveKit connection lost at 17:32:15 for 2.3 s, reconnected", connected},
		{"browser relaunching since 17:40:01 (the browser stopped: signal: killed)", "Restarting the browser (it died at 17:40:01 UTC); recording goes on with the slate…"},
		{"browser died at 17:40:01, picture back after 3.1 s (the browser stopped: signal: killed)", connected},
	} {
		eng.mu.Lock()
		info := proto.Clone(eng.infos[h.s.rec.id]).(*livekit.EgressInfo)
		info.Details = c.details
		eng.publishLocked(info)
		eng.mu.Unlock()
		h.settle("status bar: "+c.want, func() bool { return h.s.status.conn.Text == c.want })
	}
	if h.s.rec.phase != active {
		t.Error("the recording stopped")
	}
}

// TestPreviewShowsFrames: the engine's frames are painted in the preview,
// upright for portrait.
func TestPreviewShowsFrames(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	h.settle("a frame", func() bool { return h.s.preview.latestFrame() != nil })
	h.drain()
	h.relayout()
	img := h.w.Canvas().Capture()
	area := h.areaOf(h.s.preview.raster, img)
	if area.Dx() <= area.Dy() {
		t.Errorf("landscape preview drawn %v", area)
	}
	for _, c := range []color.RGBA{{R: 255, A: 255}, {G: 255, A: 255}} {
		if !mediatest.RegionContains(img, area, c, 10, 4) {
			t.Errorf("preview area %v has no %v", area, c)
		}
	}
	if h.s.preview.painted.Load() == 0 {
		t.Error("no frame counted as painted")
	}

	h.choose(h.s.enc.preset, presetLabel(t, livekit.EncodingOptionsPreset_PORTRAIT_H264_1080P_30))
	h.settle("a portrait frame", func() bool {
		f := h.s.preview.latestFrame()
		return f != nil && f.Bounds().Dy() > f.Bounds().Dx()
	})
	h.drain()
	h.relayout()
	img = h.w.Canvas().Capture()
	if area := h.areaOf(h.s.preview.raster, img); area.Dx() >= area.Dy() {
		t.Errorf("portrait preview drawn %v", area)
	}
}

// areaOf is o's rectangle in a capture of the window.
func (h *harness) areaOf(o fyne.CanvasObject, img image.Image) image.Rectangle {
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	scale := float32(img.Bounds().Dx()) / h.w.Canvas().Size().Width
	return image.Rect(int(pos.X*scale), int(pos.Y*scale), int((pos.X+o.Size().Width)*scale), int((pos.Y+o.Size().Height)*scale)).Inset(3)
}

// TestValidation: bad input is shown at its field before anything
// starts, and what runs is not touched.
func TestValidation(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))

	t.Run("empty room", func(t *testing.T) {
		h.s.rooms.entry.SetText("")
		test.Tap(h.s.controls.record)
		h.drain()
		if got := h.s.rooms.field.errorText(); got != "Required; name the LiveKit room to record." {
			t.Errorf("room message %q", got)
		}
		if !strings.Contains(h.s.controls.message.Text, "name the LiveKit room") {
			t.Errorf("message under the buttons %q", h.s.controls.message.Text)
		}
		test.Type(h.s.rooms.entry, "demo")
		if got := h.s.rooms.field.errorText(); got != "" {
			t.Errorf("room message %q after typing a name", got)
		}
	})

	t.Run("folder is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "notes.txt")
		os.WriteFile(file, nil, 0o644)
		h.s.outputs.folder.SetText("")
		test.Type(h.s.outputs.folder, file)
		if got := h.s.outputs.folderField.errorText(); got != "This is a file, not a folder." {
			t.Errorf("folder message as typed: %q", got)
		}
		test.Tap(h.s.controls.record)
		h.drain()
		if got := h.s.outputs.folderField.errorText(); got == "" {
			t.Error("no folder message on Start")
		}
	})

	t.Run("folder cannot be written", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "notes.txt")
		os.WriteFile(file, nil, 0o644)
		h.s.outputs.folder.SetText(filepath.Join(file, "recordings"))
		test.Tap(h.s.controls.record)
		h.drain()
		if got := h.s.outputs.folderField.errorText(); !strings.Contains(got, "Cannot create the folder") {
			t.Errorf("folder message %q", got)
		}
		h.s.outputs.folder.SetText(h.cfg.OutputDir)
	})

	t.Run("destination not rtmp", func(t *testing.T) {
		test.Type(h.s.dests.entry, "https://example.com/live/key1234567")
		if got := h.s.dests.field.errorText(); !strings.Contains(got, "is not an rtmp:// or rtmps:// URL") {
			t.Errorf("destination message %q", got)
		}
		if strings.Contains(h.s.dests.field.errorText(), "key1234567") {
			t.Error("the message shows the stream key")
		}
		test.Tap(h.s.dests.add)
		if len(h.s.dests.list()) != 0 {
			t.Error("a bad destination was added")
		}
		h.s.dests.entry.SetText("")
	})

	t.Run("HLS segment length", func(t *testing.T) {
		h.s.outputs.hls.SetChecked(true)
		h.s.outputs.segments.SetText("")
		test.Type(h.s.outputs.segments, "abc")
		if got := h.s.outputs.segField.errorText(); got != "Give a whole number of seconds." {
			t.Errorf("segment message %q", got)
		}
		h.s.outputs.segments.SetText("90")
		if got := h.s.outputs.segField.errorText(); !strings.Contains(got, "90 s is over 60 s") {
			t.Errorf("segment message %q", got)
		}
		h.s.outputs.segments.SetText("6")
		h.s.outputs.hls.SetChecked(false)
	})

	if started, _, _ := eng.snapshot(); len(started) != 0 {
		t.Fatalf("%d egresses started from bad input", len(started))
	}

	t.Run("running recording untouched", func(t *testing.T) {
		test.Tap(h.s.controls.record)
		h.settle("recording", func() bool { return h.s.rec.phase == active })
		test.Tap(h.s.controls.stream) // no destinations
		h.drain()
		if got := h.s.dests.field.errorText(); !strings.Contains(got, "give at least one rtmp:// or rtmps:// URL") {
			t.Errorf("destinations message %q", got)
		}
		started, stopped, _ := eng.snapshot()
		if len(started) != 1 || len(stopped) != 0 || h.s.rec.phase != active || h.s.live.phase != idle {
			t.Errorf("started %d, stopped %d, recording %v, stream %v", len(started), len(stopped), h.s.rec.phase, h.s.live.phase)
		}
	})

	t.Run("engine refusal shown at the field", func(t *testing.T) {
		eng.mu.Lock()
		eng.startErr = errors.New("stream_outputs: RTMP streaming is not available in this build yet; record to a file")
		eng.mu.Unlock()
		h.s.dests.append("rtmp://live.example.com/app/key1234567")
		test.Tap(h.s.controls.stream)
		h.settle("refused", func() bool { return h.s.live.phase == idle && h.s.dests.field.errorText() != "" })
		if got := h.s.dests.field.errorText(); got != "RTMP streaming is not available in this build yet; record to a file." {
			t.Errorf("destinations message %q", got)
		}
		if h.s.controls.stream.Text != "Start Streaming" || h.s.rec.phase != active {
			t.Error("the refusal disturbed the buttons or the recording")
		}
	})
}

func TestUserMessage(t *testing.T) {
	for _, c := range []struct {
		err         error
		field, want string
	}{
		{errors.New("stream_outputs[0].urls[1]: \"rtmp:/x\" is not an rtmp:// or rtmps:// URL"), "stream_outputs[0].urls[1]", "\"rtmp:/x\" is not an rtmp:// or rtmps:// URL."},
		{errors.New("chromium: exited early"), "", "Chromium: exited early."},
		{errors.New("is it there?"), "", "Is it there?"},
		{errors.New("livekit-server not found: run `make deps`"), "", "livekit-server not found: run `make deps`."},
		{errors.New("x264enc: not negotiated"), "", "x264enc: not negotiated."},
		{errors.New("required; name the room"), "", "Required; name the room."},
	} {
		if got := errorField(c.err); got != c.field {
			t.Errorf("errorField(%q) = %q, want %q", c.err, got, c.field)
		}
		if got := userMessage(c.err); got != c.want {
			t.Errorf("userMessage(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}

// savedAndHistory gives where, in the window, the "Recording saved" lines
// end and the history (its heading) starts: the saved lines must push the
// history down, not be drawn over it. Call it on Fyne's goroutine.
func savedAndHistory(s *studio) (savedBottom, historyTop float32) {
	d := fyne.CurrentApp().Driver()
	box := s.controls.savedBox
	return d.AbsolutePositionForObject(box).Y + box.Size().Height, d.AbsolutePositionForObject(s.stage.Objects[2]).Y
}

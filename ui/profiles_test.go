package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2/test"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
)

// assertPrivate fails unless path is readable by its owner only.
func assertPrivate(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s has mode %o, want %o (it holds keys)", path, got, want)
	}
}

// TestProfiles saves the setup as a profile, loads it back over a changed
// setup, renames and deletes it, through the window's own buttons and
// dialogs.
func TestProfiles(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	h.relayout()
	h.tapText("standup")
	h.choose(h.s.enc.layout, "Single speaker")
	h.choose(h.s.enc.preset, presetLabel(t, livekit.EncodingOptionsPreset_H264_1080P_30))
	h.s.dests.append(twitch)
	h.s.outputs.hls.SetChecked(true)
	h.s.schedule.entries["record_at"].SetText("21:00")
	h.s.schedule.entries["record_for"].SetText("1h30m")

	test.Tap(h.s.profiles.saveAs)
	test.Type(h.s.profiles.nameEntry, "Weekly show")
	test.Tap(h.s.profiles.nameOK)
	dir := filepath.Join(h.cfg.ConfigDir, "profiles")
	file := filepath.Join(dir, "Weekly-show.yaml")
	assertPrivate(t, file, 0o600)
	assertPrivate(t, dir, 0o700)
	if h.s.profiles.selected() != "Weekly show" {
		t.Errorf("picker shows %q after saving", h.s.profiles.selected())
	}
	data, _ := os.ReadFile(file)
	for _, want := range []string{"name: Weekly show", "room: standup", "layout: single-speaker", "preset: H264_1080P_30", twitch, "hls: true", "stop_after: 1h30m"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("profile file lacks %q:\n%s", want, data)
		}
	}

	t.Run("name taken", func(t *testing.T) {
		test.Tap(h.s.profiles.saveAs)
		test.Type(h.s.profiles.nameEntry, "Weekly show")
		test.Tap(h.s.profiles.nameOK)
		if got := h.s.profiles.nameField.errorText(); !strings.Contains(got, "exists") {
			t.Errorf("name message %q", got)
		}
		h.s.profiles.nameDlg.Hide()
	})

	// change everything, then load the profile back
	h.tapText("demo")
	h.choose(h.s.enc.layout, "Grid")
	h.s.dests.setList(nil, nil)
	h.s.outputs.hls.SetChecked(false)
	h.s.schedule.set(profile{})
	h.s.profiles.reload("")
	h.relayout()
	h.choose(h.s.profiles.picker, "Weekly show")
	p := h.s.snapshot()
	if p.Room != "standup" || p.Layout != "single-speaker" || p.Preset != "H264_1080P_30" ||
		len(p.Destinations) != 1 || p.Destinations[0] != twitch || !p.Record.HLS ||
		p.Schedule.Record != (scheduledRun{StartAt: "21:00", StopAfter: "1h30m"}) {
		t.Errorf("loaded %+v", p)
	}

	t.Run("rename", func(t *testing.T) {
		h.relayout()
		test.Tap(h.s.profiles.more)
		h.tapText("Rename…")
		h.s.profiles.nameEntry.SetText("")
		test.Type(h.s.profiles.nameEntry, "Daily show")
		test.Tap(h.s.profiles.nameOK)
		names, _ := h.s.profiles.store.names()
		if len(names) != 1 || names[0] != "Daily show" || h.s.profiles.selected() != "Daily show" {
			t.Errorf("profiles %v, picked %q", names, h.s.profiles.selected())
		}
		if _, err := os.Stat(file); !os.IsNotExist(err) {
			t.Error("the old file is still there")
		}
		assertPrivate(t, filepath.Join(dir, "Daily-show.yaml"), 0o600)
	})

	t.Run("delete", func(t *testing.T) {
		h.relayout()
		test.Tap(h.s.profiles.more)
		h.tapText("Delete…")
		h.relayout()
		test.Tap(h.button("Yes"))
		names, _ := h.s.profiles.store.names()
		if len(names) != 0 || h.s.profiles.selected() != "" {
			t.Errorf("profiles %v after delete", names)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*.yaml")); len(left) != 0 {
			t.Errorf("files left: %v", left)
		}
	})
}

func TestProfileImportExport(t *testing.T) {
	store := profileStore{dir: t.TempDir()}
	p := defaultProfile("/srv/recordings")
	p.Name, p.Room = "Town hall", "townhall"
	p.Advanced = &advanced{Width: 1280, Height: 720, Framerate: 25, VideoBitrate: 2500, KeyFrameInterval: 2, AudioBitrate: 96}
	p.Destinations = []string{twitch, youtube}

	out := filepath.Join(t.TempDir(), "town-hall.yaml")
	if err := writeProfile(p, out); err != nil {
		t.Fatal(err)
	}
	assertPrivate(t, out, 0o600)
	first, err := store.importFile(out)
	if err != nil {
		t.Fatal(err)
	}
	second, err := store.importFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if first.Name != "Town hall" || second.Name != "Town hall (2)" {
		t.Errorf("imported as %q and %q", first.Name, second.Name)
	}
	got, err := store.load("Town hall (2)")
	if err != nil {
		t.Fatal(err)
	}
	got.Name = p.Name
	if got.Room != p.Room || *got.Advanced != *p.Advanced || len(got.Destinations) != 2 || got.Destinations[1] != youtube || got.Record != p.Record {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, p)
	}
	// a profile with an existing file mode other than 0600 is written 0600
	os.Chmod(out, 0o644)
	if err := writeProfile(p, out); err != nil {
		t.Fatal(err)
	}
	assertPrivate(t, out, 0o600)
}

// connectLog records every connection the window makes, each served by
// the fake engine with the demo rooms.
type connectLog struct {
	mu    sync.Mutex
	conns []connection
}

func (l *connectLog) connector(eng *fakeStudio) engine.Connector {
	return func(ctx context.Context, c engine.Connection) (*engine.Session, error) {
		l.mu.Lock()
		l.conns = append(l.conns, connection{UseDemo: c.UseDemo, LiveKitURL: c.LiveKitURL, APIKey: c.APIKey, APISecret: c.APISecret, EngineURL: c.EngineURL})
		l.mu.Unlock()
		return eng.connector(demoRooms...)(ctx, c)
	}
}

func (l *connectLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *connectLog) get(i int) connection {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[i]
}

// TestSettings saves the settings (0600, keeping the command line's other
// keys) and reconnects to the server they name.
func TestSettings(t *testing.T) {
	log := &connectLog{}
	h := newHarness(t, log.connector(newFakeStudio()))
	cfgFile := filepath.Join(h.cfg.ConfigDir, "config.yaml")
	os.WriteFile(cfgFile, []byte("demo:\n  api_key: keep-me\n"), 0o644)

	d := newSettingsDialog(h.w, h.s.prefs, false, h.s.onSettingsSaved)
	d.show()
	test.Tap(d.useDemo) // off
	test.Type(d.url, "ftp://lk.example.com")
	if got := d.urlField.errorText(); got != "Use a ws://, wss://, http:// or https:// URL." {
		t.Errorf("URL message %q", got)
	}
	d.url.SetText("wss://lk.example.com")
	test.Type(d.apiKey, "APIkey")
	test.Tap(d.save)
	if got := d.secretFld.errorText(); got == "" {
		t.Error("saved without a secret")
	}
	test.Type(d.apiSecret, "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t")
	test.Type(d.bucket, "shows")
	test.Tap(d.save)
	h.settle("reconnected", func() bool { return log.count() == 2 && h.s.back != nil })

	assertPrivate(t, cfgFile, 0o600)
	data, _ := os.ReadFile(cfgFile)
	for _, want := range []string{"url: wss://lk.example.com", "api_secret: s3cr3t", "bucket: shows", "api_key: keep-me"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("config lacks %q:\n%s", want, data)
		}
	}
	want := connection{LiveKitURL: "wss://lk.example.com", APIKey: "APIkey", APISecret: "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"}
	if log.get(1) != want {
		t.Errorf("reconnected to %+v, want %+v", log.get(1), want)
	}
	st, err := h.s.settings.load()
	if err != nil || st.Connection != want || st.S3.Bucket != "shows" {
		t.Errorf("settings read back %+v, %v", st, err)
	}
}

// TestSettingsRemoteEngine: the engine switch needs a URL when on, is kept
// in config.yaml, and reconnects through that engine.
func TestSettingsRemoteEngine(t *testing.T) {
	log := &connectLog{}
	h := newHarness(t, log.connector(newFakeStudio()))

	d := newSettingsDialog(h.w, h.s.prefs, false, h.s.onSettingsSaved)
	d.show()
	if !d.engineURL.Disabled() || !d.remote.Disabled() {
		t.Error("the engine switch is editable while the demo room is chosen")
	}
	test.Tap(d.useDemo) // off
	if d.remote.Disabled() || !d.engineURL.Disabled() {
		t.Error("with a server: the switch should be editable and its URL not until it is on")
	}
	test.Type(d.url, "wss://lk.example.com")
	test.Type(d.apiKey, "APIkey")
	test.Type(d.apiSecret, "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t")
	test.Tap(d.remote)
	test.Tap(d.save)
	if got := d.engineField.errorText(); !strings.Contains(got, "roomcast serve") {
		t.Errorf("saved a remote engine without its URL; message %q", got)
	}
	test.Type(d.engineURL, "http://recorder.example.com:7890")
	test.Tap(d.save)
	h.settle("reconnected", func() bool { return log.count() == 2 && h.s.back != nil })
	want := connection{LiveKitURL: "wss://lk.example.com", APIKey: "APIkey", APISecret: "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t", EngineURL: "http://recorder.example.com:7890"}
	if log.get(1) != want {
		t.Errorf("reconnected to %+v, want %+v", log.get(1), want)
	}
	if st, err := h.s.settings.load(); err != nil || st.Connection != want {
		t.Errorf("settings read back %+v, %v", st.Connection, err)
	}

	// Off again: this machine's engine.
	d = newSettingsDialog(h.w, h.s.prefs, false, h.s.onSettingsSaved)
	d.show()
	test.Tap(d.remote)
	test.Tap(d.save)
	h.settle("reconnected locally", func() bool { return log.count() == 3 && h.s.back != nil })
	if log.get(2).EngineURL != "" {
		t.Errorf("switched off, still connects to engine %q", log.get(2).EngineURL)
	}
}

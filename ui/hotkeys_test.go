package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"github.com/spf13/viper"
)

func TestParseHotkey(t *testing.T) {
	for _, c := range []struct {
		in, want string // want "" for a refusal
		says     string // what the refusal says
	}{
		{"Ctrl+R", "Ctrl+R", ""},
		{" ctrl + shift + f5 ", "Ctrl+Shift+F5", ""},
		{"Alt+space", "Alt+Space", ""},
		{"Super+7", "Super+7", ""},
		{"Shift+Ctrl+M", "Ctrl+Shift+M", ""},
		{"R", "", "needs Ctrl, Alt or Super"},
		{"Shift+R", "", "needs Ctrl, Alt or Super"},
		{"Ctrl+Enter", "", "end with a letter, a digit, F1-F12 or Space"},
		{"Ctrl+F13", "", "end with a letter"},
		{"Hyper+R", "", `"Hyper" is not a modifier`},
		{"", "", "end with a letter"},
	} {
		sc, err := parseHotkey(c.in)
		switch {
		case c.want == "" && (err == nil || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%q: %v, want a refusal saying %q", c.in, err, c.says)
		case c.want != "" && err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.want != "" && formatHotkey(sc) != c.want:
			t.Errorf("%q reads as %q, want %q", c.in, formatHotkey(sc), c.want)
		}
	}
}

func TestHotkeysCheck(t *testing.T) {
	h := defaultHotkeys()
	if errs := h.check(); len(errs) != 0 {
		t.Errorf("the defaults: %v", errs)
	}
	h.Keys[hotkeyStream] = "ctrl+r"
	h.Keys[hotkeyKeys] = "K"
	errs := h.check()
	if err := errs[hotkeyStream]; err == nil || !strings.Contains(err.Error(), "Ctrl+R is already the hotkey to start or stop recording") {
		t.Errorf("a clash: %v", err)
	}
	if errs[hotkeyKeys] == nil || errs[hotkeyRecord] != nil {
		t.Errorf("errors %v, want keys refused and record kept", errs)
	}
}

// press types a hotkey into the window.
func (h *harness) press(keys string) {
	h.t.Helper()
	sc, err := parseHotkey(keys)
	if err != nil {
		h.t.Fatal(err)
	}
	h.w.Canvas().(fyne.Shortcutable).TypedShortcut(sc)
	h.drain()
}

// overlayText finds text in the window's pop-ups.
func (h *harness) overlayText(text string) bool {
	for _, o := range h.w.Canvas().Overlays().List() {
		if findText(o, text) != nil {
			return true
		}
	}
	return false
}

// TestHotkeysInTheWindow: the hotkeys do what the buttons do; one that
// would stop a recording asks first, and stops it only once confirmed.
func TestHotkeysInTheWindow(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	h.press("Ctrl+R")
	h.settle("recording by hotkey", func() bool { return h.s.rec.phase == active })

	h.press("Ctrl+R")
	if !h.overlayText("Stop recording?") {
		t.Fatal("the stop hotkey did not ask first")
	}
	if h.s.rec.phase != active {
		t.Fatal("the stop hotkey stopped without being confirmed")
	}
	h.tapText("Yes")
	h.settle("stopped after confirming", func() bool { return h.s.rec.phase != active && h.s.controls.savedBox.Visible() })

	h.s.dests.append("rtmp://live.example.com/app/key")
	h.press("Ctrl+L")
	h.settle("streaming by hotkey", func() bool { return h.s.live.phase == active })
	h.s.hotkeys.ConfirmStop = false
	h.press("Ctrl+L")
	h.settle("stopped at once, not asked", func() bool { return h.s.live.phase != active })

	h.press("Ctrl+K")
	if !h.s.dests.shown {
		t.Error("Ctrl+K did not show the stream keys")
	}
}

// TestShortcutsDialogSaves: changed hotkeys are checked, saved to the
// config (mode 0600, its other keys kept), bound at once, and read back.
func TestShortcutsDialogSaves(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	path := filepath.Join(h.cfg.ConfigDir, "config.yaml")
	if err := h.s.settings.save(settings{OutputDir: "/srv/shows"}); err != nil {
		t.Fatal(err)
	}

	d := newShortcutsDialog(h.w, h.s.hotkeys, h.s.onHotkeysSaved)
	d.dlg.Show()
	d.entries[hotkeyRecord].SetText("Ctrl+Shift+R")
	d.entries[hotkeyStream].SetText("ctrl+shift+r")
	d.onSaveTapped()
	if msg := d.fields[hotkeyStream].message; !msg.Visible() || !strings.Contains(msg.Text, "already the hotkey") {
		t.Errorf("a clash is not shown: %q", msg.Text)
	}
	if raw, _ := os.ReadFile(path); strings.Contains(string(raw), "hotkeys") {
		t.Error("hotkeys that clash were saved")
	}

	d.entries[hotkeyStream].SetText("Alt+L")
	d.confirm.SetChecked(false)
	d.onSaveTapped()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"record: Ctrl+Shift+R", "stream: Alt+L", "confirm_stop: false", "output_dir: /srv/shows"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("config.yaml has no %q:\n%s", want, raw)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("config.yaml mode %v, want 0600", st.Mode().Perm())
	}
	h.press("Ctrl+R")
	if h.s.rec.phase == active {
		t.Error("the old hotkey still records")
	}
	h.press("Ctrl+Shift+R")
	h.settle("recording by the new hotkey", func() bool { return h.s.rec.phase == active })

	if got := loadHotkeys(mustReadYAML(t, path)); got.Keys[hotkeyRecord] != "Ctrl+Shift+R" || got.ConfirmStop {
		t.Errorf("read back: %+v", got)
	}
}

func mustReadYAML(t *testing.T, path string) *viper.Viper {
	t.Helper()
	v, err := readYAML(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

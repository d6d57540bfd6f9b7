package ui

import (
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
	"github.com/spf13/viper"
)

// A hotkey is a window shortcut with a modifier: Fyne fires a custom
// shortcut only with a modifier other than Shift, since a single key
// would be taken by a focused text field.

// hotkeyAction is what a hotkey does; its name is its key in the config
// (studio.hotkeys.<name>).
type hotkeyAction string

const (
	hotkeyRecord hotkeyAction = "record"
	hotkeyStream hotkeyAction = "stream"
	hotkeyKeys   hotkeyAction = "keys"
	hotkeyMark   hotkeyAction = "mark"
	hotkeyPause  hotkeyAction = "pause"
)

// hotkeyDef is an action with its label and default keys.
type hotkeyDef struct {
	action hotkeyAction
	label  string
	keys   string
}

// hotkeyActions are the actions in the order the Shortcuts dialog lists
// them.
var hotkeyActions = []hotkeyDef{
	{hotkeyRecord, "Start or stop recording", "Ctrl+R"},
	{hotkeyStream, "Start or stop streaming", "Ctrl+L"},
	{hotkeyPause, "Pause or resume recording", "Ctrl+P"},
	{hotkeyMark, "Mark the recording", "Ctrl+M"},
	{hotkeyKeys, "Show or hide stream keys", "Ctrl+K"},
}

// hotkeys are the window's shortcuts, as the config keeps them.
type hotkeys struct {
	Keys map[hotkeyAction]string // "Ctrl+Shift+R"
	// ConfirmStop asks before a hotkey stops a recording or a stream.
	ConfirmStop bool
}

func defaultHotkeys() hotkeys {
	h := hotkeys{Keys: map[hotkeyAction]string{}, ConfirmStop: true}
	for _, a := range hotkeyActions {
		h.Keys[a.action] = a.keys
	}
	return h
}

// hotkeyModifier is a modifier as a hotkey names it.
type hotkeyModifier struct {
	name string
	mod  fyne.KeyModifier
}

// hotkeyModifiers are the modifiers a hotkey may name, in the order it
// names them.
var hotkeyModifiers = []hotkeyModifier{
	{"Ctrl", fyne.KeyModifierControl},
	{"Alt", fyne.KeyModifierAlt},
	{"Shift", fyne.KeyModifierShift},
	{"Super", fyne.KeyModifierSuper},
}

// parseHotkey reads "Ctrl+Shift+R": modifiers, then one key (a letter, a
// digit, F1-F12 or Space).
func parseHotkey(s string) (*desktop.CustomShortcut, error) {
	parts := strings.Split(strings.TrimSpace(s), "+")
	sc := &desktop.CustomShortcut{}
	for _, p := range parts[:len(parts)-1] {
		i := slices.IndexFunc(hotkeyModifiers, func(m hotkeyModifier) bool { return strings.EqualFold(m.name, strings.TrimSpace(p)) })
		if i < 0 {
			return nil, fmt.Errorf("%q is not a modifier: use Ctrl, Alt, Shift or Super", p)
		}
		sc.Modifier |= hotkeyModifiers[i].mod
	}
	key := strings.ToUpper(strings.TrimSpace(parts[len(parts)-1]))
	switch {
	case len(key) == 1 && (key[0] >= 'A' && key[0] <= 'Z' || key[0] >= '0' && key[0] <= '9'):
	case key == "SPACE":
		key = string(fyne.KeySpace)
	case len(key) >= 2 && key[0] == 'F' && slices.Contains([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}, key[1:]):
	default:
		return nil, fmt.Errorf("%q is not a key a hotkey can use: end with a letter, a digit, F1-F12 or Space, as in Ctrl+R", s)
	}
	sc.KeyName = fyne.KeyName(key)
	if sc.Modifier&^fyne.KeyModifierShift == 0 {
		return nil, fmt.Errorf("%q needs Ctrl, Alt or Super: without one the key would be typed into a text field", s)
	}
	return sc, nil
}

// formatHotkey writes sc as parseHotkey reads it.
func formatHotkey(sc *desktop.CustomShortcut) string {
	var parts []string
	for _, m := range hotkeyModifiers {
		if sc.Modifier&m.mod != 0 {
			parts = append(parts, m.name)
		}
	}
	return strings.Join(append(parts, string(sc.KeyName)), "+")
}

// check says what is wrong with the hotkeys, per action: a key that does
// not parse, or one that two actions share.
func (h hotkeys) check() map[hotkeyAction]error {
	errs := map[hotkeyAction]error{}
	seen := map[string]hotkeyAction{}
	for _, a := range hotkeyActions {
		sc, err := parseHotkey(h.Keys[a.action])
		if err != nil {
			errs[a.action] = err
			continue
		}
		k := formatHotkey(sc)
		if other, dup := seen[k]; dup {
			errs[a.action] = fmt.Errorf("%s is already the hotkey to %s", k, strings.ToLower(labelOf(other)))
			continue
		}
		seen[k] = a.action
	}
	return errs
}

func labelOf(a hotkeyAction) string {
	i := slices.IndexFunc(hotkeyActions, func(d hotkeyDef) bool { return d.action == a })
	return hotkeyActions[i].label
}

// loadHotkeys reads the hotkeys from the config in v: the defaults for
// what it does not set.
func loadHotkeys(v *viper.Viper) hotkeys {
	h := defaultHotkeys()
	for _, a := range hotkeyActions {
		if k := v.GetString("studio.hotkeys." + string(a.action)); k != "" {
			h.Keys[a.action] = k
		}
	}
	if v.IsSet("studio.hotkeys.confirm_stop") {
		h.ConfirmStop = v.GetBool("studio.hotkeys.confirm_stop")
	}
	return h
}

// set puts the hotkeys in v.
func (h hotkeys) set(v *viper.Viper) {
	for _, a := range hotkeyActions {
		v.Set("studio.hotkeys."+string(a.action), h.Keys[a.action])
	}
	v.Set("studio.hotkeys.confirm_stop", h.ConfirmStop)
}

// bindHotkeys puts h on the window in place of the hotkeys it had. A
// hotkey that does not parse (a config edited by hand) is left out.
func (s *studio) bindHotkeys(h hotkeys) {
	c := s.win.Canvas()
	for _, sc := range s.boundKeys {
		c.RemoveShortcut(sc)
	}
	s.boundKeys = nil
	for _, a := range hotkeyActions {
		sc, err := parseHotkey(h.Keys[a.action])
		if err != nil {
			s.cfg.Logf("hotkey to %s: %v", strings.ToLower(a.label), err)
			continue
		}
		action := a.action
		c.AddShortcut(sc, func(fyne.Shortcut) { s.onHotkey(action) })
		s.boundKeys = append(s.boundKeys, sc)
	}
	s.hotkeys = h
}

// onHotkey does what the button would, asking first when it would stop
// a recording or a stream and the hotkeys say so.
func (s *studio) onHotkey(a hotkeyAction) {
	var button *widget.Button
	var run egressRun
	var tap func()
	switch a {
	case hotkeyRecord:
		button, run, tap = s.controls.record, s.rec, s.onRecord
	case hotkeyStream:
		button, run, tap = s.controls.stream, s.live, s.onStream
	case hotkeyKeys:
		s.dests.onReveal()
		return
	case hotkeyMark:
		button, tap = s.markers.mark, s.onMark
	case hotkeyPause:
		button, tap = s.controls.pause, s.onPause
	}
	if button.Disabled() {
		return
	}
	if run.phase != active || !s.hotkeys.ConfirmStop {
		tap()
		return
	}
	what := map[hotkeyAction]string{hotkeyRecord: "recording", hotkeyStream: "streaming"}[a]
	dialog.ShowConfirm("Stop "+what+"?", "You pressed the hotkey to stop "+what+".", func(ok bool) {
		if ok && s.activePhase(a) {
			tap()
		}
	}, s.win)
}

// activePhase says whether the run a hotkey stops is still on.
func (s *studio) activePhase(a hotkeyAction) bool {
	if a == hotkeyRecord {
		return s.rec.phase == active
	}
	return s.live.phase == active
}

// shortcutsDialog lists the hotkeys and changes them: one entry per
// action, checked as it is typed and for clashes on Save, and whether a
// hotkey that stops something asks first.
type shortcutsDialog struct {
	dlg     dialog.Dialog
	entries map[hotkeyAction]*widget.Entry
	fields  map[hotkeyAction]*field
	confirm *widget.Check
	onSave  func(hotkeys) error
	general *widget.Label
}

func newShortcutsDialog(win fyne.Window, h hotkeys, onSave func(hotkeys) error) *shortcutsDialog {
	d := &shortcutsDialog{entries: map[hotkeyAction]*widget.Entry{}, fields: map[hotkeyAction]*field{}, onSave: onSave}
	rows := container.NewVBox()
	for _, a := range hotkeyActions {
		e := &widget.Entry{Text: h.Keys[a.action], PlaceHolder: a.keys, Validator: func(s string) error {
			_, err := parseHotkey(s)
			return err
		}}
		e.ExtendBaseWidget(e)
		d.entries[a.action] = e
		d.fields[a.action] = newField(a.label, e)
		rows.Add(d.fields[a.action].object())
	}
	d.confirm = widget.NewCheck("Ask before a hotkey stops recording or streaming", nil)
	d.confirm.SetChecked(h.ConfirmStop)
	d.general = &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}
	d.general.Hide()
	note := &widget.Label{Text: "A hotkey needs Ctrl, Alt or Super, as in Ctrl+R or Ctrl+Shift+F5.", Importance: widget.LowImportance, Wrapping: fyne.TextWrapWord}
	save := &widget.Button{Text: "Save", Importance: widget.HighImportance, OnTapped: d.onSaveTapped}
	cancel := widget.NewButton("Cancel", func() { d.dlg.Hide() })
	content := container.NewVBox(note, rows, d.confirm, d.general, container.NewHBox(layout.NewSpacer(), cancel, save))
	d.dlg = dialog.NewCustomWithoutButtons("Shortcuts", content, win)
	d.dlg.Resize(fyne.NewSize(420, 0))
	return d
}

func (d *shortcutsDialog) values() hotkeys {
	h := hotkeys{Keys: map[hotkeyAction]string{}, ConfirmStop: d.confirm.Checked}
	for a, e := range d.entries {
		if sc, err := parseHotkey(e.Text); err == nil {
			h.Keys[a] = formatHotkey(sc)
		} else {
			h.Keys[a] = strings.TrimSpace(e.Text)
		}
	}
	return h
}

func (d *shortcutsDialog) onSaveTapped() {
	h := d.values()
	errs := h.check()
	for a, f := range d.fields {
		f.setError(errs[a])
	}
	if len(errs) > 0 {
		return
	}
	if err := d.onSave(h); err != nil {
		d.general.SetText("Not saved: " + err.Error())
		setShown(d.general, true)
		return
	}
	d.dlg.Hide()
}

// onShortcuts opens the Shortcuts dialog.
func (s *studio) onShortcuts() {
	newShortcutsDialog(s.win, s.hotkeys, s.onHotkeysSaved).dlg.Show()
}

// onHotkeysSaved writes the hotkeys to the config and binds them.
func (s *studio) onHotkeysSaved(h hotkeys) error {
	if err := s.settings.saveHotkeys(h); err != nil {
		return err
	}
	s.bindHotkeys(h)
	return nil
}

package ui

import (
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine/request"
)

// customTemplate is the layout choice for the operator's own template.
const customTemplate = "Custom template…"

// presetChoice is one entry of the preset picker.
type presetChoice struct {
	preset livekit.EncodingOptionsPreset
	label  string
}

// presetChoices are request.Presets (every preset a room composite takes:
// all but PASSTHROUGH, portrait included), labelled with the sizes and
// rates request.Build gives them, so the labels cannot drift from what is
// encoded.
var presetChoices = func() []presetChoice {
	out := make([]presetChoice, 0, len(request.Presets))
	for _, p := range request.Presets {
		pr := profile{Room: "x", Preset: p.String()}
		plan, err := request.Build(pr.previewRequest(), request.Options{})
		if err != nil {
			panic(fmt.Sprintf("preset %s: %v", p, err)) // request.Presets and Build disagree
		}
		out = append(out, presetChoice{preset: p, label: videoLabel(plan.Video, "")})
	}
	return out
}()

// videoLabel reads "720p30 · 1280×720 · 3 Mb/s", with "Portrait" in front
// for upright video and prefix before that.
func videoLabel(v request.Video, prefix string) string {
	lines := min(v.Width, v.Height)
	s := fmt.Sprintf("%dp%d · %d×%d · %g Mb/s", lines, v.FPS, v.Width, v.Height, float64(v.BitrateKbps)/1000)
	if v.Height > v.Width {
		s = "Portrait " + s
	}
	if prefix != "" {
		s = prefix + " " + s
	}
	return s
}

// layoutLabel shows a layout's name as a title: "speaker-light" reads
// "Speaker (light)".
func layoutLabel(name string) string {
	base, light := strings.CutSuffix(name, "-light")
	s := strings.ToUpper(base[:1]) + strings.ReplaceAll(base[1:], "-", " ")
	if light {
		s += " (light)"
	}
	return s
}

// encodingPanel picks how the room looks and is encoded: layout or custom
// template, preset or advanced options, audio-only or video-only.
type encodingPanel struct {
	win       fyne.Window
	onChanged func()

	layout        *widget.Select
	layoutField   *field
	template      *widget.Entry
	templateField *field
	preset        *widget.Select
	presetField   *field
	advButton     *widget.Button
	audioOnly     *widget.Check
	videoOnly     *widget.Check
	avField       *field

	adv       *advanced // nil: the preset applies
	advDialog *advancedDialog
}

func newEncodingPanel(win fyne.Window, onChanged func()) *encodingPanel {
	return &encodingPanel{win: win, onChanged: onChanged}
}

func (e *encodingPanel) buildUI() fyne.CanvasObject {
	e.layout = widget.NewSelect(append(e.layoutLabels(), customTemplate), nil)
	e.layout.SetSelectedIndex(0)
	e.layout.OnChanged = e.onLayout // after the first choice: the other widgets are not there yet
	e.layoutField = newField("Layout", e.layout)
	e.template = &widget.Entry{PlaceHolder: "https://example.com/template", Validator: e.validateTemplate, OnChanged: e.changed}
	e.template.ExtendBaseWidget(e.template)
	e.templateField = newField("Template URL", e.template)

	e.preset = widget.NewSelect(nil, nil)
	e.presetField = newField("Video", e.preset)
	e.advButton = widget.NewButtonWithIcon("Advanced…", theme.SettingsIcon(), e.onAdvanced)
	e.setPresetOptions()
	e.preset.SetSelectedIndex(0)
	e.preset.OnChanged = e.onPreset

	e.audioOnly = widget.NewCheck("Audio only", e.onAudioOnly)
	e.videoOnly = widget.NewCheck("Video only", e.onVideoOnly)
	e.avField = newField("Tracks", container.NewHBox(e.audioOnly, e.videoOnly))

	tmpl := e.templateField.object()
	e.templateField.caption.Hide()
	e.template.Hide()
	return container.NewVBox(e.layoutField.object(), tmpl, e.presetField.object(),
		container.NewHBox(e.advButton), e.avField.object())
}

func (e *encodingPanel) changed(string) { e.onChanged() }

func (e *encodingPanel) validateTemplate(s string) error {
	return validatorErr(fieldCheck(&livekit.RoomCompositeEgressRequest{CustomBaseUrl: strings.TrimSpace(s)}, "custom_base_url"))
}

func (e *encodingPanel) onLayout(choice string) {
	custom := choice == customTemplate
	setShown(e.templateField.caption, custom)
	setShown(e.template, custom)
	if !custom {
		e.templateField.setError(nil)
	}
	e.layoutField.setError(nil)
	e.onChanged()
}

// setPresetOptions lists the presets, and the advanced options when set.
func (e *encodingPanel) setPresetOptions() {
	var opts []string
	for _, c := range presetChoices {
		opts = append(opts, c.label)
	}
	if e.adv != nil {
		opts = append(opts, e.advancedLabel())
	}
	e.preset.Options = opts
	e.preset.Refresh()
}

func (e *encodingPanel) advancedLabel() string {
	p := profile{Room: "x", Advanced: e.adv}
	plan, err := request.Build(p.previewRequest(), request.Options{})
	if err != nil {
		return "Advanced (check the values)"
	}
	return videoLabel(plan.Video, "Advanced:")
}

func (e *encodingPanel) onPreset(choice string) {
	if e.adv != nil && choice != e.advancedLabel() {
		e.adv = nil // a preset picked over the advanced options
		e.setPresetOptions()
	}
	e.presetField.setError(nil)
	e.onChanged()
}

func (e *encodingPanel) onAdvanced() {
	e.advDialog = newAdvancedDialog(e.win, e.currentPlan(), e.applyAdvanced)
	e.advDialog.show()
}

// currentPlan is the encoding now chosen (the first preset's if the
// choice does not build), to fill the Advanced dialog.
func (e *encodingPanel) currentPlan() *request.Plan {
	p := profile{Room: "x"}
	e.get(&p)
	if plan, err := request.Build(p.previewRequest(), request.Options{}); err == nil {
		return plan
	}
	p = profile{Room: "x", Preset: presetChoices[0].preset.String()}
	plan, _ := request.Build(p.previewRequest(), request.Options{})
	return plan
}

func (e *encodingPanel) applyAdvanced(a advanced) {
	e.adv = &a
	e.setPresetOptions()
	e.preset.SetSelected(e.advancedLabel())
}

func (e *encodingPanel) onAudioOnly(on bool) {
	if on {
		e.videoOnly.SetChecked(false)
	}
	e.avField.setError(nil)
	e.onChanged()
}

func (e *encodingPanel) onVideoOnly(on bool) {
	if on {
		e.audioOnly.SetChecked(false)
	}
	e.avField.setError(nil)
	e.onChanged()
}

// get copies the panel into p.
func (e *encodingPanel) get(p *profile) {
	p.Layout, p.Template = "", ""
	if i := e.layout.SelectedIndex(); i >= 0 && i < len(request.Layouts) {
		p.Layout = request.Layouts[i]
	} else if e.layout.Selected == customTemplate {
		p.Template = strings.TrimSpace(e.template.Text)
	}
	p.Preset, p.Advanced = "", nil
	if e.adv != nil {
		a := *e.adv
		p.Advanced = &a
	} else if i := e.preset.SelectedIndex(); i >= 0 && i < len(presetChoices) {
		p.Preset = presetChoices[i].preset.String()
	}
	p.AudioOnly, p.VideoOnly = e.audioOnly.Checked, e.videoOnly.Checked
}

// set shows p in the panel.
func (e *encodingPanel) set(p profile) {
	switch {
	case p.Template != "":
		e.templateField.setText(p.Template)
		e.layout.SetSelected(customTemplate)
	default:
		name, err := request.CheckLayout(p.Layout)
		if err != nil {
			name = request.Layouts[0]
		}
		e.layout.SetSelectedIndex(slices.Index(request.Layouts, name))
	}
	e.adv = nil
	if p.Advanced != nil {
		a := *p.Advanced
		e.adv = &a
	}
	e.setPresetOptions()
	switch i := slices.IndexFunc(presetChoices, func(c presetChoice) bool { return c.preset.String() == p.Preset }); {
	case e.adv != nil:
		e.preset.SetSelected(e.advancedLabel())
	case i >= 0:
		e.preset.SetSelectedIndex(i)
	default:
		e.preset.SetSelectedIndex(0)
	}
	e.audioOnly.SetChecked(p.AudioOnly)
	e.videoOnly.SetChecked(p.VideoOnly)
}

// setEnabled locks what a running recording was started with. A
// built-in layout stays free, as the engine switches it live; a custom
// template does not switch.
func (e *encodingPanel) setEnabled(on bool) {
	for _, w := range []fyne.Disableable{e.preset, e.advButton, e.audioOnly, e.videoOnly, e.template} {
		if on {
			w.Enable()
		} else {
			w.Disable()
		}
	}
	custom := e.layout.Selected == customTemplate
	switch {
	case on:
		e.layout.Options = append(e.layoutLabels(), customTemplate)
		e.layout.Enable()
	case custom:
		e.layout.Disable()
	default:
		e.layout.Options = e.layoutLabels()
	}
	e.layout.Refresh()
}

func (e *encodingPanel) layoutLabels() []string {
	var out []string
	for _, l := range request.Layouts {
		out = append(out, layoutLabel(l))
	}
	return out
}

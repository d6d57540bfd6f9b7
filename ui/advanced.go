package ui

import (
	"errors"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine/request"
)

// advancedDialog edits livekit.EncodingOptions: size, frame rate, bitrates
// and key frame interval. Each value is checked as it is typed, by
// request.Build, so the limits are the engine's.
type advancedDialog struct {
	dlg     dialog.Dialog
	onApply func(advanced)

	width, height, fps, videoKbps, keyFrames, audioKbps *widget.Entry
	fields                                              map[string]*field // by request field
	general                                             *widget.Label
	apply, cancel                                       *widget.Button
}

func newAdvancedDialog(win fyne.Window, plan *request.Plan, onApply func(advanced)) *advancedDialog {
	d := &advancedDialog{onApply: onApply, fields: map[string]*field{}}
	v := plan.Video
	d.width = d.number("advanced.width", "Width (px)", strconv.Itoa(v.Width))
	d.height = d.number("advanced.height", "Height (px)", strconv.Itoa(v.Height))
	d.fps = d.number("advanced.framerate", "Frame rate (fps)", strconv.Itoa(v.FPS))
	d.videoKbps = d.number("advanced.video_bitrate", "Video bitrate (kb/s)", strconv.Itoa(v.BitrateKbps))
	d.keyFrames = d.number("advanced.key_frame_interval", "Key frame interval (s)", strconv.FormatFloat(v.KeyFrameIntervalSec, 'g', -1, 64))
	d.audioKbps = d.number("advanced.audio_bitrate", "Audio bitrate (kb/s)", strconv.Itoa(plan.Audio.BitrateKbps))
	d.general = &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}
	d.apply = &widget.Button{Text: "Apply", Importance: widget.HighImportance, OnTapped: d.onApplyTapped}
	d.cancel = widget.NewButton("Cancel", func() { d.dlg.Hide() })

	f := d.fields
	grid := container.NewGridWithColumns(2,
		f["advanced.width"].object(), f["advanced.height"].object(),
		f["advanced.framerate"].object(), f["advanced.key_frame_interval"].object(),
		f["advanced.video_bitrate"].object(), f["advanced.audio_bitrate"].object())
	buttons := container.NewHBox(layout.NewSpacer(), d.cancel, d.apply)
	content := container.NewVBox(grid, d.general, buttons)
	d.dlg = dialog.NewCustomWithoutButtons("Advanced encoding", content, win)
	d.dlg.Resize(fyne.NewSize(520, 0))
	return d
}

func (d *advancedDialog) show() { d.dlg.Show() }

// number makes a numeric entry for one EncodingOptions field.
func (d *advancedDialog) number(reqField, caption, value string) *widget.Entry {
	e := &widget.Entry{Text: value}
	e.ExtendBaseWidget(e)
	e.Validator = func(s string) error {
		a, err := d.parseOne(reqField, s)
		if err != nil {
			return err
		}
		return validatorErr(fieldCheck(advancedRequest(a), reqField))
	}
	d.fields[reqField] = newField(caption, e)
	return e
}

// parseOne reads one value into an otherwise empty advanced.
func (d *advancedDialog) parseOne(reqField, s string) (advanced, error) {
	var a advanced
	s = strings.TrimSpace(s)
	if s == "" {
		return a, nil // the engine's default
	}
	if reqField == "advanced.key_frame_interval" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return a, errors.New("give a number of seconds, e.g. 4")
		}
		a.KeyFrameInterval = f
		return a, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return a, errors.New("give a whole number")
	}
	switch reqField {
	case "advanced.width":
		a.Width = int32(n)
	case "advanced.height":
		a.Height = int32(n)
	case "advanced.framerate":
		a.Framerate = int32(n)
	case "advanced.video_bitrate":
		a.VideoBitrate = int32(n)
	case "advanced.audio_bitrate":
		a.AudioBitrate = int32(n)
	}
	return a, nil
}

// values reads every entry; the first unreadable one is reported at its
// field.
func (d *advancedDialog) values() (advanced, bool) {
	var out advanced
	for name, e := range map[string]*widget.Entry{
		"advanced.width": d.width, "advanced.height": d.height, "advanced.framerate": d.fps,
		"advanced.video_bitrate": d.videoKbps, "advanced.key_frame_interval": d.keyFrames, "advanced.audio_bitrate": d.audioKbps,
	} {
		a, err := d.parseOne(name, e.Text)
		if err != nil {
			d.fields[name].setError(err)
			return out, false
		}
		out.Width += a.Width
		out.Height += a.Height
		out.Framerate += a.Framerate
		out.VideoBitrate += a.VideoBitrate
		out.KeyFrameInterval += a.KeyFrameInterval
		out.AudioBitrate += a.AudioBitrate
	}
	return out, true
}

func (d *advancedDialog) onApplyTapped() {
	a, ok := d.values()
	if !ok {
		return
	}
	// The values together: the key frame interval depends on the rate.
	if err := fieldCheck(advancedRequest(a), "advanced"); err != nil {
		if fe, ok := errors.AsType[*request.FieldError](err); ok && d.fields[fe.Field] != nil {
			d.fields[fe.Field].setError(err)
		} else {
			d.general.SetText(userMessage(err))
		}
		return
	}
	d.dlg.Hide()
	d.onApply(a)
}

func advancedRequest(a advanced) *livekit.RoomCompositeEgressRequest {
	p := profile{Advanced: &a}
	return p.source()
}

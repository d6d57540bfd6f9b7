package ui

import (
	"errors"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"roomcast/engine/request"
)

// field is one input with its caption above and, right under it, what is
// wrong with it. Entries report through their Validator as the operator
// types (widget validation); the studio's checks before a start report
// through setError. The message says what to do, in the engine's words.
type field struct {
	caption *canvas.Text
	input   fyne.CanvasObject
	entry   *widget.Entry // the input's entry, nil for other widgets
	message *widget.Label
	// given is the text the program put in (at the start, from a
	// profile): while it is unchanged, problems wait for a start.
	given string
}

func newField(caption string, input fyne.CanvasObject) *field {
	f := &field{
		caption: &canvas.Text{Text: caption, Color: colorMuted, TextSize: theme.CaptionTextSize()},
		input:   input,
		message: &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord, SizeName: theme.SizeNameCaptionText},
	}
	switch in := input.(type) {
	case *widget.Entry:
		f.entry = in
	case *widget.SelectEntry:
		f.entry = &in.Entry
	}
	if f.entry != nil {
		f.watch(f.entry)
	}
	f.message.Hide()
	return f
}

// watch makes e the field's entry when it sits inside a larger input
// (an entry with a button beside it).
func (f *field) watch(e *widget.Entry) *field {
	f.entry = e
	f.given = e.Text
	e.SetOnValidationChanged(f.onValidation)
	return f
}

// object lays the field out: caption, input, message.
func (f *field) object() fyne.CanvasObject {
	return container.NewVBox(f.caption, f.input, f.message)
}

// setError shows err at the field (nil clears it); an entry also shows
// its error icon until the text changes.
func (f *field) setError(err error) {
	if f.entry != nil {
		f.entry.SetValidationError(err)
	}
	f.show(err)
}

// setText sets the entry's text for the operator (a profile, the demo
// room): a problem with it shows once the operator edits it or starts
// something, not before.
func (f *field) setText(s string) {
	f.given = s
	f.entry.SetText(s)
}

// onValidation follows the entry's validation as the text changes.
func (f *field) onValidation(err error) {
	if err != nil && f.entry.Text == f.given && !f.message.Visible() {
		return
	}
	f.show(err)
}

func (f *field) show(err error) {
	if err == nil {
		f.message.SetText("")
		setShown(f.message, false)
		return
	}
	f.message.SetText(userMessage(err))
	setShown(f.message, true)
	relayout(f.message) // a new message may wrap to another height
}

// userMessage is an error as a sentence for the operator. A request
// error's field path ("stream_outputs[0].urls[1]") is the field itself in
// the window, so only its message is kept.
func userMessage(err error) string {
	msg := err.Error()
	if fe, ok := errors.AsType[*request.FieldError](err); ok {
		msg = fe.Msg
	} else if _, rest, ok := cutField(msg); ok {
		msg = rest
	}
	msg = strings.TrimSpace(msg)
	// A sentence starts with a capital, unless it starts with a program's
	// name, spelled as typed (livekit-server, x264enc).
	first, _, _ := strings.Cut(msg, " ")
	if r, n := utf8.DecodeRuneInString(msg); n > 0 && !strings.ContainsFunc(strings.TrimRightFunc(first, unicode.IsPunct), func(r rune) bool { return !unicode.IsLetter(r) }) {
		msg = string(unicode.ToUpper(r)) + msg[n:]
	}
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") {
		msg += "."
	}
	return msg
}

// validatorErr turns a check's error into the operator's sentence, for an
// entry's Validator.
func validatorErr(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(userMessage(err))
}

// fieldPathRE matches the request field an engine error starts with
// ("stream_outputs[0].urls[1]: ..."), DESIGN's convention for errors;
// requestFields are the first steps such a path can take (other words
// before a colon, "chromium: ...", are part of the message).
var (
	fieldPathRE   = regexp.MustCompile(`^([a-z_]+)(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*$`)
	requestFields = map[string]bool{
		"request": true, "room_name": true, "layout": true, "custom_base_url": true,
		"audio_only": true, "video_only": true, "audio_mixing": true, "preset": true, "advanced": true,
		"file": true, "stream": true, "segments": true, "file_outputs": true, "stream_outputs": true,
		"segment_outputs": true, "image_outputs": true, "add_output_urls": true, "remove_output_urls": true,
	}
)

// errorField returns the request field err is about ("" for none): a
// request.FieldError's, or the path an engine error starts with.
func errorField(err error) string {
	if fe, ok := errors.AsType[*request.FieldError](err); ok {
		return fe.Field
	}
	if path, _, ok := cutField(err.Error()); ok {
		return path
	}
	return ""
}

// cutField splits "path: message" when path is a request field path.
func cutField(msg string) (string, string, bool) {
	for i := 0; i+1 < len(msg); i++ {
		if msg[i] == ':' && msg[i+1] == ' ' {
			m := fieldPathRE.FindStringSubmatch(msg[:i])
			return msg[:i], msg[i+2:], m != nil && requestFields[m[1]]
		}
	}
	return "", "", false
}

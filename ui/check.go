package ui

import (
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/request"
)

// check validates a request with the engine's rules before anything
// starts; a problem is shown at its field and under the buttons.
func (s *studio) check(req *livekit.RoomCompositeEgressRequest) (*request.Plan, bool) {
	s.clearErrors()
	plan, err := request.Build(req, request.Options{Now: time.Now()})
	if err != nil {
		s.showError("Not started: ", err)
		return nil, false
	}
	return plan, true
}

// showError shows err at the field it names, and under the buttons.
func (s *studio) showError(prefix string, err error) {
	if f := s.fieldFor(errorField(err)); f != nil {
		f.setError(err)
	}
	s.controls.showError(prefix + userMessage(err))
}

// fieldRoutes maps request fields to the window's fields, most specific
// first.
func (s *studio) fieldRoutes() []struct {
	path string
	f    *field
} {
	o := s.outputs
	return []struct {
		path string
		f    *field
	}{
		{"room_name", s.rooms.field},
		{"custom_base_url", s.enc.templateField},
		{"layout", s.enc.layoutField},
		{"preset", s.enc.presetField},
		{"advanced", s.enc.presetField},
		{"audio_only", s.enc.avField},
		{"video_only", s.enc.avField},
		{"file_outputs[0].file_type", o.fileTypeField},
		{"file_outputs[0].filepath", o.fileNameField},
		{"file_outputs[0].s3", o.targetField},
		{"segment_outputs[0].s3", o.targetField},
		{"image_outputs[0].s3", o.targetField},
		{"segment_outputs[0].segment_duration", o.segField},
		{"segment_outputs", o.hlsNameField},
		{"image_outputs[0].capture_interval", o.intervalField},
		{"image_outputs", o.imageNameField},
		{"file_outputs", o.outputsField},
		{"request", o.outputsField},
		{"stream_outputs", s.dests.field},
	}
}

func (s *studio) fieldFor(path string) *field {
	if path == "" {
		return nil
	}
	for _, r := range s.fieldRoutes() {
		if underField(path, r.path) {
			return r.f
		}
	}
	return nil
}

func (s *studio) clearErrors() {
	for _, r := range s.fieldRoutes() {
		r.f.setError(nil)
	}
	s.outputs.folderField.setError(nil)
	s.controls.showError("")
}

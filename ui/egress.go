package ui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
	"roomcast/engine/request"
	"roomcast/engine/session"
)

// switchLayout asks the engine to switch the running egresses' layout.
func (s *studio) switchLayout() {
	p := s.snapshot()
	if p.Layout == "" || p.Layout == s.runningLayout || s.back == nil {
		return
	}
	id := s.rec.id
	if s.rec.phase != active {
		id = s.live.id
	}
	if id == "" || (s.rec.phase != active && s.live.phase != active) {
		s.enc.layoutField.setError(errors.New("wait until recording or streaming has started to switch the layout"))
		return
	}
	studio, layout := s.back.Studio, p.Layout
	s.spawn(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		info, err := studio.UpdateLayout(ctx, id, layout)
		s.do(func() {
			if err != nil {
				s.enc.set(profile{Layout: s.runningLayout, Preset: p.Preset, Advanced: p.Advanced, AudioOnly: p.AudioOnly, VideoOnly: p.VideoOnly})
				s.enc.layoutField.setError(err) // after set, which clears it
				return
			}
			s.enc.layoutField.setError(nil)
			s.runningLayout = layout
			s.onEgressInfo(info)
			s.updatePreview() // the preview joins the re-keyed composite
		})
	})
}

// onRecord is the Start/Stop Recording button.
func (s *studio) onRecord() {
	if s.back == nil {
		return
	}
	switch s.rec.phase {
	case idle:
		s.startRecording()
	case active:
		s.stopEgress(&s.rec)
	}
}

// onStream is the Start/Stop Streaming button.
func (s *studio) onStream() {
	if s.back == nil {
		return
	}
	switch s.live.phase {
	case idle:
		s.startStreaming()
	case active:
		s.stopEgress(&s.live)
	}
}

// startRecording checks the setup (nothing starts if a field is wrong)
// and starts the recording.
func (s *studio) startRecording() {
	p := s.snapshot()
	s3 := s.prefs.S3.upload()
	req := p.recordRequest(s3)
	plan, ok := s.check(req)
	if !ok || !s.outputs.checkTarget(&p, s3) {
		return
	}
	pinFileName(req, plan)
	s.markers.clear()
	s.rec = egressRun{phase: starting}
	if len(plan.Files) == 1 && plan.Files[0].Upload == nil {
		s.rec.file = plan.Files[0].Filepath
	}
	if p.Record.File && p.Record.People && len(plan.Files) == 1 {
		s.startShow(req, plan.Files[0])
		return
	}
	s.startEgress(&s.rec, req, p.Layout)
}

// startShow starts the recording with each person recorded on their own
// too (see session), its manifest beside the file: in its folder, or in
// its bucket.
func (s *studio) startShow(req *livekit.RoomCompositeEgressRequest, file request.FileOutput) {
	cfg := session.Config{Studio: s.back.Studio, Composite: req, People: true, Logf: s.cfg.Logf,
		Manifest:       strings.TrimSuffix(file.Filepath, filepath.Ext(file.Filepath)) + "-session.json",
		ManifestUpload: file.Upload,
		OnEgress:       func(lead, _, id string) { s.do(func() { s.history.join(lead, id) }) }}
	s.launch(&s.rec, s.snapshot().Layout, func() (*livekit.EgressInfo, error) {
		show, info, err := session.Start(s.ctx, cfg)
		if err == nil {
			s.do(func() { s.show = show })
		}
		return info, err
	})
}

// startStreaming checks the destinations and starts the stream.
func (s *studio) startStreaming() {
	p := s.snapshot()
	if len(p.Destinations) > 0 && len(p.destinationsOn()) == 0 {
		err := errors.New("every destination is switched off: switch one on to stream")
		s.dests.field.setError(err)
		s.controls.showError("Not started: " + err.Error())
		return
	}
	req := p.streamRequest()
	if _, ok := s.check(req); !ok {
		return
	}
	s.live = egressRun{phase: starting}
	s.dests.setStream(true, nil)
	s.startEgress(&s.live, req, p.Layout)
}

// startEgress starts run's egress in the background; layout is what it
// records (the other run, if any, records the same composite).
func (s *studio) startEgress(run *egressRun, req *livekit.RoomCompositeEgressRequest, layout string) {
	studio := s.back.Studio
	s.launch(run, layout, func() (*livekit.EgressInfo, error) { return studio.Start(s.ctx, req) })
}

// launch runs start (which starts run's egress) in the background.
func (s *studio) launch(run *egressRun, layout string, start func() (*livekit.EgressInfo, error)) {
	other := s.live
	if run == &s.live {
		other = s.rec
	}
	if other.phase == idle {
		s.runningLayout = layout
	}
	s.refreshControls()
	s.spawn(func() {
		info, err := start()
		s.do(func() { s.onStarted(run, info, err) })
	})
}

// onStarted takes Start's answer: the egress's ID, or why it did not start.
func (s *studio) onStarted(run *egressRun, info *livekit.EgressInfo, err error) {
	if err != nil {
		*run = egressRun{}
		s.showError("Not started: ", err)
		if run == &s.live {
			s.dests.setStream(false, nil)
		}
		s.refreshControls()
		return
	}
	run.id = info.EgressId
	s.history.update(info)
	// Watch may have told of it before Start returned.
	s.applyInfo(run, s.history.get(info.EgressId))
}

// stopEgress stops run's egress in the background; Stop returns once its
// outputs are finalised.
func (s *studio) stopEgress(run *egressRun) {
	run.phase = stopping
	s.refreshControls()
	id, studio := run.id, s.back.Studio
	show := s.show
	if run != &s.rec {
		show = nil
	}
	s.spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if show != nil {
			// Every person's egress with the composite's.
			if err := show.Stop(ctx); err != nil {
				s.cfg.Logf("session: %v", err)
			}
		}
		info, err := studio.Stop(ctx, id)
		s.do(func() {
			if info != nil {
				s.onEgressInfo(info)
			}
			if err != nil && run.id == id && run.phase == stopping {
				run.phase = active // let the operator try again
				s.controls.showError("Not stopped: " + userMessage(err))
				s.refreshControls()
			}
		})
	})
}

// onEgressInfo takes an update from Watch or from a call's answer.
func (s *studio) onEgressInfo(info *livekit.EgressInfo) {
	if !s.history.update(info) {
		return
	}
	for _, run := range []*egressRun{&s.rec, &s.live} {
		if run.id != "" && run.id == info.EgressId {
			s.applyInfo(run, info)
		}
	}
}

// applyInfo moves a recording or stream along with its egress's state.
func (s *studio) applyInfo(run *egressRun, info *livekit.EgressInfo) {
	switch st := info.Status; {
	case engine.IsFinal(st):
		s.finished(run, info)
	case st == livekit.EgressStatus_EGRESS_ACTIVE && run.phase == starting:
		run.phase = active
		run.since = time.Now()
		if info.StartedAt > 0 {
			run.since = time.Unix(0, info.StartedAt)
		}
	case st == livekit.EgressStatus_EGRESS_ENDING:
		run.phase = stopping
	}
	if run == &s.live {
		s.dests.setStream(s.live.phase != idle, info.StreamResults)
	}
	s.showIncident(info)
	s.refreshControls()
}

// showIncident shows in the status bar when a running egress's composite
// is going through an incident (its details say "reconnecting to LiveKit
// since ..." or "browser relaunching since ..."), and when it is over.
func (s *studio) showIncident(info *livekit.EgressInfo) {
	for _, in := range []struct{ marker, text string }{
		{"reconnecting to LiveKit since ", "Reconnecting to LiveKit (lost at %s UTC); recording goes on…"},
		{"browser relaunching since ", "Restarting the browser (it died at %s UTC); recording goes on with the slate…"},
	} {
		if _, since, ok := strings.Cut(info.Details, in.marker); ok && !engine.IsFinal(info.Status) {
			at, _, _ := strings.Cut(since, " ")
			s.status.setConnection(colorWarn, fmt.Sprintf(in.text, at))
			s.inIncident = true
			return
		}
	}
	if s.inIncident && s.back != nil {
		s.status.setConnection(colorOK, "Connected to "+s.back.Server)
		s.inIncident = false
	}
}

// finished ends run with its egress: what went wrong, or where the
// recording is.
func (s *studio) finished(run *egressRun, info *livekit.EgressInfo) {
	isRec := run == &s.rec
	*run = egressRun{}
	if isRec {
		s.show = nil // it ends its people's egresses itself
	}
	what := "Streaming"
	if isRec {
		what = "Recording"
	}
	if info.Error != "" {
		s.controls.showError(what + " ended: " + info.Error)
	}
	if isRec && info.Status == livekit.EgressStatus_EGRESS_COMPLETE {
		for _, f := range info.FileResults {
			s.controls.showSaved(f.Location, f.Size, time.Duration(f.Duration))
		}
	}
}

// onAddDestination adds u; while live, the engine adds it to the stream
// first (UpdateStream), and the stream and recording go on.
func (s *studio) onAddDestination(u string) {
	switch s.live.phase {
	case idle:
		s.dests.append(u)
		return
	case starting, stopping:
		s.dests.field.setError(errors.New("wait until the stream has started or stopped to change its destinations"))
		return
	}
	s.dests.append(u)
	s.dests.setBusy(u, "adding…")
	s.updateStream(&livekit.UpdateStreamRequest{EgressId: s.live.id, AddOutputUrls: []string{u}}, func(err error) {
		if err != nil {
			s.dests.drop(u)
			s.dests.field.setError(err)
			return
		}
		s.dests.setBusy(u, "")
	})
}

// onRemoveDestination removes u; while live, from the stream first.
func (s *studio) onRemoveDestination(u string) {
	switch s.live.phase {
	case idle:
		s.dests.drop(u)
		return
	case starting, stopping:
		s.dests.field.setError(errors.New("wait until the stream has started or stopped to change its destinations"))
		return
	}
	if s.dests.off[u] {
		s.dests.drop(u) // not in the stream
		return
	}
	s.dests.setBusy(u, "removing…")
	s.updateStream(&livekit.UpdateStreamRequest{EgressId: s.live.id, RemoveOutputUrls: []string{u}}, func(err error) {
		if err != nil {
			s.dests.setBusy(u, "")
			s.dests.field.setError(err)
			return
		}
		s.dests.drop(u)
	})
}

// onSwitchDestination switches u on or off. While live the engine stops
// sending to it (the others go on) or connects it again, from a key
// frame; otherwise the switch says whether Start Streaming sends to it.
func (s *studio) onSwitchDestination(u string, on bool) {
	switch s.live.phase {
	case idle:
		s.dests.setOn(u, on)
		return
	case starting, stopping:
		s.dests.setOn(u, !on)
		s.dests.field.setError(errors.New("wait until the stream has started or stopped to switch its destinations"))
		return
	}
	req := &livekit.UpdateStreamRequest{EgressId: s.live.id, RemoveOutputUrls: []string{u}}
	busy := "switching off…"
	if on {
		req, busy = &livekit.UpdateStreamRequest{EgressId: s.live.id, AddOutputUrls: []string{u}}, "switching on…"
	}
	s.dests.setBusy(u, busy)
	s.updateStream(req, func(err error) {
		s.dests.setBusy(u, "")
		if err != nil {
			s.dests.setOn(u, !on)
			s.dests.field.setError(err)
			return
		}
		s.dests.setOn(u, on)
	})
}

// updateStream sends req to the engine in the background; done gets the
// outcome on the UI goroutine.
func (s *studio) updateStream(req *livekit.UpdateStreamRequest, done func(error)) {
	studio := s.back.Studio
	s.spawn(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		defer cancel()
		info, err := studio.UpdateStream(ctx, req)
		s.do(func() {
			done(err)
			if err == nil && info != nil {
				s.onEgressInfo(info)
			}
		})
	})
}

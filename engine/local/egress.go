package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
	"roomcast/engine/composite"
	"roomcast/engine/hooks"
	"roomcast/engine/output"
	"roomcast/engine/pipeline"
	"roomcast/engine/request"
	"roomcast/engine/storage"
	"roomcast/engine/subscriber"
)

// egress is one started request: a list of outputs on one composite, and
// its EgressInfo. It stays ACTIVE while any output runs; an output that
// fails ends alone (the info names it and why).
type egress struct {
	id      string
	plan    *request.Plan
	key     request.CompositeKey
	board   *infoBoard
	comps   *composites
	logf    func(string, ...any)
	staging string // where outputs bound for a bucket are written first

	outputs  []output.Output
	stream   *output.Stream      // the stream output, if any (UpdateStream)
	stores   []*storage.Uploader // the outputs' stores, closed after them
	manifest *output.Manifest
	hooks    *hooks.Announcer // the request's own webhooks; nil for none

	stopC    chan struct{} // closed by stop
	changed  chan struct{} // poked when an output changed (buffered 1)
	done     chan struct{} // closed when the egress reached a final state
	stopOnce sync.Once

	// tracks, for a Participant or TrackComposite egress, is its own
	// source, started with the request; nil for a composite's.
	tracks *subscriber.Source

	mu        sync.Mutex
	src       recorded  // what it records, once its outputs are attached
	slot      *slot     // its composite's, for a composite egress
	recording time.Time // when they were
	stoppedBy string    // the end reason stop was given
	marks     int       // markers made so far
}

// recorded is what an egress records from: a composite's room view, or
// a participant's tracks.
type recorded interface {
	Capture() *pipeline.Capture
	// Ended is closed when it ended on its own; Err says why (nil for the
	// room, participant or tracks gone).
	Ended() <-chan struct{}
	Err() error
}

// pause pauses (or, with resume, resumes) every output that pauses.
func (e *egress) pause(resume bool) error {
	var errs []error
	paused := 0
	for _, o := range e.outputs {
		p, ok := o.(output.Pausable)
		if !ok || !o.Running() {
			continue
		}
		var err error
		if resume {
			err = p.Resume()
		} else {
			err = p.Pause()
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		paused++
	}
	if paused == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("egress %s has no running file, segments or images output to pause (a stream does not pause)", e.id))
	}
	verb := "paused"
	if resume {
		verb = "resumed"
	}
	if paused > 0 {
		e.logf("%s %d output(s)", verb, paused)
	}
	return errors.Join(errs...)
}

// mark adds a marker now to every output that keeps markers.
func (e *egress) mark(label string) (engine.Mark, error) {
	e.mu.Lock()
	e.marks++
	m := engine.Mark{Index: e.marks, At: time.Now(), Label: label}
	e.mu.Unlock()
	var errs []error
	for _, o := range e.outputs {
		if mk, ok := o.(output.Markable); ok {
			if err := mk.Mark(m.Index, m.At, label); err != nil {
				errs = append(errs, err)
				continue
			}
			m.Outputs = append(m.Outputs, o.Field())
		}
	}
	if len(m.Outputs) == 0 {
		if len(errs) == 0 {
			errs = append(errs, fmt.Errorf("egress %s has no file or segments output to mark", e.id))
		}
		return m, errors.Join(errs...)
	}
	for _, err := range errs {
		e.logf("marker %d: %v", m.Index, err)
	}
	return m, nil
}

// relabel changes marker index's label in every output that has it.
func (e *egress) relabel(index int, label string) error {
	e.mu.Lock()
	made := e.marks
	e.mu.Unlock()
	if index < 1 || index > made {
		return fmt.Errorf("egress %s has no marker %d", e.id, index)
	}
	var errs []error
	for _, o := range e.outputs {
		if mk, ok := o.(output.Markable); ok {
			if err := mk.Relabel(index, label); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// End reasons beyond LiveKit's own (livekit.EndReason*), in its words.
const endReasonStudioClosed = "Studio closed"

// Error codes LiveKit Egress puts in EgressInfo.error_code: HTTP statuses.
const (
	errorCodeAborted = http.StatusPreconditionFailed  // ABORTED
	errorCodeFailed  = http.StatusInternalServerError // FAILED
)

// newEgress makes the egress and its outputs, each with its store (a
// bucket's credentials are checked here, before anything starts), for the
// room roomID. The egress is on the board, STARTING; run starts it.
func newEgress(ctx context.Context, id, roomID string, start *request.Start, plan *request.Plan, l *Local) (*egress, error) {
	e := &egress{
		manifest: output.NewManifest(id, roomID, plan.RoomName, plan.Redacted().CustomBaseURL),
		id:       id, plan: plan, key: plan.CompositeKey(),
		board: l.board, comps: l.comps, logf: l.cfg.Logf,
		staging: filepath.Join(l.cfg.OutputDir, ".roomcast-uploads", id),
		stopC:   make(chan struct{}),
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if err := e.makeOutputs(ctx); err != nil {
		return nil, err
	}
	if len(plan.Webhooks) > 0 {
		var targets []hooks.Target
		for _, w := range plan.Webhooks {
			// The request's key was checked against the server's one key.
			targets = append(targets, hooks.Target{URL: w.URL, APIKey: w.SigningKey, APISecret: l.cfg.APISecret, Include: w.Include, Exclude: w.Exclude})
		}
		e.hooks = hooks.New(targets, e.logf)
	}
	info := &livekit.EgressInfo{
		EgressId:   id,
		RoomId:     roomID,
		RoomName:   plan.RoomName,
		SourceType: sourceType(plan),
		Status:     livekit.EgressStatus_EGRESS_STARTING,
		UpdatedAt:  time.Now().UnixNano(),
	}
	start.SetRequest(info)
	e.fill(info)
	e.board.put(info)
	return e, nil
}

// sourceType is LiveKit's name for how an egress records: through a web
// page (a composite), or from the tracks themselves.
func sourceType(plan *request.Plan) livekit.EgressSourceType {
	if plan.Tracks != nil {
		return livekit.EgressSourceType_EGRESS_SOURCE_TYPE_SDK
	}
	return livekit.EgressSourceType_EGRESS_SOURCE_TYPE_WEB
}

// makeOutputs builds one output per entry of the plan, in the request's
// order (file, stream, segments, images).
func (e *egress) makeOutputs(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			e.closeStores()
		}
	}()
	enc := output.EncodingOf(e.plan)
	add := func(kind string, i int, field string, up *request.Upload, make func(output.Env) output.Output) error {
		env, err := e.env(ctx, kind, i, field, up)
		if err == nil {
			e.outputs = append(e.outputs, make(env))
		}
		return err
	}
	for i, f := range e.plan.Files {
		if err := add("file", i, f.Field, f.Upload, func(env output.Env) output.Output { return output.NewFile(f, enc, env) }); err != nil {
			return err
		}
	}
	for i, s := range e.plan.Streams {
		err := add("stream", i, s.Field, nil, func(env output.Env) output.Output {
			e.stream = output.NewStream(s, enc, env)
			return e.stream
		})
		if err != nil {
			return err
		}
	}
	for i, s := range e.plan.Segments {
		if err := add("segments", i, s.Field, s.Upload, func(env output.Env) output.Output { return output.NewSegments(s, enc, env) }); err != nil {
			return err
		}
	}
	for i, im := range e.plan.Images {
		if err := add("images", i, im.Field, im.Upload, func(env output.Env) output.Output { return output.NewImages(im, env) }); err != nil {
			return err
		}
	}
	return nil
}

// env is what one output is given: its names, its store (checked), a log
// and the egress's change callback.
func (e *egress) env(ctx context.Context, kind string, i int, field string, up *request.Upload) (output.Env, error) {
	env := output.Env{
		Name:     fmt.Sprintf("%s-%s%d", e.id, kind, i),
		Field:    field,
		Logf:     func(f string, a ...any) { e.logf("egress %s: "+f, append([]any{e.id}, a...)...) },
		Changed:  e.poke,
		Manifest: e.manifest,
	}
	opts := storage.Options{Field: field + ".s3", Logf: e.logf}
	if up != nil {
		env.Staging = e.staging
		// A spool of its own: every output puts a manifest of the same
		// name, and a store numbers its snapshots from 1 (a shared spool
		// had one output's snapshot taken for another's, and uploads fail
		// with "file exists").
		opts.SpoolDir = filepath.Join(e.staging, ".spool", fmt.Sprintf("%s%d", kind, i))
	}
	store, err := storage.New(ctx, up, opts)
	if err == nil && up != nil {
		if err = store.Check(ctx); err != nil {
			_ = store.Close()
		}
	}
	if err != nil {
		return env, err
	}
	env.Store = store
	e.stores = append(e.stores, store)
	return env, nil
}

// closeStores releases every output's store (after the outputs flushed
// them). Safe to call more than once.
func (e *egress) closeStores() {
	for _, s := range e.stores {
		_ = s.Close()
	}
}

// poke tells run that an output changed; it never blocks.
func (e *egress) poke() {
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// stop asks the egress to end for reason (one of LiveKit's end reasons);
// run does the work. Safe to call repeatedly: the first reason stays.
func (e *egress) stop(reason string) {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.stoppedBy = reason
		e.mu.Unlock()
		close(e.stopC)
	})
}

func (e *egress) stopReason() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stoppedBy
}

func (e *egress) letGoOfSlot() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.src, e.slot = nil, nil
}

// acquire is what the egress records: its own tracks, or the running
// composite for its key (started if need be) with its slot.
func (e *egress) acquire(ctx context.Context) (recorded, *slot, error) {
	if e.tracks != nil {
		return e.tracks, nil, nil
	}
	s, err := e.comps.acquire(ctx, e.key)
	if err != nil {
		return nil, nil, err
	}
	return s.comp, s, nil
}

// release lets go of what acquire gave, once the outputs are stopped.
func (e *egress) release(s *slot) {
	if s != nil {
		e.comps.release(s)
		return
	}
	if err := e.tracks.Close(); err != nil {
		e.logf("egress %s: %v", e.id, err)
	}
}

// watchIncidents is poked when the composite's incidents change; a
// participant's tracks have none.
func (e *egress) watchIncidents(s *slot) (<-chan struct{}, func()) {
	if s == nil {
		return nil, func() {}
	}
	return s.comp.WatchIncidents()
}

// notRecording says why an egress without a slot cannot do what: it has
// not started recording yet, or it has ended.
func (e *egress) notRecording(what string) error {
	select {
	case <-e.done:
		return fmt.Errorf("egress %s has ended", e.id)
	default:
		return fmt.Errorf("egress %s is not recording yet; %s once it is active", e.id, what)
	}
}

func (e *egress) currentSlot() *slot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.slot
}

// isRecording reports whether the outputs are attached and running.
func (e *egress) isRecording() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.src != nil
}

// run takes the egress through its life: composite, outputs, recording,
// stop, results.
func (e *egress) run() {
	// An ended egress stays in the engine's list for its life; its
	// composite (a whole capture pipeline, 2-3 MB) must not.
	defer e.letGoOfSlot() // once done is closed (see notRecording)
	defer close(e.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-e.stopC:
			cancel()
		case <-e.done:
		}
	}()
	src, s, err := e.acquire(ctx)
	if err != nil {
		e.closeStores()
		if ctx.Err() != nil {
			e.finish(ending{livekit.EgressStatus_EGRESS_ABORTED, livekit.MsgStoppedBeforeStarted, e.stopReason(), ""}, "")
		} else {
			e.finish(ending{livekit.EgressStatus_EGRESS_FAILED, err.Error(), livekit.EndReasonFailure, ""}, "")
		}
		return
	}
	defer e.release(s)
	var started []output.Output
	var startErrs []error
	for _, o := range e.outputs {
		if err := o.Start(src.Capture()); err != nil {
			e.logf("egress %s: %v", e.id, err)
			startErrs = append(startErrs, err)
			continue
		}
		started = append(started, o)
	}
	if len(started) == 0 {
		e.closeStores()
		e.finish(ending{livekit.EgressStatus_EGRESS_FAILED, errors.Join(startErrs...).Error(), livekit.EndReasonFailure, ""}, "")
		return
	}
	e.mu.Lock()
	e.src, e.slot, e.recording = src, s, time.Now()
	e.mu.Unlock()
	e.logf("egress %s recording %s", e.id, e.plan.Source())
	incidents, unwatch := e.watchIncidents(s)
	defer unwatch()

	var compErr error
	var why string
	for why == "" {
		select {
		case <-e.stopC:
			why = e.stopReason()
		case <-src.Ended():
			compErr, why = src.Err(), livekit.EndReasonSrcClosed
			if compErr != nil {
				why = livekit.EndReasonFailure
			}
		case <-incidents:
			e.publish()
		case <-e.changed:
			e.publish()
			if !anyRunning(started) {
				why = e.outputsEnded()
			}
		}
	}
	e.board.update(e.id, func(info *livekit.EgressInfo) { info.Status = livekit.EgressStatus_EGRESS_ENDING })
	var wg sync.WaitGroup
	for _, o := range started {
		wg.Go(o.Stop)
	}
	wg.Wait()
	manifest := e.manifest.Close(time.Now())
	e.flushStores()
	e.closeStores()
	_ = removeEmptyDirs(e.staging)
	end := outcome(e.outputs, startErrs, compErr)
	end.why = why
	e.finish(end, manifest)
}

// outputsEnded is the end reason when the outputs ended on their own: as
// LiveKit Egress says it when the last stream went (removed or failed) and
// the egress had nothing else, a failure otherwise.
func (e *egress) outputsEnded() string {
	if len(e.plan.Streams) == len(e.outputs) {
		return livekit.EndReasonStreamsStopped
	}
	return livekit.EndReasonFailure
}

// flushStores waits (bounded) for what was put after the outputs flushed
// (the manifest's last copy).
func (e *egress) flushStores() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range e.stores {
		if _, err := s.FlushMoving(ctx, storage.EndStall); err != nil {
			e.logf("egress %s: %v", e.id, err)
		}
	}
}

func anyRunning(outs []output.Output) bool {
	for _, o := range outs {
		if o.Running() {
			return true
		}
	}
	return false
}

// ending is how an egress ended: its final status, the error (why it
// failed, or which outputs did), the end reason (LiveKit's words:
// livekit.EndReason*) and what became of each output.
type ending struct {
	status   livekit.EgressStatus
	err, why string
	outputs  string
}

// details is EgressInfo.details as LiveKit Egress writes it ("End reason:
// StopEgress API"), followed by each output's end.
func (end ending) details() string {
	d := "End reason: " + end.why
	if end.outputs != "" {
		d += "; " + end.outputs
	}
	return d
}

// errorCode is EgressInfo.error_code as LiveKit Egress sets it: 412 for
// ABORTED, 500 for FAILED, none otherwise.
func (end ending) errorCode() int32 {
	switch end.status {
	case livekit.EgressStatus_EGRESS_ABORTED:
		return errorCodeAborted
	case livekit.EgressStatus_EGRESS_FAILED:
		return errorCodeFailed
	}
	return 0
}

// outcome is the egress's final state from its outputs': COMPLETE when at
// least one completed, FAILED when none did; the error names each output
// that failed, and the outputs' line tells every output's end. A composite
// that failed (the browser died) fails the egress. The end reason is left
// to the caller.
func outcome(outs []output.Output, startErrs []error, compErr error) ending {
	var failed, lines []string
	for _, err := range startErrs {
		failed = append(failed, err.Error())
	}
	completed, wrote := false, false
	for _, o := range outs {
		err := o.Err()
		switch {
		case err == nil:
			completed, wrote = true, true
			line := o.Field() + ": complete"
			if k, ok := o.(interface{ KeptLocally() string }); ok && k.KeptLocally() != "" {
				line += ", " + k.KeptLocally()
			}
			lines = append(lines, line)
		case errors.Is(err, output.ErrNothingWritten):
			lines = append(lines, o.Field()+": nothing written")
		default:
			wrote = true
			failed = append(failed, err.Error())
			lines = append(lines, err.Error())
		}
	}
	end := ending{outputs: strings.Join(lines, "; "), err: strings.Join(failed, "; ")}
	switch {
	case compErr != nil:
		end.status, end.err = livekit.EgressStatus_EGRESS_FAILED, strings.Join(append([]string{compErr.Error()}, failed...), "; ")
	case completed:
		end.status = livekit.EgressStatus_EGRESS_COMPLETE
	case !wrote && end.err == "":
		end.status, end.err = livekit.EgressStatus_EGRESS_ABORTED, livekit.MsgStoppedBeforeStarted
	default:
		end.status = livekit.EgressStatus_EGRESS_FAILED
	}
	return end
}

// publish copies the outputs' state into the info; the egress is ACTIVE
// from its first output's first frame.
func (e *egress) publish() {
	e.board.update(e.id, e.fill)
}

// fill writes the outputs' results into info (under the board's lock).
func (e *egress) fill(info *livekit.EgressInfo) {
	info.FileResults, info.StreamResults, info.SegmentResults, info.ImageResults = nil, nil, nil, nil
	var first time.Time
	for _, o := range e.outputs {
		o.Fill(info)
		if t := o.Started(); !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	fillSingleResult(info, e.plan.SingleResult())
	if info.Status == livekit.EgressStatus_EGRESS_ACTIVE || info.Status == livekit.EgressStatus_EGRESS_ENDING {
		info.Details = e.incidents() // the end's details replace them, and carry them
	}
	if !first.IsZero() && info.Status == livekit.EgressStatus_EGRESS_STARTING {
		info.Status = livekit.EgressStatus_EGRESS_ACTIVE
		info.StartedAt = first.UnixNano()
		e.manifest.Started(first)
	}
}

func (e *egress) finish(end ending, manifest string) {
	final := e.board.update(e.id, func(info *livekit.EgressInfo) {
		e.fill(info)
		info.Status = end.status
		info.Error = end.err
		info.ErrorCode = end.errorCode()
		info.Details = end.details()
		if in := e.incidents(); in != "" {
			info.Details += "; " + in
		}
		info.ManifestLocation = manifest
		info.EndedAt = time.Now().UnixNano()
	})
	if final != nil {
		e.logf("egress %s %s%s", e.id, final.Status, errSuffix(final.Error))
		if e.hooks != nil {
			// Its last word, whatever the board's watcher lost.
			e.hooks.Observe(final, true)
		}
	}
}

// incidents describes what went wrong in the composite while this egress
// recorded it and it went on (the LiveKit connection lost and back), ""
// for nothing.
func (e *egress) incidents() string {
	e.mu.Lock()
	s, since := e.slot, e.recording
	e.mu.Unlock()
	if s == nil {
		return ""
	}
	return composite.Incidents(s.comp.IncidentsSince(since))
}

// updateStream adds and removes RTMP destinations while the egress runs.
func (e *egress) updateStream(add []request.Destination, remove []string) error {
	if e.stream == nil {
		return fmt.Errorf("egress %s has no stream output; start one with stream_outputs", e.id)
	}
	if !e.isRecording() {
		return e.notRecording("update its streams")
	}
	return e.stream.Update(add, remove)
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// removeEmptyDirs removes dir and the empty folders below it, keeping any
// that hold a file.
func removeEmptyDirs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range entries {
		if d.IsDir() {
			_ = removeEmptyDirs(filepath.Join(dir, d.Name()))
		}
	}
	return os.Remove(dir) // fails, as it should, while a file is left
}

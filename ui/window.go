// Package ui is Roomcast Studio's window: pick a room, a layout and a
// preset, see the composite live, record and stream it, edit destinations
// while live, and keep the whole setup as a profile. It talks to the
// engine through engine.Studio only.
//
// Threading: the window's state is touched on the UI goroutine only.
// Engine calls run in goroutines (spawn), which hand their results back
// through do (fyne.Do), as do the watchers and pollers.
package ui

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"roomcast/engine"
	"roomcast/engine/request"
	"roomcast/engine/session"
)

// Timings of the window.
const (
	// roomsEvery is how often the room list is refreshed.
	roomsEvery = 3 * time.Second
	// previewDebounce waits for the operator to finish typing a room or
	// picking before a new composite is started for the preview.
	previewDebounce = 400 * time.Millisecond
	// stopTimeout bounds Stop: EOS reached a file's muxer 7-143 ms after
	// it was sent on a 2-core box; an upload may take longer.
	stopTimeout = 60 * time.Second
)

// studio is the main window.
type studio struct {
	win     fyne.Window
	cfg     Config
	connect engine.Connector
	do      func(func())

	// overridable by tests
	roomsEvery time.Duration // 0: no polling
	debounce   time.Duration
	sampling   bool // run the status bar's sampler

	settings settingsStore
	prefs    settings

	rooms   *roomsPanel
	enc     *encodingPanel
	outputs *outputsPanel
	dests   *destinationsPanel
	preview *previewPanel
	meter   *programMeter
	markers *markersPanel
	// schedule is the Schedule section; armed, what it armed (nil: none).
	schedule *schedulePanel
	armed    *armed
	// hotkeys are the window's shortcuts, boundKeys what is on its canvas.
	hotkeys   hotkeys
	boundKeys []*desktop.CustomShortcut
	people    *peoplePanel
	controls  *controlsPanel
	history   *historyPanel
	status    *statusBar
	// inIncident: the status bar shows an egress's incident (LiveKit
	// lost, the browser relaunching).
	inIncident bool
	profiles   *profilesBar
	stage      *fyne.Container // preview, controls and history

	ctx    context.Context // the window's life
	cancel context.CancelFunc
	wg     sync.WaitGroup

	backMu sync.Mutex
	backs  map[*engine.Session]bool // every session opened and not closed yet

	// UI goroutine only
	back       *engine.Session
	backCancel context.CancelFunc
	rec, live  egressRun
	// show is the recording's session when each person is recorded on
	// their own too; nil otherwise.
	show          *session.Session
	runningLayout string // the layout the running egresses record
	pickRoom      bool   // pick the first listed room if none is chosen
	previewTimer  *time.Timer

	// rates is the last measure of the stream's rates, shown at the next
	// second's paint (measureRates).
	rates chan streamRates
}

// streamRates is what the engine measured a stream sends to each
// destination.
type streamRates struct {
	id    string
	rates map[string]float64
}

func newStudio(win fyne.Window, cfg Config, connect engine.Connector, do func(func())) *studio {
	s := &studio{
		win: win, cfg: cfg, connect: connect, do: do,
		roomsEvery: roomsEvery, debounce: previewDebounce, sampling: true,
		settings: settingsStore{path: filepath.Join(cfg.ConfigDir, "config.yaml")},
		backs:    map[*engine.Session]bool{},
		rates:    make(chan streamRates, 1),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.rooms = newRoomsPanel(s.onSourceChanged)
	s.enc = newEncodingPanel(win, s.onSourceChanged)
	s.outputs = newOutputsPanel(win)
	s.dests = newDestinationsPanel(s.onAddDestination, s.onRemoveDestination, s.onSwitchDestination)
	s.preview = newPreviewPanel(do)
	s.meter = newProgramMeter()
	s.markers = newMarkersPanel(s.onMark)
	s.schedule = newSchedulePanel(s.onScheduleButton)
	s.people = newPeoplePanel()
	s.controls = newControlsPanel(s.onRecord, s.onStream, s.onPause)
	s.history = newHistoryPanel()
	s.status = newStatusBar(s.preview)
	s.status.onWarning = s.onWarning
	s.profiles = newProfilesBar(win, profileStore{dir: filepath.Join(cfg.ConfigDir, "profiles")}, s.snapshot, s.apply, s.controls.showError)
	return s
}

// buildUI lays the window out: profiles and settings on top; the source
// on the left; the preview with its sound's meter, buttons and history in
// the middle; outputs on the right; the status bar at the bottom.
func (s *studio) buildUI() fyne.CanvasObject {
	settingsButton := widget.NewButtonWithIcon("Settings", theme.SettingsIcon(), s.onSettings)
	shortcutsButton := widget.NewButton("Shortcuts", s.onShortcuts)
	top := container.NewBorder(nil, nil,
		container.NewHBox(appLogo(), brand()),
		container.NewHBox(shortcutsButton, settingsButton),
		container.NewHBox(layout.NewSpacer(), s.profiles.buildUI(), layout.NewSpacer()))

	left := sidebar(260,
		section("Room", s.rooms.buildUI()),
		section("People", s.people.buildUI()),
		section("Picture", s.enc.buildUI()))
	right := sidebar(340,
		section("Recording", s.outputs.buildUI()),
		section("Streaming", s.dests.buildUI()),
		section("Schedule", s.schedule.buildUI()))

	history := container.NewBorder(heading("History"), nil, nil, nil, s.history.buildUI())
	s.stage = container.New(&stageLayout{aspect: s.preview.aspect},
		s.preview.buildUI(), container.NewVBox(s.controls.buildUI(), s.markers.buildUI()), history, s.meter.box)

	body := container.NewBorder(nil, nil, left, right, container.NewPadded(s.stage))
	return container.NewBorder(container.NewVBox(container.NewPadded(top), widget.NewSeparator()),
		s.status.buildUI(), nil, nil, body)
}

// start loads the settings, shows the default setup, connects and starts
// the window's background work.
func (s *studio) start() {
	var err error
	if s.prefs, err = s.settings.load(); err != nil {
		s.controls.showError("Settings not loaded: " + err.Error())
	}
	keys, err := s.settings.loadHotkeys()
	if err != nil {
		s.controls.showError("Hotkeys not loaded: " + err.Error())
	}
	s.bindHotkeys(keys)
	s.apply(defaultProfile(s.defaultFolder()))
	s.restoreSchedule(time.Now())
	s.refreshControls()
	s.spawn(func() { s.preview.run(s.ctx) })
	s.spawn(s.paintClock)
	s.connectTo(s.startConnection())
}

// startConnection is what to connect to first: the demo when Settings say
// so, else what the command line resolved (flags, environment, config),
// else the demo. The engine is the command line's --remote, else the one
// in Settings.
func (s *studio) startConnection() connection {
	if s.prefs.Connection.UseDemo {
		return connection{UseDemo: true}
	}
	engineURL := s.cfg.EngineURL
	if engineURL == "" {
		engineURL = s.prefs.Connection.EngineURL
	}
	return connection{LiveKitURL: s.cfg.LiveKitURL, APIKey: s.cfg.APIKey, APISecret: s.cfg.APISecret, TLSCA: s.cfg.TLSCA, UseDemo: s.cfg.LiveKitURL == "", EngineURL: engineURL}
}

// defaultFolder is where recordings go unless a profile says otherwise.
func (s *studio) defaultFolder() string {
	switch {
	case s.cfg.OutputDir != "":
		return s.cfg.OutputDir
	case s.prefs.OutputDir != "":
		return s.prefs.OutputDir
	}
	return expandHome("~/Videos/Roomcast")
}

// spawn runs f in a goroutine that shutdown waits for.
func (s *studio) spawn(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// shutdown ends the background work, then every egress (files are
// finalised) and the engine and demo room. Call once, after the window
// closed.
func (s *studio) shutdown() error {
	s.cancel()
	s.wg.Wait()
	s.backMu.Lock()
	var bs []*engine.Session
	for b := range s.backs {
		bs = append(bs, b)
	}
	s.backMu.Unlock()
	var errs []error
	for _, b := range bs {
		errs = append(errs, s.closeBackend(b))
	}
	return errors.Join(errs...)
}

// busy reports whether a recording or stream is running or on its way.
func (s *studio) busy() bool { return s.rec.phase != idle || s.live.phase != idle }

// everySecond is what moves once a second: the status bar's figures,
// measured here (off the UI goroutine) when the window samples them, then
// on the UI goroutine the timers, the schedule, the stream's rates and
// the destinations' states. It returns the UI goroutine's part.
func (s *studio) everySecond(now time.Time) func() {
	status := func() {}
	if s.sampling {
		status = s.status.sample(now)
	}
	return func() {
		status()
		s.controls.tick(s.rec, s.live, now)
		s.scheduleTick(now)
		s.measureRates()
		s.dests.refresh(now)
	}
}

// measureRates hands the destinations' rows (shown at their refresh that
// follows) the stream's rates to each destination measured a second ago,
// and has the engine measure them again; nothing while no
// stream runs, or on an engine that cannot say. The measure (off the UI
// goroutine: the engine may take its time) is shown by the next second's
// paint, not by one of its own (see studio.paintClock).
func (s *studio) measureRates() {
	select {
	case r := <-s.rates:
		if s.live.id == r.id && s.live.phase == active {
			s.dests.setRates(r.rates)
		}
	default:
	}
	meter, ok := s.connectedStudio().(engine.RateMeter)
	if !ok || s.live.phase != active {
		s.dests.setRates(nil)
		return
	}
	id := s.live.id
	s.spawn(func() {
		rates, err := meter.StreamRates(id)
		if err != nil {
			return
		}
		select {
		case s.rates <- streamRates{id: id, rates: rates}:
		default: // the last one is not shown yet
		}
	})
}

// connectedStudio is the connected Studio, nil when none is.
func (s *studio) connectedStudio() engine.Studio {
	if s.back == nil {
		return nil
	}
	return s.back.Studio
}

// snapshot is the window's setup as a profile.
func (s *studio) snapshot() profile {
	p := profile{Room: s.rooms.room(), Destinations: s.dests.list(), DestinationsOff: s.dests.offList()}
	s.enc.get(&p)
	s.outputs.get(&p)
	s.schedule.get(&p)
	return p
}

// apply puts a profile into the window.
func (s *studio) apply(p profile) {
	if s.busy() {
		s.controls.showError("Stop recording and streaming to load a profile.")
		return
	}
	if p.Record.Folder == "" {
		p.Record.Folder = s.defaultFolder()
	}
	s.rooms.setRoom(p.Room)
	s.enc.set(p)
	s.outputs.set(p)
	s.dests.setList(p.Destinations, p.DestinationsOff)
	s.schedule.set(p)
	s.clearErrors()
}

// onSourceChanged follows a change of room, layout, preset or tracks:
// the preview follows (once the operator pauses); while live, a layout
// change switches the running composite.
func (s *studio) onSourceChanged() {
	if s.busy() {
		s.switchLayout()
		return
	}
	if s.previewTimer != nil {
		s.previewTimer.Stop()
	}
	s.previewTimer = time.AfterFunc(s.debounce, func() { s.do(s.updatePreview) })
}

// updatePreview asks for the preview of the current setup.
func (s *studio) updatePreview() {
	if s.back == nil {
		s.preview.request(previewWant{})
		return
	}
	p := s.snapshot()
	if p.Room == "" {
		s.preview.request(previewWant{})
		s.preview.showMessage("Pick a room to see it here.", false)
		return
	}
	req := p.previewRequest()
	plan, err := request.Build(req, request.Options{})
	if err != nil {
		s.preview.request(previewWant{})
		s.preview.showMessage("No preview: "+userMessage(err), false)
		return
	}
	if s.preview.setAspect(plan.Video.Width, plan.Video.Height) {
		s.stage.Refresh()
	}
	s.preview.request(previewWant{studio: s.back.Studio, req: req, key: plan.CompositeKey()})
}

// refreshControls shows the phases on the buttons and locks what a
// running egress was started with.
func (s *studio) refreshControls() {
	connected := s.back != nil
	s.controls.setRecord(s.rec, connected)
	s.controls.setStream(s.live, connected)
	marker, why := s.markable()
	s.markers.setEnabled(marker != nil, why)
	pauser, why := s.pausable()
	s.controls.setPause(s.rec, pauser != nil, why)
	busy := s.busy()
	s.rooms.setEnabled(!busy)
	s.enc.setEnabled(!busy)
	s.profiles.setEnabled(!busy)
	var stats engine.Statser
	if s.back != nil {
		stats, _ = s.back.Studio.(engine.Statser)
	}
	file := ""
	if s.rec.phase == active {
		file = s.rec.file
	}
	s.status.watch(s.snapshot().Record.Folder, file, stats)
}

// onWarning keeps a status bar warning (the recording will fill the disk,
// people the composite cannot lip-sync) in the recording's history row,
// where it stays after the status bar has moved on.
func (s *studio) onWarning(warning string) {
	if s.rec.id != "" {
		s.history.note(s.rec.id, warning)
	}
}

func (s *studio) onSettings() {
	newSettingsDialog(s.win, s.prefs, s.busy(), s.onSettingsSaved).show()
}

// onSettingsSaved keeps the new settings: a folder that was the default
// follows the new default, and a changed connection (or a failed one) is
// connected to again; the dialog locks it while anything runs.
func (s *studio) onSettingsSaved(st settings) error {
	if err := s.settings.save(st); err != nil {
		return err
	}
	old, oldFolder := s.prefs, s.defaultFolder()
	s.prefs = st
	if s.snapshot().Record.Folder == oldFolder {
		s.outputs.folderField.setText(s.defaultFolder())
	}
	if (st.Connection != old.Connection || s.back == nil) && !s.busy() {
		c := st.Connection
		c.UseDemo = c.UseDemo || c.LiveKitURL == ""
		s.connectTo(c)
	}
	return nil
}

// onClose asks before quitting while something runs; quitting stops it
// cleanly (the file is finalised).
func (s *studio) onClose() {
	if !s.busy() {
		s.win.Close()
		return
	}
	dialog.ShowConfirm("Quit Roomcast Studio?", "Recording or streaming is running. Quitting stops it; the recording is saved.", func(ok bool) {
		if ok {
			s.win.Close()
		}
	}, s.win)
}

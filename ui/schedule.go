package ui

/*
A schedule starts the recording and the stream at set times and stops each
after a set duration. The profile keeps what the producer typed. Schedule
arms it: the times are fixed to moments and kept, with the setup they
start, in the config (studio.schedule), so a studio closed and opened again
before the time runs them all the same; one whose times all passed while
the studio was closed is dropped, and the status bar says so. A start that
finds the room empty waits for the first participant, at most the set
wait, and then starts all the same: a late guest is not lost.
*/

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// defaultWait is how long a scheduled start waits for the room's first
// participant when the schedule does not say.
const defaultWait = 10 * time.Minute

// scheduledRun is when a recording or a stream starts and how long it
// lasts, as typed.
type scheduledRun struct {
	// StartAt is "21:00" (today) or "2026-12-24 21:00", local time; ""
	// for no scheduled start.
	StartAt string `mapstructure:"start_at"`
	// StopAfter is a duration ("1h30m"); "" runs until stopped.
	StopAfter string `mapstructure:"stop_after"`
}

// schedule is a profile's schedule, as typed.
type schedule struct {
	Record scheduledRun `mapstructure:"record"`
	Stream scheduledRun `mapstructure:"stream"`
	// WaitForFirst is how long a start that finds the room empty waits
	// for its first participant ("10m"); "" is defaultWait.
	WaitForFirst string `mapstructure:"wait_for_first"`
}

// startFormats are how a start may be typed: a time today, or a date and
// a time.
var startFormats = []string{"15:04", "2006-01-02 15:04"}

// parseStartAt reads a start typed in the local time zone; one that has
// passed is an error.
func parseStartAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	for i, layout := range startFormats {
		t, err := time.ParseInLocation(layout, s, now.Location())
		if err != nil {
			continue
		}
		if i == 0 {
			t = time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, now.Location())
		}
		if !t.After(now) {
			return time.Time{}, fmt.Errorf("%s has passed: give a later time, or a date as in %s", s, now.Add(24*time.Hour).Format("2006-01-02 15:04"))
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a start time: type a time today as 21:00, or a date and a time as 2026-12-24 21:00", s)
}

// parseDuration reads a duration such as 1h30m; "" is none (0).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration: type one as 1h30m, 45m or 90s", s)
	}
	return d, nil
}

// armedRun is one scheduled run fixed to moments.
type armedRun struct {
	At      time.Time     // when it starts; zero for no scheduled start
	For     time.Duration // how long it lasts; 0 until stopped
	Started bool          // the schedule started it (or found it running)
	Ends    time.Time     // when it stops; zero until it runs
	Skipped bool          // it could not start
	Over    bool          // it ran and ended: nothing left to do
}

// armed is a schedule fixed to moments, with the setup it starts.
type armed struct {
	Setup          profile
	Record, Stream armedRun
	Wait           time.Duration
}

// arm fixes the schedule of p at now; errs names what is wrong, by the
// panel's field ("record_at", "record_for", "stream_at", "stream_for",
// "wait").
func (sc schedule) arm(p profile, now time.Time) (armed, map[string]error) {
	a := armed{Setup: p, Wait: defaultWait}
	errs := map[string]error{}
	var err error
	for _, r := range []struct {
		key string
		in  scheduledRun
		out *armedRun
	}{{"record", sc.Record, &a.Record}, {"stream", sc.Stream, &a.Stream}} {
		if strings.TrimSpace(r.in.StartAt) == "" {
			if strings.TrimSpace(r.in.StopAfter) != "" {
				errs[r.key+"_at"] = errors.New("a stop needs a start time to count from")
			}
			continue
		}
		if r.out.At, err = parseStartAt(r.in.StartAt, now); err != nil {
			errs[r.key+"_at"] = err
		}
		if r.out.For, err = parseDuration(r.in.StopAfter); err != nil {
			errs[r.key+"_for"] = err
		}
	}
	if a.Record.At.IsZero() && a.Stream.At.IsZero() && len(errs) == 0 {
		errs["record_at"] = errors.New("nothing to schedule: give the recording or the stream a start time")
	}
	if strings.TrimSpace(sc.WaitForFirst) != "" {
		if a.Wait, err = parseDuration(sc.WaitForFirst); err != nil {
			errs["wait"] = err
		}
	}
	if (!a.Record.At.IsZero() || !a.Stream.At.IsZero()) && strings.TrimSpace(p.Room) == "" {
		errs["record_at"] = errors.New("pick a room before scheduling")
	}
	if !a.Stream.At.IsZero() && len(p.destinationsOn()) == 0 {
		errs["stream_at"] = errors.New("a scheduled stream needs a destination switched on")
	}
	return a, errs
}

// done reports whether nothing of the schedule is left to do.
func (a *armed) done() bool {
	left := func(r armedRun) bool { return !r.At.IsZero() && !r.Skipped && !r.Over }
	return !left(a.Record) && !left(a.Stream)
}

// missed reports whether every start of the schedule passed by now
// without it (the studio was closed).
func (a *armed) missed(now time.Time) bool {
	missed := func(r armedRun) bool { return r.At.IsZero() || !r.Started && !r.At.After(now) }
	return missed(a.Record) && missed(a.Stream)
}

// schedulePanel is the Schedule section: a start time and a duration for
// the recording and for the stream, the wait for the first participant,
// and Schedule (or Cancel) with what is armed.
type schedulePanel struct {
	entries map[string]*widget.Entry
	fields  map[string]*field
	arm     *widget.Button
	state   *widget.Label
	onArm   func()
}

func newSchedulePanel(onArm func()) *schedulePanel {
	p := &schedulePanel{entries: map[string]*widget.Entry{}, fields: map[string]*field{}, onArm: onArm}
	for _, f := range []struct{ key, caption, hint string }{
		{"record_at", "Record at", "21:00"}, {"record_for", "for", "1h30m"},
		{"stream_at", "Stream at", "2026-12-24 21:00"}, {"stream_for", "for", "2h"},
		{"wait", "Wait for the first participant up to", "10m"},
	} {
		e := &widget.Entry{PlaceHolder: f.hint}
		e.ExtendBaseWidget(e)
		p.entries[f.key] = e
		p.fields[f.key] = newField(f.caption, e)
	}
	p.arm = &widget.Button{Text: "Schedule", Icon: theme.HistoryIcon(), OnTapped: onArm}
	p.state = &widget.Label{Importance: widget.LowImportance, Wrapping: fyne.TextWrapWord, SizeName: theme.SizeNameCaptionText}
	return p
}

func (p *schedulePanel) buildUI() fyne.CanvasObject {
	row := func(at, dur string) fyne.CanvasObject {
		return container.NewGridWithColumns(2, p.fields[at].object(), p.fields[dur].object())
	}
	return container.NewVBox(row("record_at", "record_for"), row("stream_at", "stream_for"),
		p.fields["wait"].object(), p.arm, p.state)
}

// get puts the typed schedule into the profile.
func (p *schedulePanel) get(pr *profile) {
	text := func(k string) string { return strings.TrimSpace(p.entries[k].Text) }
	pr.Schedule = schedule{
		Record:       scheduledRun{StartAt: text("record_at"), StopAfter: text("record_for")},
		Stream:       scheduledRun{StartAt: text("stream_at"), StopAfter: text("stream_for")},
		WaitForFirst: text("wait"),
	}
}

// set shows a profile's schedule.
func (p *schedulePanel) set(pr profile) {
	for k, v := range map[string]string{
		"record_at": pr.Schedule.Record.StartAt, "record_for": pr.Schedule.Record.StopAfter,
		"stream_at": pr.Schedule.Stream.StartAt, "stream_for": pr.Schedule.Stream.StopAfter,
		"wait": pr.Schedule.WaitForFirst,
	} {
		p.fields[k].setText(v)
	}
}

// showErrors shows each field's problem (nil clears it).
func (p *schedulePanel) showErrors(errs map[string]error) {
	for k, f := range p.fields {
		f.setError(errs[k])
	}
}

// showArmed shows what is armed (nil: nothing), the entries locked while
// it is.
func (p *schedulePanel) showArmed(a *armed) {
	for _, e := range p.entries {
		setEnabled(e, a == nil)
	}
	if a == nil {
		p.arm.SetText("Schedule")
		p.arm.Importance = widget.MediumImportance
		p.state.SetText("")
		p.arm.Refresh()
		return
	}
	p.arm.SetText("Cancel Schedule")
	p.arm.Importance = widget.WarningImportance
	var parts []string
	for _, r := range []struct {
		what string
		run  armedRun
	}{{"Recording", a.Record}, {"Streaming", a.Stream}} {
		if r.run.At.IsZero() {
			continue
		}
		s := r.what + " at " + r.run.At.Format("Mon 2 Jan 15:04")
		if r.run.For > 0 {
			s += " for " + r.run.For.String()
		}
		parts = append(parts, s)
	}
	p.state.SetText(strings.Join(parts, " · ") + fmt.Sprintf(" (in room %s, waiting up to %s for its first participant)", a.Setup.Room, a.Wait))
	p.arm.Refresh()
}

// onScheduleButton arms the typed schedule or cancels the armed one.
func (s *studio) onScheduleButton() {
	if s.armed != nil {
		s.setArmed(nil)
		s.status.setSchedule("")
		return
	}
	p := s.snapshot()
	a, errs := p.Schedule.arm(p, time.Now())
	s.schedule.showErrors(errs)
	if len(errs) > 0 {
		return
	}
	s.setArmed(&a)
	s.scheduleTick(time.Now())
}

// setArmed arms a (nil disarms) and keeps it in the config.
func (s *studio) setArmed(a *armed) {
	s.armed = a
	s.schedule.showArmed(a)
	if err := s.settings.saveSchedule(a); err != nil {
		s.controls.showError("Schedule not kept in the config: " + err.Error())
	}
}

// restoreSchedule re-arms the schedule the config keeps, as the studio
// opens; one whose starts all passed meanwhile is dropped, and said so.
func (s *studio) restoreSchedule(now time.Time) {
	a, err := s.settings.loadSchedule()
	switch {
	case err != nil:
		s.controls.showError("Schedule not loaded: " + err.Error())
	case a == nil:
	case a.missed(now):
		s.setArmed(nil)
		s.status.setSchedule("Missed while the studio was closed: the schedule for " + a.firstStart().Format("Mon 2 Jan 15:04"))
	default:
		s.apply(a.Setup)
		s.setArmed(a)
	}
}

// firstStart is the schedule's earliest start.
func (a *armed) firstStart() time.Time {
	switch {
	case a.Record.At.IsZero():
		return a.Stream.At
	case a.Stream.At.IsZero() || a.Record.At.Before(a.Stream.At):
		return a.Record.At
	}
	return a.Stream.At
}

// scheduleTick runs the armed schedule at now (once a second): it starts
// and stops what is due and shows what comes next in the status bar.
func (s *studio) scheduleTick(now time.Time) {
	a := s.armed
	if a == nil {
		return
	}
	record, stream := a.Record, a.Stream
	var next []string
	for _, r := range []struct {
		what  string
		run   *armedRun
		live  *egressRun
		start func()
	}{{"Recording", &a.Record, &s.rec, s.startRecording}, {"Streaming", &a.Stream, &s.live, s.startStreaming}} {
		if msg := s.scheduleRun(r.what, r.run, r.live, r.start, a, now); msg != "" {
			next = append(next, msg)
		}
	}
	s.status.setSchedule(strings.Join(next, " · "))
	if a.done() {
		s.setArmed(nil)
		return
	}
	// The config is rewritten (and synced) only when the schedule moved
	// on, not on every tick of its countdown.
	if a.Record == record && a.Stream == stream {
		return
	}
	if err := s.settings.saveSchedule(a); err != nil {
		s.cfg.Logf("schedule: %v", err)
	}
}

// scheduleRun moves one scheduled run on; it returns what comes next for
// the status bar ("" for nothing).
func (s *studio) scheduleRun(what string, r *armedRun, run *egressRun, start func(), a *armed, now time.Time) string {
	switch {
	case r.At.IsZero() || r.Skipped:
		return ""
	case !r.Started && now.Before(r.At):
		return fmt.Sprintf("%s starts in %s", what, formatClock(r.At.Sub(now)))
	case !r.Started:
		if run.phase != idle {
			r.Started = true // started by hand: the schedule only stops it
			break
		}
		if n, known := s.rooms.participants(a.Setup.Room); known && n == 0 && now.Before(r.At.Add(a.Wait)) {
			return fmt.Sprintf("%s waits for the first participant in %s (%s left)", what, a.Setup.Room, formatClock(r.At.Add(a.Wait).Sub(now)))
		}
		if !s.busy() {
			s.apply(a.Setup)
		}
		start()
		r.Started = true
		if run.phase == idle { // refused: its field says why
			r.Skipped = true
			return what + " did not start as scheduled: see the window"
		}
		return what + " starting as scheduled"
	}
	switch {
	case run.phase == idle: // it ended, or was stopped by hand
		r.Over = true
		return ""
	case run.phase == active && r.Ends.IsZero():
		if r.For == 0 {
			r.Over = true // it runs until stopped: nothing left to do
			return ""
		}
		r.Ends = run.since.Add(r.For)
	}
	if r.For == 0 || run.phase != active {
		return ""
	}
	if !now.Before(r.Ends) {
		s.stopEgress(run)
		return what + " stopping as scheduled"
	}
	return fmt.Sprintf("%s stops in %s", what, formatClock(r.Ends.Sub(now)))
}

// scheduleKey is where the config keeps the armed schedule.
const scheduleKey = "studio.schedule"

// keptRun is an armedRun as the config keeps it: times as RFC 3339.
type keptRun struct {
	At      string `mapstructure:"at"`
	For     string `mapstructure:"for"`
	Started bool   `mapstructure:"started"`
	Ends    string `mapstructure:"ends_at"`
	Skipped bool   `mapstructure:"skipped"`
	Over    bool   `mapstructure:"over"`
}

// kept is the armed schedule as the config keeps it.
type kept struct {
	Setup  profile `mapstructure:"setup"`
	Record keptRun `mapstructure:"record"`
	Stream keptRun `mapstructure:"stream"`
	Wait   string  `mapstructure:"wait"`
}

func keepTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func keepRun(r armedRun) keptRun {
	return keptRun{At: keepTime(r.At), For: r.For.String(), Started: r.Started, Ends: keepTime(r.Ends), Skipped: r.Skipped, Over: r.Over}
}

func (k keptRun) armed() (armedRun, error) {
	r := armedRun{Started: k.Started, Skipped: k.Skipped, Over: k.Over}
	var errs []error
	parse := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, s)
		errs = append(errs, err)
		return t
	}
	r.At, r.Ends = parse(k.At), parse(k.Ends)
	var err error
	r.For, err = time.ParseDuration(k.For)
	return r, errors.Join(append(errs, err)...)
}

// saveSchedule keeps a (nil: none) in the config, keeping its other keys.
func (st settingsStore) saveSchedule(a *armed) error {
	v := viper.New()
	if exists(st.path) {
		var err error
		if v, err = readYAML(st.path); err != nil {
			return err
		}
	}
	if a == nil {
		// Viper cannot unset a key: the config is rebuilt without it.
		all := v.AllSettings()
		if studio, ok := all["studio"].(map[string]any); ok {
			delete(studio, strings.TrimPrefix(scheduleKey, "studio."))
		}
		v = viper.New()
		if err := v.MergeConfigMap(all); err != nil {
			return err
		}
		return writeYAML(v, st.path)
	}
	var m map[string]any
	k := kept{Setup: a.Setup, Record: keepRun(a.Record), Stream: keepRun(a.Stream), Wait: a.Wait.String()}
	if err := mapstructure.Decode(k, &m); err != nil {
		return err
	}
	v.Set(scheduleKey, m)
	return writeYAML(v, st.path)
}

// loadSchedule reads the armed schedule from the config; nil for none.
func (st settingsStore) loadSchedule() (*armed, error) {
	if !exists(st.path) {
		return nil, nil
	}
	v, err := readYAML(st.path)
	if err != nil {
		return nil, err
	}
	sub := v.Sub(scheduleKey)
	if sub == nil || len(sub.AllKeys()) == 0 {
		return nil, nil
	}
	var k kept
	if err := sub.Unmarshal(&k); err != nil {
		return nil, fmt.Errorf("%s in %s: %w", scheduleKey, st.path, err)
	}
	a := &armed{Setup: k.Setup}
	var errs [3]error
	a.Record, errs[0] = k.Record.armed()
	a.Stream, errs[1] = k.Stream.armed()
	a.Wait, errs[2] = time.ParseDuration(k.Wait)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("%s in %s: %w", scheduleKey, st.path, err)
	}
	return a, nil
}

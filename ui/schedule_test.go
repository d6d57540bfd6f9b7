package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"github.com/livekit/protocol/livekit"
)

func TestParseStartAt(t *testing.T) {
	now := time.Date(2026, 12, 5, 20, 0, 0, 0, time.Local)
	cases := []struct {
		in   string
		want time.Time
		err  string
	}{
		{in: "21:00", want: time.Date(2026, 12, 5, 21, 0, 0, 0, time.Local)},
		{in: " 2026-12-24 21:30 ", want: time.Date(2026, 12, 24, 21, 30, 0, 0, time.Local)},
		{in: "19:00", err: "has passed"},
		{in: "2026-12-01 10:00", err: "has passed"},
		{in: "25:00", err: "not a start time"},
		{in: "tonight", err: "not a start time"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseStartAt(tc.in, now)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestScheduleArm(t *testing.T) {
	now := time.Date(2026, 12, 5, 20, 0, 0, 0, time.Local)
	withDest := profile{Room: "demo", Destinations: []string{"rtmp://example.com/live/key"}}
	cases := []struct {
		name  string
		p     profile
		sc    schedule
		field string // the field with the error; "" for none
		msg   string
	}{
		{"recording", profile{Room: "demo"}, schedule{Record: scheduledRun{StartAt: "21:00", StopAfter: "1h30m"}}, "", ""},
		{"both, with a wait", withDest, schedule{Record: scheduledRun{StartAt: "21:00"}, Stream: scheduledRun{StartAt: "21:05", StopAfter: "2h"}, WaitForFirst: "5m"}, "", ""},
		{"nothing", profile{Room: "demo"}, schedule{}, "record_at", "nothing to schedule"},
		{"a stop without a start", profile{Room: "demo"}, schedule{Record: scheduledRun{StopAfter: "1h"}}, "record_at", "needs a start"},
		{"a bad duration", profile{Room: "demo"}, schedule{Record: scheduledRun{StartAt: "21:00", StopAfter: "an hour"}}, "record_for", "not a duration"},
		{"a bad wait", profile{Room: "demo"}, schedule{Record: scheduledRun{StartAt: "21:00"}, WaitForFirst: "-5m"}, "wait", "not a duration"},
		{"no room", profile{}, schedule{Record: scheduledRun{StartAt: "21:00"}}, "record_at", "pick a room"},
		{"a stream without a destination", profile{Room: "demo"}, schedule{Stream: scheduledRun{StartAt: "21:00"}}, "stream_at", "destination"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, errs := tc.sc.arm(tc.p, now)
			if tc.field == "" {
				if len(errs) > 0 {
					t.Fatalf("errors %v", errs)
				}
				if a.Record.At.IsZero() == (tc.sc.Record.StartAt != "") || a.Wait <= 0 {
					t.Errorf("armed %+v", a)
				}
				return
			}
			if err := errs[tc.field]; err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: error %v (all: %v), want one saying %q", tc.field, err, errs, tc.msg)
			}
		})
	}
}

// typeSchedule types a recording's schedule into the window's panel.
func typeSchedule(h *harness, at time.Time, stopAfter, wait string) {
	h.s.schedule.entries["record_at"].SetText(at.Format("2006-01-02 15:04"))
	h.s.schedule.entries["record_for"].SetText(stopAfter)
	h.s.schedule.entries["wait"].SetText(wait)
}

// TestScheduleInTheWindow: a recording scheduled for a time starts then
// (with a countdown before it), stops after its duration, and the
// schedule is kept in the config (0600) until it is done; the setup it
// runs goes into a saved profile.
func TestScheduleInTheWindow(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	h.s.schedule.entries["record_at"].SetText("25:00")
	test.Tap(h.s.schedule.arm)
	if got := h.s.schedule.fields["record_at"].errorText(); h.s.armed != nil || !strings.Contains(got, "not a start time") {
		t.Errorf("a start at 25:00: armed %v, the field says %q; want it refused there", h.s.armed != nil, got)
	}
	at := time.Now().Add(time.Hour).Truncate(time.Minute)
	typeSchedule(h, at, "30m", "")
	if got := h.s.snapshot().Schedule; got.Record.StartAt == "" || got.Record.StopAfter != "30m" {
		t.Errorf("the profile's schedule is %+v, want what was typed", got)
	}
	test.Tap(h.s.schedule.arm)
	h.settle("armed", func() bool { return h.s.armed != nil && h.s.schedule.arm.Text == "Cancel Schedule" })
	config := filepath.Join(h.cfg.ConfigDir, "config.yaml")
	if raw, err := os.ReadFile(config); err != nil || !strings.Contains(string(raw), "schedule") {
		t.Fatalf("the config does not keep the schedule: %v\n%s", err, raw)
	}
	if st, err := os.Stat(config); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v (%v), want 0600: it holds the setup's stream keys", st.Mode().Perm(), err)
	}
	h.s.scheduleTick(at.Add(-90 * time.Second))
	if got := h.s.status.sched.Text; got != "Recording starts in 00:01:30" {
		t.Errorf("status bar %q, want the countdown", got)
	}

	h.s.scheduleTick(at.Add(time.Second))
	h.settle("recording as scheduled", func() bool { return h.s.rec.phase == active })
	started := h.s.rec.since
	h.s.scheduleTick(started.Add(20 * time.Minute))
	if got := h.s.status.sched.Text; got != "Recording stops in 00:10:00" {
		t.Errorf("status bar %q, want the countdown to the stop", got)
	}
	h.s.scheduleTick(started.Add(30*time.Minute + time.Second))
	h.settle("stopped as scheduled", func() bool { return h.s.rec.phase == idle })
	h.s.scheduleTick(started.Add(30*time.Minute + 2*time.Second))
	if h.s.armed != nil {
		t.Error("the schedule is still armed after it ran")
	}
	if a, err := h.s.settings.loadSchedule(); a != nil || err != nil {
		t.Errorf("the config still keeps the schedule: %+v, %v", a, err)
	}
}

// TestScheduleWaitsForTheFirstParticipant: a start that finds its room
// empty waits, saying so, and starts when the wait is over.
func TestScheduleWaitsForTheFirstParticipant(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(append(demoRooms, &livekit.Room{Name: "late"})...))
	h.s.rooms.setRoom("late")
	at := time.Now().Add(time.Hour).Truncate(time.Minute)
	typeSchedule(h, at, "", "5m")
	test.Tap(h.s.schedule.arm)
	h.settle("armed", func() bool { return h.s.armed != nil })
	h.s.scheduleTick(at.Add(time.Minute))
	h.drain()
	if h.s.rec.phase != idle || !strings.Contains(h.s.status.sched.Text, "waits for the first participant in late (00:04:00 left)") {
		t.Errorf("an empty room at the start: %v, status %q; want a wait", h.s.rec.phase, h.s.status.sched.Text)
	}
	h.s.scheduleTick(at.Add(5*time.Minute + time.Second))
	h.settle("started after the wait", func() bool { return h.s.rec.phase == active })
	eng.mu.Lock()
	room := eng.started[len(eng.started)-1].RoomName
	eng.mu.Unlock()
	if room != "late" {
		t.Errorf("recorded room %q, want the scheduled one", room)
	}
}

// TestScheduleSurvivesARestart: a studio opened again before the time
// runs the schedule kept in its config, with the setup it was armed with;
// one whose time passed while it was closed is dropped, and said so.
func TestScheduleSurvivesARestart(t *testing.T) {
	eng := newFakeStudio()
	dir := t.TempDir()
	at := time.Now().Add(2 * time.Hour).Truncate(time.Minute)
	t.Run("armed", func(t *testing.T) {
		h := openHarnessIn(t, eng.connector(demoRooms...), 10*time.Second, dir)
		h.s.rooms.setRoom("standup")
		typeSchedule(h, at, "1h", "")
		test.Tap(h.s.schedule.arm)
		h.settle("armed", func() bool { return h.s.armed != nil })
	})
	t.Run("opened again", func(t *testing.T) {
		h := openHarnessIn(t, eng.connector(demoRooms...), 10*time.Second, dir)
		if h.s.armed == nil || !h.s.armed.Record.At.Equal(at) || h.s.armed.Record.For != time.Hour {
			t.Fatalf("opened again, the studio has %+v armed, want the recording at %v for 1h", h.s.armed, at)
		}
		if got := h.s.rooms.room(); got != "standup" {
			t.Errorf("opened again, the room is %q, want the scheduled setup's", got)
		}
		if !strings.Contains(h.s.schedule.state.Text, "Recording at") {
			t.Errorf("the panel says %q, want what is armed", h.s.schedule.state.Text)
		}
		// The time passes with the studio closed.
		a := *h.s.armed
		a.Record.At = time.Now().Add(-time.Minute)
		if err := h.s.settings.saveSchedule(&a); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("opened after the time", func(t *testing.T) {
		h := openHarnessIn(t, eng.connector(demoRooms...), 10*time.Second, dir)
		if h.s.armed != nil || h.s.rec.phase != idle || !strings.Contains(h.s.status.sched.Text, "Missed while the studio was closed") {
			t.Errorf("opened after the time: armed %v, recording %v, status %q; want it dropped and said so", h.s.armed, h.s.rec.phase, h.s.status.sched.Text)
		}
		if a, _ := h.s.settings.loadSchedule(); a != nil {
			t.Error("the missed schedule is still in the config")
		}
	})
}

package markers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVTT(t *testing.T) {
	list := []Marker{
		{Index: 1, Offset: 1500 * time.Millisecond, Label: "Intro"},
		{Index: 2, Offset: 65*time.Minute + 2*time.Second + 5*time.Millisecond, Label: "Q&A <live>\n --> next"},
		{Index: 3, Offset: 66 * time.Minute},
	}
	for _, c := range []struct {
		name string
		end  time.Duration
		want string
	}{
		{"while recording: the last chapter lasts a second", 0, "WEBVTT\n" +
			"\n1\n00:00:01.500 --> 01:05:02.005\nIntro\n" +
			"\n2\n01:05:02.005 --> 01:06:00.000\nQ&amp;A &lt;live&gt; --&gt; next\n" +
			"\n3\n01:06:00.000 --> 01:06:01.000\nMarker 3\n"},
		{"finished: the last chapter runs to the end", 70 * time.Minute, "WEBVTT\n" +
			"\n1\n00:00:01.500 --> 01:05:02.005\nIntro\n" +
			"\n2\n01:05:02.005 --> 01:06:00.000\nQ&amp;A &lt;live&gt; --&gt; next\n" +
			"\n3\n01:06:00.000 --> 01:10:00.000\nMarker 3\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := string(VTT(list, c.end)); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestSidecar(t *testing.T) {
	dir := t.TempDir()
	s := New(filepath.Join(dir, "show.mp4"))
	vtt, list := s.Paths()
	if filepath.Base(vtt) != "show.markers.vtt" || filepath.Base(list) != "show.markers.json" {
		t.Fatalf("paths %s, %s", vtt, list)
	}
	none := New(filepath.Join(dir, "plain.mp4"))
	if err := none.Finish(time.Minute); err != nil || none.Written() {
		t.Fatalf("no marker: %v, written %v", err, none.Written())
	}
	if _, err := os.Stat(filepath.Join(dir, "plain.markers.vtt")); !os.IsNotExist(err) {
		t.Error("a recording without markers has a sidecar")
	}
	wall := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	if err := s.Add(Marker{Index: 1, Offset: 2 * time.Second, Wall: wall}); err != nil {
		t.Fatal(err)
	}
	// Written as it happens: the files are there before the end.
	var got []struct {
		Index int       `json:"index"`
		Time  float64   `json:"time"`
		Wall  time.Time `json:"wall"`
		Label string    `json:"label"`
	}
	if err := s.Relabel(1, "Guest joins"); err != nil {
		t.Fatal(err)
	}
	if err := s.Relabel(7, "x"); err == nil {
		t.Error("relabelling a marker that does not exist")
	}
	raw, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Index != 1 || got[0].Time != 2 || !got[0].Wall.Equal(wall) || got[0].Label != "Guest joins" {
		t.Errorf("json %s", raw)
	}
	if raw, _ := os.ReadFile(vtt); !strings.Contains(string(raw), "00:00:02.000 --> 00:00:03.000\nGuest joins") {
		t.Errorf("vtt %s", raw)
	}
	if err := s.Finish(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(vtt); !strings.Contains(string(raw), "00:00:02.000 --> 00:00:10.000") {
		t.Errorf("finished vtt %s", raw)
	}
}

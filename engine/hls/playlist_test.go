package hls

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPlaylistText(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)
	seg := func(i int, d time.Duration) Segment {
		return Segment{Name: "room_" + string(rune('0'+i)) + ".ts", Duration: d, Start: t0.Add(time.Duration(i) * 2 * time.Second)}
	}
	cases := []struct {
		name      string
		segments  []Segment
		ranges    []DateRange // added after the segments
		relabel   [2]string   // then: this range's label becomes that
		end       bool
		event     string
		live      string
		liveCount int
	}{
		{
			name:     "two segments, running",
			segments: []Segment{seg(0, 2*time.Second), seg(1, 2100*time.Millisecond)},
			event: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:0\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:00.000Z\n#EXTINF:2.000,\nroom_0.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:02.000Z\n#EXTINF:2.100,\nroom_1.ts\n",
			liveCount: 2,
		},
		{
			name:     "ended",
			segments: []Segment{seg(0, 2*time.Second)},
			end:      true,
			event: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:00.000Z\n#EXTINF:2.000,\nroom_0.ts\n#EXT-X-ENDLIST\n",
			liveCount: 1,
		},
		{
			name:     "live window slides",
			segments: []Segment{seg(0, 2*time.Second), seg(1, 2*time.Second), seg(2, 2*time.Second), seg(3, 2*time.Second), seg(4, 2*time.Second), seg(5, 2*time.Second), seg(6, 2*time.Second)},
			live: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:2\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:04.000Z\n#EXTINF:2.000,\nroom_2.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:06.000Z\n#EXTINF:2.000,\nroom_3.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:08.000Z\n#EXTINF:2.000,\nroom_4.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:10.000Z\n#EXTINF:2.000,\nroom_5.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:12.000Z\n#EXTINF:2.000,\nroom_6.ts\n",
			liveCount: LiveWindow,
		},
		{
			name: "a pause: the segment after it is discontinuous, counted once it slides out of the live window",
			segments: func() []Segment {
				segs := []Segment{seg(0, 2*time.Second), seg(1, 2*time.Second)}
				for i := 2; i < 8; i++ {
					s := seg(i, 2*time.Second)
					s.Start = s.Start.Add(10 * time.Second) // paused for 10 s after room_1
					s.Discontinuity = i == 2
					segs = append(segs, s)
				}
				segs[6].Discontinuity = true // and again before room_6
				return segs
			}(),
			event: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:00.000Z\n#EXTINF:2.000,\nroom_0.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:02.000Z\n#EXTINF:2.000,\nroom_1.ts\n" +
				"#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:14.000Z\n#EXTINF:2.000,\nroom_2.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:16.000Z\n#EXTINF:2.000,\nroom_3.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:18.000Z\n#EXTINF:2.000,\nroom_4.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:20.000Z\n#EXTINF:2.000,\nroom_5.ts\n" +
				"#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:22.000Z\n#EXTINF:2.000,\nroom_6.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:24.000Z\n#EXTINF:2.000,\nroom_7.ts\n",
			live: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:16.000Z\n#EXTINF:2.000,\nroom_3.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:18.000Z\n#EXTINF:2.000,\nroom_4.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:20.000Z\n#EXTINF:2.000,\nroom_5.ts\n" +
				"#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:22.000Z\n#EXTINF:2.000,\nroom_6.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:24.000Z\n#EXTINF:2.000,\nroom_7.ts\n",
			liveCount: LiveWindow,
		},
		{
			name:     "markers: before the segment they fall in, or at the end; relabelled",
			segments: []Segment{seg(0, 2*time.Second), seg(1, 2*time.Second)},
			ranges: []DateRange{
				{ID: "marker-2", Start: t0.Add(4500 * time.Millisecond), Label: "after the last segment"},
				{ID: "marker-1", Start: t0.Add(2500 * time.Millisecond), Label: "old"},
			},
			relabel: [2]string{"marker-1", `Guest "Ann"` + "\nhere"},
			event: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:00.000Z\n#EXTINF:2.000,\nroom_0.ts\n" +
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T20:00:02.000Z\n" +
				"#EXT-X-DATERANGE:ID=\"marker-1\",CLASS=\"com.roomcast.marker\",START-DATE=\"2026-11-26T20:00:02.500Z\",X-LABEL=\"Guest 'Ann' here\"\n" +
				"#EXTINF:2.000,\nroom_1.ts\n" +
				"#EXT-X-DATERANGE:ID=\"marker-2\",CLASS=\"com.roomcast.marker\",START-DATE=\"2026-11-26T20:00:04.500Z\",X-LABEL=\"after the last segment\"\n",
			liveCount: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := New(filepath.Join(dir, "room.m3u8"), filepath.Join(dir, "room-live.m3u8"), 2*time.Second)
			for _, s := range tc.segments {
				if err := p.Add(s); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range tc.ranges {
				if err := p.AddDateRange(d); err != nil {
					t.Fatal(err)
				}
			}
			if id := tc.relabel[0]; id != "" {
				if err := p.Relabel(id, tc.relabel[1]); err != nil {
					t.Fatal(err)
				}
			}
			if tc.end {
				if err := p.End(); err != nil {
					t.Fatal(err)
				}
			}
			if tc.event != "" {
				if got := read(t, filepath.Join(dir, "room.m3u8")); got != tc.event {
					t.Errorf("event playlist:\n%s\nwant:\n%s", got, tc.event)
				}
			}
			if tc.live != "" {
				if got := read(t, filepath.Join(dir, "room-live.m3u8")); got != tc.live {
					t.Errorf("live playlist:\n%s\nwant:\n%s", got, tc.live)
				}
			}
			if p.Count() != len(tc.segments) {
				t.Errorf("Count = %d, want %d", p.Count(), len(tc.segments))
			}
			// Only the playlists are in the folder: no temporary files left.
			entries, _ := os.ReadDir(dir)
			if len(entries) != 2 {
				t.Errorf("folder holds %d files, want the 2 playlists", len(entries))
			}
		})
	}
}

func TestPlaylistUnwritableFolder(t *testing.T) {
	p := New(filepath.Join(t.TempDir(), "missing", "x.m3u8"), "", time.Second)
	if err := p.Add(Segment{Name: "a.ts", Duration: time.Second}); err == nil {
		t.Fatal("Add into a missing folder succeeded")
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

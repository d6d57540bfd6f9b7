package output

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"roomcast/engine/internal/atomicfile"
)

// Manifest is an egress's JSON manifest, in LiveKit Egress's form: the
// egress, its room, and every file, playlist (with its segments) and image
// its outputs wrote. The outputs of one egress share it. It is written as
// <egress_id>.json beside each output that keeps one (the file, the
// playlist, the images; not with disable_manifest): again at each change,
// so that a crash keeps the list of what was written, and a last time at
// the end, with ended_at. A nil Manifest keeps nothing.
type Manifest struct {
	mu     sync.Mutex
	doc    manifestDoc
	copies []manifestCopy // where it is written, in the order outputs asked
}

type manifestDoc struct {
	EgressID  string              `json:"egress_id,omitempty"`
	RoomID    string              `json:"room_id,omitempty"`
	RoomName  string              `json:"room_name,omitempty"`
	URL       string              `json:"url,omitempty"`
	StartedAt int64               `json:"started_at,omitempty"`
	EndedAt   int64               `json:"ended_at,omitempty"`
	Files     []manifestEntry     `json:"files,omitempty"`
	Playlists []*manifestPlaylist `json:"playlists,omitempty"`
	Images    []manifestImage     `json:"images,omitempty"`
}

type manifestEntry struct {
	Filename string `json:"filename,omitempty"`
	Location string `json:"location,omitempty"`
}

type manifestPlaylist struct {
	Location string          `json:"location,omitempty"`
	Segments []manifestEntry `json:"segments,omitempty"`
}

type manifestImage struct {
	Filename  string    `json:"filename,omitempty"`
	Timestamp time.Time `json:"timestamp,omitempty"`
	Location  string    `json:"location,omitempty"`
}

// manifestCopy is one place the manifest is written: a folder of an
// output, with its store.
type manifestCopy struct {
	env        Env
	local, key string
}

// NewManifest starts the manifest of an egress. url is the template's
// (without credentials), or "" for a built-in layout.
func NewManifest(egressID, roomID, roomName, url string) *Manifest {
	return &Manifest{doc: manifestDoc{EgressID: egressID, RoomID: roomID, RoomName: roomName, URL: url}}
}

// keepBeside has the manifest written into the folder of an output, whose
// keys start with keyDir.
func (m *Manifest) keepBeside(env Env, keyDir string) {
	if m == nil {
		return
	}
	key := path.Join(keyDir, m.doc.EgressID+".json")
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.copies {
		if c.key == key && c.env.Store == env.Store {
			return // two outputs in one folder share one copy
		}
	}
	m.copies = append(m.copies, manifestCopy{env: env, local: env.local(key), key: key})
}

func (m *Manifest) addFile(name, location string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.doc.Files = append(m.doc.Files, manifestEntry{name, location})
	m.mu.Unlock()
	m.save()
}

// addPlaylist lists a playlist; its segments are added to what it returns.
func (m *Manifest) addPlaylist(location string) *manifestPlaylist {
	if m == nil {
		return nil
	}
	p := &manifestPlaylist{Location: location}
	m.mu.Lock()
	m.doc.Playlists = append(m.doc.Playlists, p)
	m.mu.Unlock()
	return p
}

func (m *Manifest) addSegment(p *manifestPlaylist, name, location string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	p.Segments = append(p.Segments, manifestEntry{name, location})
	m.mu.Unlock()
	m.save()
}

func (m *Manifest) addImage(name string, at time.Time, location string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.doc.Images = append(m.doc.Images, manifestImage{name, at.UTC(), location})
	m.mu.Unlock()
	m.save()
}

// Started records when the egress's first frame was captured.
func (m *Manifest) Started(at time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc.StartedAt == 0 {
		m.doc.StartedAt = at.UnixNano()
	}
}

// Close writes the manifest a last time, ended at ended, and returns where
// its first copy is (EgressInfo's manifest_location), or "" when no output
// keeps one. Flush the outputs' stores after it.
func (m *Manifest) Close(ended time.Time) string {
	if m == nil {
		return ""
	}
	m.mu.Lock()
	m.doc.EndedAt = ended.UnixNano()
	m.mu.Unlock()
	m.save()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.copies) == 0 {
		return ""
	}
	return m.copies[0].env.Store.Location(m.copies[0].key)
}

// save writes every copy (a whole new file each time, renamed into place)
// and hands it to its store.
func (m *Manifest) save() {
	m.mu.Lock()
	data, err := json.MarshalIndent(m.doc, "", "  ")
	copies := append([]manifestCopy(nil), m.copies...)
	m.mu.Unlock()
	if err != nil {
		for _, c := range copies {
			c.env.Logf("%s: manifest: %v", c.env.Field, err)
		}
		return
	}
	// Each copy on its own: one on a full disk does not cost the others.
	for _, c := range copies {
		err := os.MkdirAll(filepath.Dir(c.local), 0o755)
		if err == nil {
			err = atomicfile.Write(c.local, data)
		}
		if err != nil {
			c.env.Logf("%s: manifest: %v", c.env.Field, err)
			continue
		}
		c.env.put(c.local, c.key)
	}
}

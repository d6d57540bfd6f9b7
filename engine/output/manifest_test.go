package output

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roomcast/engine/storage"
)

// TestManifestCopiesFailAlone: a manifest kept beside two outputs, the
// first on a folder it cannot write (as on a full disk), is still written
// beside the second, and the failure is logged for the first alone.
func TestManifestCopiesFailAlone(t *testing.T) {
	store, err := storage.New(context.Background(), nil, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dir := t.TempDir()
	blocked := filepath.Join(dir, "blocked")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil { // a file where its folder should be
		t.Fatal(err)
	}
	var logged []string
	env := func(field string) Env {
		return Env{Field: field, Store: store, Logf: func(format string, args ...any) {
			logged = append(logged, fmt.Sprintf(format, args...))
		}}
	}
	m := NewManifest("EG_test", "RM_test", "demo", "")
	m.keepBeside(env("file_outputs[0]"), blocked)
	m.keepBeside(env("segment_outputs[0]"), filepath.Join(dir, "hls"))
	m.addFile("a.mp4", "/a.mp4")

	data, err := os.ReadFile(filepath.Join(dir, "hls", "EG_test.json"))
	if err != nil {
		t.Fatalf("the second copy was not written: %v", err)
	}
	var doc manifestDoc
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Files) != 1 || doc.Files[0].Filename != "a.mp4" {
		t.Errorf("the second copy holds %s (%v), want the file listed", data, err)
	}
	if len(logged) != 1 || !strings.HasPrefix(logged[0], "file_outputs[0]: manifest: ") {
		t.Errorf("logged %q, want one failure, of file_outputs[0]'s copy", logged)
	}
}

// Package atomicfile replaces small files whole: a reader (a player
// polling a playlist) or a crash never sees half of one.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data (mode 0644): written to a temporary file
// in the same folder, then renamed over it.
func Write(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// Package leftovers removes the temporary folders that a roomcast killed
// without a chance to clean up (SIGKILL, a crash, a power cut) left
// behind: Chromium profiles, PulseAudio's socket folders, the demo
// server's configuration and log.
package leftovers

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// staleAfter: a folder younger than this may be another roomcast's,
// between making it and starting the process that names it.
const staleAfter = time.Minute

var once sync.Map // prefix -> *sync.Once

// RemoveOnce is Remove, once per prefix in this process's life.
func RemoveOnce(prefix string, logf func(string, ...any)) {
	o, _ := once.LoadOrStore(prefix, new(sync.Once))
	o.(*sync.Once).Do(func() { Remove(prefix, logf) })
}

// Remove removes the folders of the temporary directory whose names start
// with prefix, made over staleAfter ago, that no live process names on its
// command line (each is named by the process that uses it: Chromium's
// --user-data-dir, PulseAudio's socket, livekit-server's --config). logf,
// if set, is told of each.
func Remove(prefix string, logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	if len(dirs) == 0 {
		return
	}
	args := liveArgs()
	for _, dir := range dirs {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() || time.Since(st.ModTime()) < staleAfter || named(args, dir) {
			continue
		}
		if err := os.RemoveAll(dir); err == nil && logf != nil {
			logf("removed %s, left by an earlier run", dir)
		}
	}
}

// liveArgs lists the command-line arguments of every live process.
func liveArgs() []string {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var args []string
	for _, path := range cmdlines {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		args = append(args, strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")...)
	}
	return args
}

// named reports whether an argument names dir or a path in it (and not
// another folder whose name begins with dir's).
func named(args []string, dir string) bool {
	for _, arg := range args {
		for rest := arg; ; {
			i := strings.Index(rest, dir)
			if i < 0 {
				break
			}
			rest = rest[i+len(dir):]
			if rest == "" || rest[0] == '/' {
				return true
			}
		}
	}
	return false
}

// Package proctest is for tests that run programs: it skips a test whose
// programs are not installed, and finds the processes a test started, so
// that it can check that none is left behind once the code under test has
// stopped.
package proctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Descendants lists the live processes below pid (children, grandchildren,
// ...), including ones that moved to their own process group.
func Descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces: parse
		// after the last ')'. Fields then: state, ppid, ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		self, _ := strconv.Atoi(filepath.Base(filepath.Dir(e)))
		children[ppid] = append(children[ppid], self)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// Alive reports whether pid is a running (not zombie) process.
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// Command is the command line of pid, for messages.
func Command(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// Program is the name of the program process pid runs, without its
// folder (Xvfb is started by its full path).
func Program(pid int) string {
	cmd, _, _ := strings.Cut(Command(pid), " ")
	return filepath.Base(cmd)
}

// Running lists the processes below this one that run program (by its
// name alone, as Program gives it).
func Running(program string) []int {
	var pids []int
	for _, pid := range Descendants(os.Getpid()) {
		if Program(pid) == program {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Screens counts the virtual screens (Xvfb) this process started: one per
// composite. (Not its browsers: a composite keeps a spare one ready.)
func Screens() int { return len(Running("Xvfb")) }

// Chromium lists the Chromium processes this process started of a type:
// "" for the browsers themselves, "renderer" for the pages' renderers.
func Chromium(typ string) []int {
	var pids []int
	for _, pid := range Descendants(os.Getpid()) {
		cmd := Command(pid)
		if !strings.Contains(cmd, "chromium") {
			continue
		}
		if typ == "" && !strings.Contains(cmd, "--type=") || typ != "" && strings.Contains(cmd, "--type="+typ+" ") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Need skips the test if one of the programs is missing.
func Need(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed: run make deps", p)
		}
	}
}

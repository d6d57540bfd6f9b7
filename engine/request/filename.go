package request

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Name templates, as LiveKit Egress fills them in.
const (
	// TimeLayout is the Go layout of {time} and of automatic names.
	TimeLayout = "2006-01-02T150405"
	// utcLayout plus three digits of milliseconds is {utc}, always in UTC:
	// 20240102150405123 (LiveKit formats its clock, which runs in UTC).
	utcLayout = "20060102150405"
)

var tokenRE = regexp.MustCompile(`\{[A-Za-z_]+\}`)

// namer fills in name templates for one Build.
type namer struct {
	room, roomID string
	track        string // a track egress's track_id; "" for others
	now          time.Time
	warn         func(string)
}

// expand replaces {room_name}, {room_id}, {time} and {utc} in s, and
// {track_id} in a track egress's; other {tokens} are kept as written,
// with a warning.
func (n namer) expand(field, s string) string {
	return tokenRE.ReplaceAllStringFunc(s, func(tok string) string {
		switch tok {
		case "{room_name}":
			return n.room
		case "{room_id}":
			if n.roomID == "" {
				n.warn(field + ": {room_id} is empty because the room's ID is not known yet; use {room_name} to be sure")
			}
			return n.roomID
		case "{track_id}":
			if n.track != "" {
				return n.track
			}
		case "{time}":
			return n.now.Format(TimeLayout)
		case "{utc}":
			u := n.now.UTC()
			return fmt.Sprintf("%s%03d", u.Format(utcLayout), u.Nanosecond()/int(time.Millisecond))
		}
		n.warn(fmt.Sprintf("%s: %s is not a known token ({room_name}, {room_id}, {time}, {utc}); it is kept as written", field, quote(tok)))
		return tok
	})
}

// auto is the automatic base name: <room_name>-<time>, with any "/" in the
// room's name made "-" so that it stays one name in one folder.
func (n namer) auto() string {
	return strings.ReplaceAll(n.room, "/", "-") + "-" + n.now.Format(TimeLayout)
}

// where an output's names end up.
type place struct {
	upload    bool   // names are object keys in a bucket
	outputDir string // for local names: the folder relative names join
}

// cleanName cleans a name after its tokens are replaced: "/" separators, no
// "." or ".." steps, a trailing "/" kept (it means "a folder"). Object keys
// lose a leading "/"; local names may be absolute. Neither may climb out of
// its root with "..".
func (pl place) cleanName(field, s string, warn func(string)) (string, error) {
	if s == "" {
		return "", nil
	}
	if hasControl(s) {
		return "", invalid(field, "%s holds a control character; use a plain path", quote(s))
	}
	dir := strings.HasSuffix(s, "/")
	if pl.upload && strings.HasPrefix(s, "/") {
		warn(fmt.Sprintf("%s: the leading \"/\" of %s was dropped; object keys start inside the bucket", field, quote(s)))
		s = strings.TrimLeft(s, "/")
		if s == "" {
			return "", nil
		}
	}
	c := path.Clean(s)
	if c == ".." || strings.HasPrefix(c, "../") {
		root := "the output folder; use a path inside it, or an absolute path"
		if pl.upload {
			root = "the bucket; use a key inside it"
		}
		return "", invalid(field, "%s climbs out of %s", quote(s), root)
	}
	switch {
	case c == ".":
		return "", nil
	case c == "/": // local root folder (keys lost their leading "/" above)
		return "/", nil
	case dir:
		return c + "/", nil
	}
	return c, nil
}

// resolve turns a cleaned relative-or-absolute name into the final one: for
// local disk joined to the output folder (absolute names kept), for uploads
// unchanged.
func (pl place) resolve(name string) string {
	if pl.upload {
		return name
	}
	local := filepath.FromSlash(name)
	if filepath.IsAbs(local) {
		return filepath.Clean(local)
	}
	return filepath.Join(pl.outputDir, local)
}

// resolveDir is resolve for a folder ("" is the root): local folders are
// never empty ("." for the current directory); key prefixes have no
// trailing "/".
func (pl place) resolveDir(dir string) string {
	if pl.upload {
		return strings.TrimSuffix(dir, "/")
	}
	d := pl.resolve(dir)
	if d == "" {
		return "."
	}
	return d
}

// splitName splits a cleaned name into its folder (with a trailing "/", or "")
// and its base name.
func splitName(s string) (dir, base string) { return path.Split(s) }

// knownExtensions are the media extensions LiveKit Egress replaces when a
// file name's extension does not match its type.
var knownExtensions = map[string]bool{".mp4": true, ".ogg": true, ".mp3": true, ".m3u8": true, ".ts": true,
	".jpeg": true, ".jpg": true, ".webm": true, ".ivf": true, ".raw": true, ".m4a": true, ".mkv": true, ".opus": true}

// withExtension gives name the extension ext (".mp4"): kept when it has it
// (in any case), swapped when it has another media extension (with a
// warning, as LiveKit Egress swaps it silently), else appended.
func withExtension(field, name, ext string, warn func(string)) string {
	cur := path.Ext(name)
	switch {
	case strings.EqualFold(cur, ext):
		return name
	case knownExtensions[strings.ToLower(cur)]:
		fixed := strings.TrimSuffix(name, cur) + ext
		warn(fmt.Sprintf("%s: %s does not match the file type; writing %s instead", field, quote(cur), quote(fixed)))
		return fixed
	}
	return name + ext
}

// trimExtension drops ext from name in any case: "a.M3U8" -> "a".
func trimExtension(name, ext string) string {
	if cur := path.Ext(name); strings.EqualFold(cur, ext) {
		return strings.TrimSuffix(name, cur)
	}
	return name
}

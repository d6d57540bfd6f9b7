package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Parse limits: a request is a few levels deep and a few KiB long.
const (
	maxRequestBytes = 1 << 20
	maxDepth        = 32
)

// Parse decodes a request.json in protojson form (proto or JSON field names)
// into a RoomCompositeEgressRequest. Unknown fields, wrong types, unknown enum
// names and fields given twice are errors naming the field. One quirk is
// accepted: "preset" inside "segments" (or a segment_outputs entry), as
// LiveKit's docs print it although the protocol has no such field; it becomes
// the request's preset when the request has none, and a warning says so.
// Parse checks the JSON's shape only; Build checks the values.
func Parse(data []byte) (*livekit.RoomCompositeEgressRequest, []string, error) {
	req := &livekit.RoomCompositeEgressRequest{}
	s, err := parseInto(data, req, "{\"room_name\": \"my-room\", \"file_outputs\": [{}]}")
	if err != nil {
		return nil, nil, err
	}
	warnings, err := s.applyQuirks(req)
	if err != nil {
		return nil, nil, err
	}
	return req, warnings, nil
}

// ParseTrack decodes a request.json of LiveKit's TrackEgressRequest (as
// "lk egress start --type track" takes it), with Parse's checks of its
// shape; Track checks the values.
func ParseTrack(data []byte) (*livekit.TrackEgressRequest, error) {
	req := &livekit.TrackEgressRequest{}
	if _, err := parseInto(data, req, "{\"room_name\": \"my-room\", \"track_id\": \"TR_...\", \"file\": {}}"); err != nil {
		return nil, err
	}
	return req, nil
}

// ParseParticipant decodes LiveKit's ParticipantEgressRequest (as "lk
// egress start --type participant" takes it), with Parse's checks of its
// shape.
func ParseParticipant(data []byte) (*livekit.ParticipantEgressRequest, error) {
	req := &livekit.ParticipantEgressRequest{}
	if _, err := parseInto(data, req, "{\"room_name\": \"my-room\", \"identity\": \"alice\", \"file_outputs\": [{}]}"); err != nil {
		return nil, err
	}
	return req, nil
}

// ParseTrackComposite decodes LiveKit's TrackCompositeEgressRequest (as
// "lk egress start --type track-composite" takes it), with Parse's checks
// of its shape.
func ParseTrackComposite(data []byte) (*livekit.TrackCompositeEgressRequest, error) {
	req := &livekit.TrackCompositeEgressRequest{}
	if _, err := parseInto(data, req, "{\"room_name\": \"my-room\", \"video_track_id\": \"TR_...\", \"audio_track_id\": \"TR_...\", \"file_outputs\": [{}]}"); err != nil {
		return nil, err
	}
	return req, nil
}

// parseInto decodes data into req, checking it against req's schema;
// example is a request of its kind, for the errors about its shape.
func parseInto(data []byte, req proto.Message, example string) (*schema, error) {
	if len(data) > maxRequestBytes {
		return nil, invalid("request.json", "is %d bytes, over the %d a request may have; it should be a few KiB", len(data), maxRequestBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, invalid("request.json", "empty; give a JSON object such as %s", example)
	}
	r := &jsonReader{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	r.dec.UseNumber()
	root, err := r.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := r.dec.Token(); err != io.EOF {
		return nil, invalid("request.json", "has more after the request's closing }; give one JSON object")
	}
	obj, ok := root.(*jobj)
	if !ok {
		return nil, invalid("request.json", "expected an object, got %s; a request looks like %s", kindOf(root), example)
	}
	s := &schema{}
	if err := s.message(req.ProtoReflect().Descriptor(), obj, ""); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	writeJSON(&buf, obj)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(buf.Bytes(), req); err != nil {
		return nil, protojsonError(err)
	}
	return s, nil
}

// The JSON tree: nil, bool, json.Number, string, []any or *jobj.
type jobj struct{ members []jmember }

type jmember struct {
	key  string
	val  any
	drop bool // not passed to protojson (the segments-preset quirk)
}

type jsonReader struct {
	dec  *json.Decoder
	data []byte
}

// value reads one JSON value; path is the field path so far, for messages.
func (r *jsonReader) value(path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, invalid(orRoot(path), "nested deeper than %d levels; a request is only a few levels deep", maxDepth)
	}
	tok, err := r.dec.Token()
	if err != nil {
		return nil, r.syntax(path, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	switch d {
	case '{':
		o := &jobj{}
		seen := map[string]bool{}
		for r.dec.More() {
			kt, err := r.dec.Token()
			if err != nil {
				return nil, r.syntax(path, err)
			}
			key, ok := kt.(string)
			if !ok {
				return nil, r.syntax(path, errors.New("expected a field name"))
			}
			if seen[key] {
				return nil, invalid(join(path, shortKey(key)), "given twice; keep one")
			}
			seen[key] = true
			v, err := r.value(join(path, shortKey(key)), depth+1)
			if err != nil {
				return nil, err
			}
			o.members = append(o.members, jmember{key: key, val: v})
		}
		if _, err := r.dec.Token(); err != nil {
			return nil, r.syntax(path, err)
		}
		return o, nil
	case '[':
		list := []any{}
		for i := 0; r.dec.More(); i++ {
			v, err := r.value(index(path, i), depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if _, err := r.dec.Token(); err != nil {
			return nil, r.syntax(path, err)
		}
		return list, nil
	}
	return nil, r.syntax(path, fmt.Errorf("unexpected %q", rune(d)))
}

// syntax turns a decoder error into one with line and column. The decoder's
// messages show at most one character of the input.
func (r *jsonReader) syntax(path string, err error) error {
	off := r.dec.InputOffset()
	msg := err.Error()
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "the JSON ends too early; check for a missing }, ] or \""
	}
	line, col := 1, 1
	for _, c := range r.data[:min(int(off), len(r.data))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return invalid(orRoot(path), "JSON syntax error at line %d, column %d: %s", line, col, msg)
}

func orRoot(path string) string {
	if path == "" {
		return "request.json"
	}
	return path
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// shortKey is a JSON key as a field path shows it: as is when it is a plain
// name, else quoted and cut to 64 characters.
func shortKey(k string) string {
	if plainKey.MatchString(k) {
		return k
	}
	if r := []rune(k); len(r) > 64 {
		k = string(r[:64]) + "..."
	}
	return fmt.Sprintf("%q", k)
}

// writeJSON writes the tree back as JSON for protojson, without dropped members.
func writeJSON(buf *bytes.Buffer, v any) {
	switch t := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		fmt.Fprint(buf, t)
	case json.Number:
		buf.WriteString(string(t))
	case string:
		b, _ := json.Marshal(t) // a string always marshals
		buf.Write(b)
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSON(buf, e)
		}
		buf.WriteByte(']')
	case *jobj:
		buf.WriteByte('{')
		first := true
		for _, m := range t.members {
			if m.drop {
				continue
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			writeJSON(buf, m.key)
			buf.WriteByte(':')
			writeJSON(buf, m.val)
		}
		buf.WriteByte('}')
	}
}

var (
	quotedRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	positionRE = regexp.MustCompile(`\(line \d+:\d+\)`)
)

// protojsonError reports an error protojson found after the schema walk
// passed (it should not happen); quoted values are cut so no secret shows.
func protojsonError(err error) error {
	msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), "proto:"))
	msg = quotedRE.ReplaceAllString(msg, `"..."`)
	msg = strings.TrimSpace(positionRE.ReplaceAllString(msg, "")) // positions in our re-encoding, not the user's file
	return invalid("request.json", "%s; fix the value there", msg)
}

package request

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// schema walks the JSON tree against the proto descriptors, reading it the
// way protojson does (JSON or proto names, null = unset) but with messages
// that name the field and the fix. It never repeats a string value from the
// input except enum names and field names.
type schema struct {
	quirks []quirk
}

// quirk is a "preset" found inside a SegmentedFileOutput.
type quirk struct {
	field string
	val   any
}

var (
	requestDesc  = (&livekit.RoomCompositeEgressRequest{}).ProtoReflect().Descriptor()
	segmentsDesc = (&livekit.SegmentedFileOutput{}).ProtoReflect().Descriptor()
	s3Desc       = (&livekit.S3Upload{}).ProtoReflect().Descriptor()
)

func (s *schema) message(md protoreflect.MessageDescriptor, o *jobj, path string) error {
	fields := md.Fields()
	seen := map[protoreflect.FieldNumber]string{}
	oneofs := map[protoreflect.Name]string{}
	for i := range o.members {
		m := &o.members[i]
		fd := fields.ByJSONName(m.key)
		if fd == nil {
			fd = fields.ByTextName(m.key)
		}
		if fd == nil {
			if m.key == "preset" && md.FullName() == segmentsDesc.FullName() {
				s.quirks = append(s.quirks, quirk{field: join(path, "preset"), val: m.val})
				m.drop = true
				continue
			}
			return unknownField(md, path, m.key)
		}
		f := join(path, string(fd.Name()))
		if prev, dup := seen[fd.Number()]; dup {
			return invalid(f, "given twice (as %s and %s); keep one", quote(prev), quote(m.key))
		}
		seen[fd.Number()] = m.key
		if m.val == nil {
			continue // null leaves the field unset, as in protojson
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && !fd.IsList() && !fd.IsMap() {
			if other, set := oneofs[od.Name()]; set {
				return oneofConflict(md, path, od, other, string(fd.Name()))
			}
			oneofs[od.Name()] = string(fd.Name())
		}
		if err := s.field(fd, m.val, f); err != nil {
			return err
		}
	}
	return nil
}

func (s *schema) field(fd protoreflect.FieldDescriptor, v any, f string) error {
	switch {
	case fd.IsMap():
		o, ok := v.(*jobj)
		if !ok {
			return typeError(f, "an object of names to values", v)
		}
		for _, m := range o.members {
			if m.val == nil {
				return invalid(join(f, shortKey(m.key)), "null is not a value here; give a string or remove the entry")
			}
			if err := s.singular(fd.MapValue(), m.val, join(f, shortKey(m.key))); err != nil {
				return err
			}
		}
		return nil
	case fd.IsList():
		list, ok := v.([]any)
		if !ok {
			if _, isString := v.(string); isString && fd.Kind() == protoreflect.StringKind {
				return invalid(f, "expected a list, got a string; wrap it in [ ] to make a list")
			}
			return typeError(f, "a list", v)
		}
		for i, e := range list {
			if e == nil {
				return invalid(index(f, i), "null in a list; remove it")
			}
			if err := s.singular(fd, e, index(f, i)); err != nil {
				return err
			}
		}
		return nil
	}
	return s.singular(fd, v, f)
}

func (s *schema) singular(fd protoreflect.FieldDescriptor, v any, f string) error {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") {
			return nil // well-known types have their own JSON forms; protojson checks them
		}
		o, ok := v.(*jobj)
		if !ok {
			return typeError(f, "an object", v)
		}
		return s.message(fd.Message(), o, f)
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			return typeError(f, "a string", v)
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			return typeError(f, "true or false", v)
		}
	case protoreflect.EnumKind:
		return checkEnum(fd.Enum(), v, f)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return checkInt(f, v, math.MinInt32, math.MaxInt32)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return checkInt(f, v, 0, math.MaxUint32)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return checkInt(f, v, math.MinInt64, math.MaxInt64)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return checkInt(f, v, 0, math.MaxUint64)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch t := v.(type) {
		case json.Number:
		case string:
			if _, err := strconv.ParseFloat(t, 64); err != nil && t != "NaN" && t != "Infinity" && t != "-Infinity" {
				return invalid(f, "expected a number, got a string that is not one")
			}
		default:
			return typeError(f, "a number", v)
		}
	}
	return nil
}

// checkInt checks a whole number (protojson also takes one in a string).
func checkInt(f string, v any, lo, hi float64) error {
	var text string
	switch t := v.(type) {
	case json.Number:
		text = string(t)
	case string:
		text = t
	default:
		return typeError(f, "a whole number", v)
	}
	n, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n != math.Trunc(n) {
		if _, isString := v.(string); isString {
			return invalid(f, "expected a whole number, got a string that is not one")
		}
		return invalid(f, "%s is not a whole number; give one such as 10", quote(text))
	}
	if n < lo || n > hi {
		return invalid(f, "%s is out of range (%.0f to %.0f)", quote(text), lo, hi)
	}
	return nil
}

func checkEnum(ed protoreflect.EnumDescriptor, v any, f string) error {
	switch t := v.(type) {
	case string:
		if ed.Values().ByName(protoreflect.Name(t)) != nil {
			return nil
		}
		return badEnum(f, ed, t)
	case json.Number:
		return checkInt(f, v, math.MinInt32, math.MaxInt32)
	}
	return typeError(f, "a name such as "+enumChoices(ed)[0], v)
}

// badEnum is the error for an enum name that does not exist.
func badEnum(f string, ed protoreflect.EnumDescriptor, name string) error {
	choices := enumChoices(ed)
	all := make([]string, ed.Values().Len())
	for i := range all {
		all[i] = string(ed.Values().Get(i).Name())
	}
	hint := ""
	if c := closest(name, all); c != "" {
		hint = " (did you mean " + c + "?)"
	}
	return invalid(f, "%s is not %s; use one of %s%s", quote(name), enumNoun(ed), oneOf(choices), hint)
}

// enumChoices are the values Roomcast takes, for error messages.
func enumChoices(ed protoreflect.EnumDescriptor) []string {
	switch ed.FullName() {
	case "livekit.EncodingOptionsPreset":
		return presetNames()
	case "livekit.EncodedFileType":
		return []string{"MP4", "OGG"}
	case "livekit.StreamProtocol":
		return []string{"RTMP"}
	case "livekit.SegmentedFileProtocol":
		return []string{"HLS_PROTOCOL"}
	case "livekit.ImageCodec":
		return []string{"IC_JPEG"}
	case "livekit.AudioCodec":
		return []string{"AAC", "OPUS"}
	case "livekit.VideoCodec":
		return []string{"H264_MAIN", "H264_BASELINE", "H264_HIGH"}
	case "livekit.AudioMixing":
		return []string{"DEFAULT_MIXING"}
	}
	names := make([]string, ed.Values().Len())
	for i := range names {
		names[i] = string(ed.Values().Get(i).Name())
	}
	return names
}

func enumNoun(ed protoreflect.EnumDescriptor) string {
	switch ed.FullName() {
	case "livekit.EncodingOptionsPreset":
		return "a preset"
	case "livekit.EncodedFileType":
		return "a file type"
	case "livekit.AudioCodec", "livekit.VideoCodec", "livekit.ImageCodec":
		return "a codec"
	case "livekit.StreamProtocol", "livekit.SegmentedFileProtocol":
		return "a protocol"
	case "livekit.SegmentedFileSuffix", "livekit.ImageFileSuffix":
		return "a suffix"
	}
	return "a " + string(ed.Name())
}

// kindOf names a JSON value's kind for messages (never its content).
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "true/false"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	}
	return "an object"
}

func typeError(f, want string, v any) error {
	return invalid(f, "expected %s, got %s", want, kindOf(v))
}

func unknownField(md protoreflect.MessageDescriptor, path, key string) error {
	f := join(path, shortKey(key))
	names := fieldNames(md)
	if path != "" && requestDesc.Fields().ByTextName(key) != nil {
		return invalid(f, "unknown field here; %s belongs at the top level of the request", quote(key))
	}
	if md.Fields().ByName("s3") != nil && s3Desc.Fields().ByTextName(key) != nil {
		return invalid(f, "unknown field here; %s belongs inside \"s3\": {...}", quote(key))
	}
	if c := closest(key, names); c != "" {
		return invalid(f, "unknown field; did you mean %s?", quote(c))
	}
	return invalid(f, "unknown field; %s has %s", md.Name(), oneOf(names))
}

func fieldNames(md protoreflect.MessageDescriptor) []string {
	names := make([]string, md.Fields().Len())
	for i := range names {
		names[i] = string(md.Fields().Get(i).Name())
	}
	return names
}

func oneofConflict(md protoreflect.MessageDescriptor, path string, od protoreflect.OneofDescriptor, first, second string) error {
	f := join(path, second)
	switch {
	case md.FullName() == requestDesc.FullName() && od.Name() == "output":
		return invalid(f, "cannot be used with %s (the legacy single outputs exclude each other); use file_outputs, stream_outputs and segment_outputs to record several ways at once", first)
	case od.Name() == "options":
		return invalid(f, "cannot be used with %s; give either a preset or advanced options", first)
	}
	return invalid(f, "cannot be used with %s (only one of them may be set); keep one", first)
}

// applyQuirks lifts a "preset" found inside segments to the request.
func (s *schema) applyQuirks(req *livekit.RoomCompositeEgressRequest) ([]string, error) {
	var warnings []string
	for _, q := range s.quirks {
		if q.val == nil {
			continue
		}
		ed := livekit.EncodingOptionsPreset(0).Descriptor()
		if err := checkEnum(ed, q.val, q.field); err != nil {
			return nil, err
		}
		var preset livekit.EncodingOptionsPreset
		switch t := q.val.(type) {
		case string:
			preset = livekit.EncodingOptionsPreset(ed.Values().ByName(protoreflect.Name(t)).Number())
		case json.Number:
			n, _ := strconv.ParseFloat(string(t), 64) // checked by checkEnum
			preset = livekit.EncodingOptionsPreset(int32(n))
		}
		if _, err := checkPreset(q.field, preset); err != nil {
			return nil, err
		}
		switch o := req.Options.(type) {
		case nil:
			req.Options = &livekit.RoomCompositeEgressRequest_Preset{Preset: preset}
			warnings = append(warnings, fmt.Sprintf("%s: the protocol has no preset here (LiveKit's docs print one); Roomcast used %s as the request's preset. Move \"preset\" to the top level so that LiveKit Egress accepts the request too", q.field, preset))
		case *livekit.RoomCompositeEgressRequest_Preset:
			if o.Preset != preset {
				return nil, invalid(q.field, "%s conflicts with the request's preset %s; remove %s (the protocol has no such field)", preset, o.Preset, q.field)
			}
			warnings = append(warnings, fmt.Sprintf("%s: ignored, as the protocol has no preset here; it repeats the request's preset %s, so remove it", q.field, preset))
		default:
			return nil, invalid(q.field, "%s conflicts with the request's advanced options; remove %s (the protocol has no such field)", preset, q.field)
		}
	}
	return warnings, nil
}

// closest returns the candidate nearest to s (ignoring case, "_" and "-")
// when it is near enough to be a typo, else "".
func closest(s string, candidates []string) string {
	norm := func(x string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(x))
	}
	ns := norm(s)
	if ns == "" || len(ns) > 64 {
		return ""
	}
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		if d := editDistance(ns, norm(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(1, len([]rune(ns))/3) {
		return best
	}
	// a cut-short name ("room" for "room_name") if only one candidate fits
	var fits []string
	for _, c := range candidates {
		if nc := norm(c); len(ns) >= 3 && (strings.HasPrefix(nc, ns) || strings.HasPrefix(ns, nc)) {
			fits = append(fits, c)
		}
	}
	if len(fits) == 1 {
		return fits[0]
	}
	return ""
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours cost 1.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

package request

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinels for errors.Is. Every error Parse, Build and Load return matches
// ErrInvalid (the request is at fault); errors about things LiveKit accepts but
// Roomcast cannot do (GCP uploads, VP8, SRT...) also match ErrUnsupported.
var (
	ErrInvalid     = errors.New("invalid request")
	ErrUnsupported = errors.New("not supported by Roomcast")
)

// FieldError is a problem with one field of the request. Its text is
// "<field>: <what is wrong>; <what to do>" and never holds a secret: URLs are
// shown redacted and credentials are named, never quoted.
type FieldError struct {
	// Field is the proto path of the field, e.g. "stream_outputs[0].urls[1]",
	// "request.json" for JSON syntax, or "request" for the request as a whole.
	Field string
	// Msg says what is wrong and how to fix it.
	Msg string

	unsupported bool
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Is reports whether target is ErrInvalid, or ErrUnsupported for requests
// asking for a feature Roomcast lacks.
func (e *FieldError) Is(target error) bool {
	return target == ErrInvalid || (e.unsupported && target == ErrUnsupported)
}

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), unsupported: true}
}

// maxQuoted is how many characters of a user's value an error or warning
// repeats; past that the value is cut with "...".
const maxQuoted = 80

// quote returns s in Go quotes for messages, cut to maxQuoted runes. Never
// pass it a secret; pass URLs through RedactURL first.
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxQuoted {
		s = string([]rune(s)[:maxQuoted]) + "..."
	}
	return fmt.Sprintf("%q", s)
}

// join builds a field path: join("file_outputs[0]", "s3") = "file_outputs[0].s3".
func join(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

// oneOf formats a list of choices: "a, b or c".
func oneOf(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// hasControl reports whether s holds a control character (CR, LF, NUL...),
// which no name, path or header value may carry.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

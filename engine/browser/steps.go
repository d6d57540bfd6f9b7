package browser

import (
	"fmt"
	"regexp"
)

// startStepLine is how Roomcast's layouts log each step of their start
// ("roomcast: signalling connected 1477 ms after navigation").
var startStepLine = regexp.MustCompile(`^roomcast: (.+) \d+ ms after navigation$`)

// nextSteps names, for each step of a layout's start, what comes after it:
// when a start times out, the step that never came says where to look.
var nextSteps = map[string]string{
	"script running":              "the signalling connection (WebSocket) to the LiveKit server",
	"called in from standby":      "the signalling connection (WebSocket) to the LiveKit server",
	"signalling connected":        "the media connection (ICE: UDP, TCP or TURN) to the LiveKit server",
	"in the room":                 "a first track subscribed",
	"first track subscribed":      "a first video frame on screen",
	"first video frame on screen": "START_RECORDING",
	"every microphone heard":      "a first video frame on screen",
}

// startStep is the step a console line reports, if it reports one.
func startStep(text string) (string, bool) {
	m := startStepLine.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// stepNote says how far a page that did not start got, "" when it logged
// no step (a custom template need not).
func stepNote(step string) string {
	if step == "" {
		return ""
	}
	if next, ok := nextSteps[step]; ok {
		return fmt.Sprintf("; the page got as far as %q, and %s never came", step, next)
	}
	return fmt.Sprintf("; the page got as far as %q", step)
}

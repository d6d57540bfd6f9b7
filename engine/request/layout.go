package request

import (
	"net/url"
	"slices"
	"strings"
)

// Layouts are the built-in layouts, as LiveKit Egress names them; the first
// is the default.
var Layouts = []string{"grid", "grid-light", "speaker", "speaker-light", "single-speaker", "single-speaker-light"}

// layout checks layout and custom_base_url. A built-in layout is matched
// case-insensitively; with custom_base_url the layout belongs to that
// template and is passed on as written.
func (b *builder) layout() error {
	req, p := b.req, b.plan
	if req.CustomBaseUrl != "" {
		raw := strings.TrimSpace(req.CustomBaseUrl)
		if err := checkHTTPURL("custom_base_url", raw, "your template's address, e.g. https://example.com/template"); err != nil {
			return err
		}
		p.CustomBaseURL = raw
		if hasControl(req.Layout) {
			return invalid("layout", "holds a control character; use a plain name")
		}
		p.Layout = req.Layout
		return nil
	}

	name, err := CheckLayout(req.Layout)
	if err != nil {
		return err
	}
	p.Layout = name
	return nil
}

// CheckLayout normalises a built-in layout name (as in a request, or in
// UpdateLayout): "" is the default, case does not matter.
func CheckLayout(layout string) (string, error) {
	name := strings.ToLower(strings.TrimSpace(layout))
	if name == "" {
		name = Layouts[0]
	}
	// Older LiveKit templates name the dark variants "-dark"; dark is the
	// default look, so "grid-dark" is "grid".
	name = strings.TrimSuffix(name, "-dark")
	if !slices.Contains(Layouts, name) {
		hint := ""
		if s := closest(name, Layouts); s != "" {
			hint = " (did you mean " + s + "?)"
		}
		return "", invalid("layout", "%s is not a built-in layout; use one of %s, or set custom_base_url to use your own template%s", quote(layout), oneOf(Layouts), hint)
	}
	return name, nil
}

// checkHTTPURL checks an http(s) URL with a host. Errors show the URL redacted.
func checkHTTPURL(field, raw, example string) error {
	u, err := url.Parse(raw)
	if err != nil || hasControl(raw) {
		return invalid(field, "%s is not a valid URL; give %s", quote(redactWebURL(raw)), example)
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return invalid(field, "%s is not an http:// or https:// URL; give %s", quote(redactWebURL(raw)), example)
	}
	if u.Host == "" || u.Hostname() == "" {
		return invalid(field, "%s has no host; give %s", quote(redactWebURL(raw)), example)
	}
	return nil
}

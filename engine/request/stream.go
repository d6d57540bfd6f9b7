package request

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

const rtmpExample = "rtmp://host/app/stream-key"

// CheckStreamURL checks one RTMP destination (for stream outputs and for
// UpdateStream's added URLs) and returns it normalised: trimmed, scheme and
// host in lower case, librtmp's " live=1" option dropped. It must be rtmp://
// or rtmps:// with a host, an app path and a stream key. field names the URL
// in errors, which show it redacted.
func CheckStreamURL(field, raw string) (string, error) {
	shown := quote(RedactURL(raw))
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", invalid(field, "empty; give an rtmp:// or rtmps:// URL like %s", rtmpExample)
	}
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		if strings.TrimSpace(s[i:]) != "live=1" {
			return "", invalid(field, "%s has a space; only the option \" live=1\" may follow the URL (write a space in the stream key as %%20)", shown)
		}
		s = s[:i]
	}
	if hasControl(s) {
		return "", invalid(field, "%s holds a control character; paste the URL again", shown)
	}
	i := strings.Index(s, "://")
	if i < 0 {
		return "", invalid(field, "%s is not an rtmp:// or rtmps:// URL; use %s", shown, rtmpExample)
	}
	scheme := strings.ToLower(s[:i])
	switch scheme {
	case "rtmp", "rtmps":
	case "mux":
		return "", unsupported(field, "mux:// URLs are not supported by Roomcast; use rtmps://global-live.mux.com:443/app/<stream key>")
	case "twitch":
		return "", unsupported(field, "twitch:// URLs are not supported by Roomcast; use the rtmp:// ingest URL Twitch shows, e.g. rtmp://live.twitch.tv/app/<stream key>")
	case "srt":
		return "", unsupported(field, "SRT is not supported by Roomcast; use an rtmp:// or rtmps:// URL")
	case "ws", "wss":
		return "", unsupported(field, "WebSocket streams are not supported by Roomcast; use an rtmp:// or rtmps:// URL")
	default:
		return "", invalid(field, "%s is not an rtmp:// or rtmps:// URL; use %s", shown, rtmpExample)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", invalid(field, "%s is not a valid URL (check the host, the port and any %%-escapes); use %s", shown, rtmpExample)
	}
	if u.Hostname() == "" {
		return "", invalid(field, "%s has no host; use %s", shown, rtmpExample)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", invalid(field, "%s has port %s, outside 1 to 65535; RTMP uses 1935, RTMPS 443", shown, quote(p))
		}
	}
	if strings.Contains(s, "#") {
		return "", invalid(field, "%s has a \"#\"; if the stream key holds one, write it as %%23", shown)
	}
	app, key := "", strings.TrimPrefix(u.Path, "/")
	if j := strings.LastIndex(key, "/"); j >= 0 {
		app, key = key[:j], key[j+1:]
	}
	switch {
	case strings.Trim(app, "/") == "" && key == "":
		return "", invalid(field, "%s has no app path or stream key; use %s", shown, rtmpExample)
	case strings.Trim(app, "/") == "":
		return "", invalid(field, "%s has no app path before the stream key; use %s", shown, rtmpExample)
	case key == "":
		return "", invalid(field, "%s has no stream key after the app path; add it: rtmp://host/%s/<stream key>", shown, app)
	}

	// lower-case the scheme and host, keep the rest as written
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	auth := rest[:end]
	at := strings.LastIndex(auth, "@") + 1
	return scheme + "://" + auth[:at] + strings.ToLower(auth[at:]) + rest[end:], nil
}

// SameStreamURL reports whether two URLs checked by CheckStreamURL reach the
// same destination: equal but for a default port (1935 for rtmp, 443 for rtmps).
func SameStreamURL(a, b string) bool { return streamIdentity(a) == streamIdentity(b) }

func streamIdentity(s string) string {
	for _, def := range []struct{ scheme, port string }{{"rtmp://", ":1935"}, {"rtmps://", ":443"}} {
		if !strings.HasPrefix(s, def.scheme) {
			continue
		}
		rest := s[len(def.scheme):]
		end := strings.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		return def.scheme + strings.TrimSuffix(rest[:end], def.port) + rest[end:]
	}
	return s
}

//lint:file-ignore SA1019 LiveKit's deprecated single-output fields (file, stream, segments) are still accepted, as LiveKit Egress accepts them.

package request

import (
	"fmt"
	"maps"
	"strings"
	"unicode"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// redacted stands for a secret too short to show any of.
const redacted = "{redacted}"

// minShownKey is the shortest secret shown as {ab...yz}: below it, four
// characters would give away too much of it.
const minShownKey = 10

// RedactURL returns a stream URL safe to show: the last path segment, the
// stream key, becomes {sk...y1} (first and last two characters) or
// {redacted} when short; query values are redacted the same way; a userinfo
// password is stripped; a fragment and option values after a space
// (librtmp's, but for live=1) are redacted. Any scheme is treated so, and
// text that is not a URL has its last "/" segment redacted too, so a stream
// key pasted without (or with a wrong) scheme does not show either.
func RedactURL(u string) string { return redactURL(u, false) }

// redactWebURL is RedactURL for web addresses (templates, S3 endpoints,
// webhooks), whose paths are not secret: only the password, the query values
// and the fragment are redacted.
func redactWebURL(u string) string { return redactURL(u, true) }

func redactURL(u string, keepPath bool) string {
	base, opts := u, ""
	if i := strings.IndexFunc(u, unicode.IsSpace); i >= 0 {
		base, opts = u[:i], u[i:]
	}
	out := redactBase(base, keepPath)
	for _, o := range strings.Fields(opts) {
		switch k, _, ok := strings.Cut(o, "="); {
		case o == "live=1":
			out += " " + o
		case ok:
			out += " " + k + "=" + redacted
		default:
			out += " " + redacted
		}
	}
	return out
}

func redactBase(s string, keepPath bool) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return redactTail(s, !keepPath)
	}
	scheme, rest := s[:i], s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth, tail := rest[:end], rest[end:]
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		user, _, _ := strings.Cut(auth[:at], ":")
		auth = user + "@" + auth[at+1:]
	}
	switch strings.ToLower(scheme) {
	case "mux", "twitch": // shorthand: the "host" is the stream key
		auth = redactKey(auth)
	}
	return scheme + "://" + auth + redactTail(tail, !keepPath)
}

// redactTail redacts a path's last segment (when key is set), the query's
// values and the fragment.
func redactTail(s string, key bool) string {
	frag := ""
	if h := strings.IndexByte(s, '#'); h >= 0 {
		s, frag = s[:h], "#"+redacted
	}
	query := ""
	if q := strings.IndexByte(s, '?'); q >= 0 {
		params := strings.Split(s[q+1:], "&")
		for j, p := range params {
			if k, v, ok := strings.Cut(p, "="); ok && v != "" {
				params[j] = k + "=" + redactKey(v)
			} else if !ok && p != "" {
				params[j] = redactKey(p)
			}
		}
		s, query = s[:q], "?"+strings.Join(params, "&")
	}
	if key {
		j := strings.LastIndexByte(s, '/')
		if last := s[j+1:]; last != "" {
			s = s[:j+1] + redactKey(last)
		}
	}
	return s + query + frag
}

// redactKey shows a secret as {ab...yz}, or {redacted} when it is short.
func redactKey(k string) string {
	r := []rune(k)
	if len(r) < minShownKey {
		return redacted
	}
	return "{" + string(r[:2]) + "..." + string(r[len(r)-2:]) + "}"
}

// redactSecret redacts a credential wholly; empty stays empty so that
// "no credential given" still shows.
func redactSecret(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// Redacted returns a copy of u for display: the access key as {AK...LE},
// the secret and session token as {redacted}.
func (u *Upload) Redacted() *Upload {
	if u == nil {
		return nil
	}
	c := *u
	if c.AccessKey != "" {
		c.AccessKey = redactKey(c.AccessKey)
	}
	c.Secret = redactSecret(c.Secret)
	c.SessionToken = redactSecret(c.SessionToken)
	c.Endpoint = redactWebURL(c.Endpoint)
	c.Metadata = maps.Clone(c.Metadata)
	return &c
}

// String describes the destination with credentials redacted, so %v and %s
// never print them.
func (u *Upload) String() string {
	if u == nil {
		return "local disk"
	}
	r := u.Redacted()
	s := "s3://" + r.Bucket
	var details []string
	if r.Endpoint != "" {
		details = append(details, "endpoint "+r.Endpoint)
	}
	if r.Region != "" {
		details = append(details, "region "+r.Region)
	}
	if r.AccessKey != "" {
		details = append(details, "access key "+r.AccessKey)
	} else {
		details = append(details, "environment credentials")
	}
	return s + " (" + strings.Join(details, ", ") + ")"
}

// GoString keeps %#v from printing credentials too.
func (u *Upload) GoString() string { return fmt.Sprintf("&request.Upload{%s}", u.String()) }

// Redacted returns a deep copy of p safe to log or show: stream URLs through
// RedactURL, the template URL with its password and query values redacted,
// uploads through Upload.Redacted.
func (p *Plan) Redacted() *Plan {
	if p == nil {
		return nil
	}
	c := *p
	c.CustomBaseURL = redactWebURL(p.CustomBaseURL)
	c.Warnings = append([]string(nil), p.Warnings...)
	c.Files = append([]FileOutput(nil), p.Files...)
	for i := range c.Files {
		c.Files[i].Upload = c.Files[i].Upload.Redacted()
	}
	c.Streams = append([]StreamOutput(nil), p.Streams...)
	for i := range c.Streams {
		dests := make([]Destination, len(c.Streams[i].Destinations))
		for j, d := range c.Streams[i].Destinations {
			dests[j] = Destination{ID: d.ID, URL: RedactURL(d.URL), Field: d.Field}
		}
		c.Streams[i].Destinations = dests
	}
	c.Segments = append([]SegmentOutput(nil), p.Segments...)
	for i := range c.Segments {
		c.Segments[i].Upload = c.Segments[i].Upload.Redacted()
	}
	c.Images = append([]ImageOutput(nil), p.Images...)
	for i := range c.Images {
		c.Images[i].Upload = c.Images[i].Upload.Redacted()
	}
	c.Webhooks = append([]Webhook(nil), p.Webhooks...)
	for i := range c.Webhooks {
		c.Webhooks[i].URL = redactWebURL(c.Webhooks[i].URL)
		c.Webhooks[i].SigningKey = redactSecret(c.Webhooks[i].SigningKey)
	}
	return &c
}

// String shows the plan with secrets redacted, so that %v never prints a
// stream key or a credential.
func (p *Plan) String() string {
	if p == nil {
		return "<nil>"
	}
	type plain Plan // without methods, so that printing it does not recurse
	return fmt.Sprintf("%+v", (*plain)(p.Redacted()))
}

// String shows the stream output with its URLs redacted.
func (s StreamOutput) String() string {
	urls := make([]string, len(s.Destinations))
	for i, d := range s.Destinations {
		urls[i] = RedactURL(d.URL)
		if d.ID != "" {
			urls[i] = d.ID + "=" + urls[i]
		}
	}
	return fmt.Sprintf("{Protocol:%s Destinations:[%s]}", s.Protocol, strings.Join(urls, " "))
}

// RedactRequest returns a copy of req safe to log, show or put in an
// EgressInfo: stream keys, URL passwords, storage credentials, proxy
// passwords and webhook signing keys redacted.
func RedactRequest(req *livekit.RoomCompositeEgressRequest) *livekit.RoomCompositeEgressRequest {
	if req == nil {
		return nil
	}
	c := cloneOf(req)
	c.CustomBaseUrl = redactWebURL(c.CustomBaseUrl)
	redactOutputs(c.GetStream(), singleUploads(c.GetFile(), c.GetSegments()), c.StreamOutputs, c.FileOutputs, c.SegmentOutputs, c.ImageOutputs, c.Webhooks)
	return c
}

// singleUploads are a request's deprecated single file and segments
// outputs that it has.
func singleUploads(f *livekit.EncodedFileOutput, s *livekit.SegmentedFileOutput) []uploadRequest {
	var out []uploadRequest
	if f != nil {
		out = append(out, f)
	}
	if s != nil {
		out = append(out, s)
	}
	return out
}

// cloneOf is a deep copy of a request, to redact.
func cloneOf[T proto.Message](req T) T { return proto.Clone(req).(T) }

// redactOutputs redacts a request's outputs in place: its deprecated
// single stream and file or segments (nil, empty for none), its lists of
// outputs, and its webhooks.
func redactOutputs(stream *livekit.StreamOutput, single []uploadRequest, streams []*livekit.StreamOutput,
	files []*livekit.EncodedFileOutput, segments []*livekit.SegmentedFileOutput, images []*livekit.ImageOutput, hooks []*livekit.WebhookConfig) {
	redactStreams(append([]*livekit.StreamOutput{stream}, streams...))
	uploads := single
	for _, f := range files {
		if f != nil {
			uploads = append(uploads, f)
		}
	}
	for _, s := range segments {
		if s != nil {
			uploads = append(uploads, s)
		}
	}
	for _, im := range images {
		if im != nil {
			uploads = append(uploads, im)
		}
	}
	for _, u := range uploads {
		redactUploadRequest(u)
	}
	redactWebhooks(hooks)
}

// RedactStart is RedactRequest for LiveKit's unified StartEgressRequest.
func RedactStart(req *livekit.StartEgressRequest) *livekit.StartEgressRequest {
	if req == nil {
		return nil
	}
	c := cloneOf(req)
	if t := c.GetTemplate(); t != nil {
		t.CustomBaseUrl = redactWebURL(t.CustomBaseUrl)
	}
	if w := c.GetWeb(); w != nil {
		w.Url = redactWebURL(w.Url)
	}
	if c.Storage != nil {
		redactUploadRequest(c.Storage)
	}
	for _, o := range c.Outputs {
		if o.GetStorage() != nil {
			redactUploadRequest(o.Storage)
		}
		redactStreams([]*livekit.StreamOutput{o.GetStream()})
		if s := o.GetSegments(); s != nil {
			redactUploadRequest(s)
		}
		if im := o.GetImages(); im != nil {
			redactUploadRequest(im)
		}
	}
	redactWebhooks(c.Webhooks)
	return c
}

// redactStreams redacts the stream keys in every URL and destination;
// nil entries are skipped.
func redactStreams(streams []*livekit.StreamOutput) {
	for _, s := range streams {
		if s == nil {
			continue
		}
		for i, u := range s.Urls {
			s.Urls[i] = RedactURL(u)
		}
		for _, d := range s.Destinations {
			if d != nil {
				d.Url = RedactURL(d.Url)
			}
		}
	}
}

func redactWebhooks(hooks []*livekit.WebhookConfig) {
	for _, w := range hooks {
		if w != nil {
			w.SigningKey = redactSecret(w.SigningKey)
			w.Url = redactWebURL(w.Url)
		}
	}
}

func redactUploadRequest(u uploadRequest) {
	redactProxy := func(p *livekit.ProxyConfig) {
		if p != nil {
			p.Password = redactSecret(p.Password)
			p.Url = redactWebURL(p.Url)
		}
	}
	if s3 := u.GetS3(); s3 != nil {
		if s3.AccessKey != "" {
			s3.AccessKey = redactKey(s3.AccessKey)
		}
		s3.Secret = redactSecret(s3.Secret)
		s3.SessionToken = redactSecret(s3.SessionToken)
		s3.AssumeRoleExternalId = redactSecret(s3.AssumeRoleExternalId)
		s3.Endpoint = redactWebURL(s3.Endpoint)
		redactProxy(s3.Proxy)
	}
	if g := u.GetGcp(); g != nil {
		g.Credentials = redactSecret(g.Credentials)
		redactProxy(g.Proxy)
	}
	if a := u.GetAzure(); a != nil {
		a.AccountKey = redactSecret(a.AccountKey)
	}
	if a := u.GetAliOSS(); a != nil {
		if a.AccessKey != "" {
			a.AccessKey = redactKey(a.AccessKey)
		}
		a.Secret = redactSecret(a.Secret)
	}
}

//lint:file-ignore SA1019 LiveKit's deprecated single-output fields (file, stream, segments) are still accepted, as LiveKit Egress accepts them.

package request

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// FuzzParseBuild feeds Parse and Build arbitrary bytes. They must not panic,
// must fail only with ErrInvalid errors, and no error (nor a redacted plan)
// may show a secret: for Parse, the credentials and stream keys of the raw
// JSON; for Build, marker secrets put into every secret place of the parsed
// request.
func FuzzParseBuild(f *testing.F) {
	for _, c := range badCases {
		f.Add([]byte(c.json))
	}
	for _, c := range goodCases {
		f.Add([]byte(c.json))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, _, err := Parse(data)
		if err != nil {
			checkErr(t, err)
			secrets, public := rawSecrets(data)
			noLeak(t, "Parse error", err.Error(), secrets, public)
			return
		}
		if _, err := Build(req, testOptions()); err != nil {
			checkErr(t, err)
		}
		if strings.Contains(string(data), markerStem) {
			return
		}
		markers := injectSecrets(req)
		p, err := Build(req, testOptions())
		if err != nil {
			checkErr(t, err)
			noLeak(t, "Build error", err.Error(), markers, nil)
			return
		}
		shown := fmt.Sprintf("%+v %v %s %s", p.Redacted(), p.CompositeKey(), strings.Join(p.Warnings, "\n"), RedactRequest(req))
		for _, fo := range p.Files {
			shown += fo.Upload.String()
		}
		noLeak(t, "redacted plan", shown, markers, nil)
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) || fe.Field == "" {
		t.Fatalf("error is not a FieldError with a field: %#v", err)
	}
}

func noLeak(t *testing.T, what, text string, secrets, public []string) {
	t.Helper()
next:
	for _, s := range secrets {
		if utf8.RuneCountInString(s) < 8 {
			continue
		}
		for _, p := range public {
			if strings.Contains(p, s) {
				continue next // the input shows it in a place that is not secret
			}
		}
		if strings.Contains(text, s) {
			t.Fatalf("%s shows secret %q:\n%s", what, s, text)
		}
	}
}

// lkStreamKey is LiveKit Egress's own pattern for an RTMP URL; the 4th group
// is the stream key.
var lkStreamKey = regexp.MustCompile(`^(rtmps?://)(.*/)(.*/)(\S*)( live=1)?$`)

// urlSecrets are the secret parts of a URL: stream key, password, query values.
func urlSecrets(u string) []string {
	var s []string
	if m := lkStreamKey.FindStringSubmatch(u); m != nil {
		s = append(s, m[4])
	}
	if pu, err := url.Parse(u); err == nil {
		if pw, ok := pu.User.Password(); ok {
			s = append(s, pw)
		}
		for _, vs := range pu.Query() {
			s = append(s, vs...)
		}
	}
	return s
}

var (
	secretKeys = map[string]bool{"access_key": true, "accessKey": true, "secret": true, "session_token": true, "sessionToken": true,
		"assume_role_external_id": true, "assumeRoleExternalId": true, "password": true, "credentials": true,
		"account_key": true, "accountKey": true, "signing_key": true, "signingKey": true}
	urlKeys = map[string]bool{"urls": true, "url": true, "custom_base_url": true, "customBaseUrl": true, "endpoint": true}
)

// rawSecrets collects the secrets of request JSON and the public strings
// (keys, other strings, numbers) a message may repeat.
func rawSecrets(data []byte) (secrets, public []string) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, nil
	}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				public = append(public, k)
				walk(k, e)
			}
		case []any:
			for _, e := range t {
				walk(key, e)
			}
		case string:
			switch {
			case secretKeys[key]:
				secrets = append(secrets, t)
			case urlKeys[key]:
				secrets = append(secrets, urlSecrets(t)...)
				secrets = append(secrets, urlSecrets(strings.TrimSpace(t))...)
			default:
				public = append(public, t)
			}
		case json.Number:
			public = append(public, string(t))
		}
	}
	walk("", v)
	return secrets, public
}

const markerStem = "Qz7SeCrEt"

// injectSecrets puts distinct marker secrets in every secret place of req
// and returns them.
func injectSecrets(req *livekit.RoomCompositeEgressRequest) []string {
	var markers []string
	next := func() string {
		m := fmt.Sprintf("%s%02dx9", markerStem, len(markers))
		markers = append(markers, m)
		return m
	}
	req.CustomBaseUrl = injectURL(req.CustomBaseUrl, next)
	for _, s := range append([]*livekit.StreamOutput{req.GetStream()}, req.StreamOutputs...) {
		if s == nil {
			continue
		}
		for i, u := range s.Urls {
			s.Urls[i] = injectURL(u, next)
		}
		for _, d := range s.Destinations {
			if d != nil {
				d.Url = injectURL(d.Url, next)
			}
		}
	}
	var ups []uploadRequest
	for _, m := range []proto.Message{req.GetFile(), req.GetSegments()} {
		if u, ok := m.(uploadRequest); ok && !isNil(m) {
			ups = append(ups, u)
		}
	}
	for _, o := range req.FileOutputs {
		if o != nil {
			ups = append(ups, o)
		}
	}
	for _, o := range req.SegmentOutputs {
		if o != nil {
			ups = append(ups, o)
		}
	}
	for _, o := range req.ImageOutputs {
		if o != nil {
			ups = append(ups, o)
		}
	}
	set := func(p *string) {
		if *p != "" {
			*p = next()
		}
	}
	for _, u := range ups {
		if s3 := u.GetS3(); s3 != nil {
			set(&s3.AccessKey)
			set(&s3.Secret)
			set(&s3.SessionToken)
			set(&s3.AssumeRoleExternalId)
			s3.Endpoint = injectURL(s3.Endpoint, next)
			if s3.Proxy != nil {
				set(&s3.Proxy.Password)
			}
		}
		if g := u.GetGcp(); g != nil {
			set(&g.Credentials)
		}
		if a := u.GetAzure(); a != nil {
			set(&a.AccountKey)
		}
		if a := u.GetAliOSS(); a != nil {
			set(&a.AccessKey)
			set(&a.Secret)
		}
	}
	for _, w := range req.Webhooks {
		if w != nil {
			set(&w.SigningKey)
		}
	}
	return markers
}

func isNil(m proto.Message) bool {
	switch t := m.(type) {
	case *livekit.EncodedFileOutput:
		return t == nil
	case *livekit.SegmentedFileOutput:
		return t == nil
	}
	return m == nil
}

// injectURL puts markers where u keeps secrets: its stream key (as LiveKit
// finds it), its password and a query value.
func injectURL(u string, next func() string) string {
	if m := lkStreamKey.FindStringSubmatchIndex(u); m != nil {
		u = u[:m[8]] + next() + u[m[9]:]
	}
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			user, _, _ := strings.Cut(rest[:at], ":")
			u = u[:i+3] + user + ":" + next() + rest[at:]
		}
	}
	if strings.Contains(u, "?") {
		u += "&sig=" + next()
	}
	return u
}

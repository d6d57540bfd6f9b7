package request

import (
	"fmt"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
)

func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"rtmp://live.example.com/app/sk_live_abcdefgh1", "rtmp://live.example.com/app/{sk...h1}"},
		{"rtmp://127.0.0.1:1935/live/key1", "rtmp://127.0.0.1:1935/live/{redacted}"},
		{"rtmps://bob:hunter2@h:443/app/abcdefghijkl", "rtmps://bob@h:443/app/{ab...kl}"},
		{"rtmp://h/app/key?token=abcdefghijklmn&x=1&flag", "rtmp://h/app/{redacted}?token={ab...mn}&x={redacted}&{redacted}"},
		{"rtmp://h/app/abcdefghijkl live=1", "rtmp://h/app/{ab...kl} live=1"},
		{"rtmp://h/app/k pubPasswd=secret playpath", "rtmp://h/app/{redacted} pubPasswd={redacted} {redacted}"},
		{"rtmp://h/a/b#fragment", "rtmp://h/a/{redacted}#{redacted}"},
		{"rtmp://h/app/", "rtmp://h/app/"},
		{"rtmp://h", "rtmp://h"},
		{"rtmp:/x", "rtmp:/{redacted}"},
		{"live.twitch.tv/app/live_123456789_abcdef", "live.twitch.tv/app/{li...ef}"},
		{"sk_live_abcdefgh", "{sk...gh}"},
		{"", ""},
		{"rtmp://h/app/ключключключ", "rtmp://h/app/{кл...юч}"},
		{"mux://abcdefghijklmnop", "mux://{ab...op}"},
		{"https://h/app/httpskey12345", "https://h/app/{ht...45}"},
	} {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"https://user:pw@example.com/tmpl/grid?token=abcdefghijkl#x", "https://user@example.com/tmpl/grid?token={ab...kl}#{redacted}"},
		{"http://minio:9000", "http://minio:9000"},
		{"", ""},
	} {
		if got := redactWebURL(c.in); got != c.want {
			t.Errorf("redactWebURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRedactUpload(t *testing.T) {
	u := &Upload{AccessKey: "AKIAIOSFODNN7EXAMPLE", Secret: "wJalrXUtnFEMI/K7MDENG", SessionToken: "sessiontokenvalue", Bucket: "b", Region: "us-east-1"}
	r := u.Redacted()
	wantEq(t, "access key", r.AccessKey, "{AK...LE}")
	wantEq(t, "secret", r.Secret, "{redacted}")
	wantEq(t, "token", r.SessionToken, "{redacted}")
	wantEq(t, "original kept", u.Secret, "wJalrXUtnFEMI/K7MDENG")
	for _, s := range []string{u.String(), fmt.Sprintf("%v %+v %#v %s", u, u, u, u)} {
		if strings.Contains(s, "wJalr") || strings.Contains(s, "AKIAIOSFODNN7EXAMPLE") || strings.Contains(s, "sessiontokenvalue") {
			t.Errorf("credentials shown: %s", s)
		}
	}
	wantEq(t, "string", u.String(), "s3://b (region us-east-1, access key {AK...LE})")
	wantEq(t, "env", (&Upload{Bucket: "b"}).String(), "s3://b (environment credentials)")
	wantEq(t, "nil", (*Upload)(nil).String(), "local disk")
}

func TestRedactPlanAndRequest(t *testing.T) {
	js := `{"room_name":"r","custom_base_url":"https://t.example.com/?token=templatetoken1",
		"file_outputs":[{"s3":{"access_key":"AKIAIOSFODNN7EXAMPLE","secret":"topsecretvalue","bucket":"b"}}],
		"stream_outputs":[{"urls":["rtmp://h/app/sk_live_streamkey1"]}],
		"webhooks":[{"url":"https://hook.example.com","signing_key":"hooksigningkey"}]}`
	req, _, err := Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(req, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"templatetoken1", "AKIAIOSFODNN7EXAMPLE", "topsecretvalue", "sk_live_streamkey1", "hooksigningkey"}
	shown := fmt.Sprintf("%+v %+v %+v", p.Redacted(), p.Redacted().Files[0].Upload, RedactRequest(req))
	for _, s := range secrets {
		if strings.Contains(shown, s) {
			t.Errorf("%q shown in %s", s, shown)
		}
	}
	// the originals are untouched
	wantEq(t, "plan url", p.Streams[0].Destinations[0].URL, "rtmp://h/app/sk_live_streamkey1")
	wantEq(t, "request secret", req.FileOutputs[0].GetS3().Secret, "topsecretvalue")
	wantEq(t, "redacted url", RedactRequest(req).StreamOutputs[0].Urls[0], "rtmp://h/app/{sk...y1}")
	wantEq(t, "nil request", RedactRequest(nil), (*livekit.RoomCompositeEgressRequest)(nil))
}

func TestCheckStreamURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"rtmp://a.rtmp.youtube.com/live2/xxxx-xxxx-xxxx-xxxx", "rtmp://a.rtmp.youtube.com/live2/xxxx-xxxx-xxxx-xxxx"},
		{" RTMPS://Live-API-S.Facebook.com:443/rtmp/FB-1?s_bl=1&a=Ab ", "rtmps://live-api-s.facebook.com:443/rtmp/FB-1?s_bl=1&a=Ab"},
		{"rtmp://u:p@Host/app/Key live=1", "rtmp://u:p@host/app/Key"},
		{"rtmp://h/a/b/c/key", "rtmp://h/a/b/c/key"},
	} {
		got, err := CheckStreamURL("url", c.in)
		if err != nil || got != c.want {
			t.Errorf("CheckStreamURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if !SameStreamURL("rtmp://h:1935/app/k", "rtmp://h/app/k") || !SameStreamURL("rtmps://h/app/k", "rtmps://h:443/app/k") {
		t.Error("default ports not ignored")
	}
	if SameStreamURL("rtmp://h/app/k", "rtmp://h/app/K") || SameStreamURL("rtmp://h:443/app/k", "rtmp://h/app/k") {
		t.Error("different URLs taken as the same")
	}
}

package testhost

import "testing"

func TestRelayed(t *testing.T) {
	for candidate, want := range map[string]bool{
		"udp relay 198.51.10...:31041  related 198.51.10...:49298": true,
		"udp prflx 198.51.10...:31058":                             true,
		"udp prflx 198.51.10...:54645":                             false,
		"tcp host 198.51.10...:41234":                              false,
		"udp host 192.0....:40342":                                 false,
		"":                                                         false,
	} {
		if got := Relayed(candidate); got != want {
			t.Errorf("Relayed(%q) = %v, want %v", candidate, got, want)
		}
	}
}

// TestSelectedIn reads the server's log lines (as livekit-server 1.13
// writes them, trimmed) for the pair it selected.
func TestSelectedIn(t *testing.T) {
	const head = "2026-12-07T06:55:15.126Z\tDEBUG\tlivekit.transport\trtc/transport.go:635\t"
	cases := []struct {
		name, line string
		want       string
		ok         bool
	}{
		{"active, remote marked", head + `participant active	{"participant": "EG_A2Cm", "publisherCandidates": ["[local][selected:1][trickle] udp4 host 198.51.100.2:7882", "[remote][selected:1] udp prflx 198.51.10...:44193"], "connectionType": "udp"}`,
			"udp prflx 198.51.10...:44193", true},
		// CI once met this: the line came before ICE marked the pair.
		{"active, none marked yet", head + `participant active	{"participant": "EG_A2Cm", "publisherCandidates": ["[local][trickle] udp4 host 198.51.100.2:7882", "[remote] udp prflx 198.51.10...:44193"], "connectionType": "udp"}`,
			"", false},
		{"pair selected", head + `selected ICE candidate pair changed	{"participant": "EG_A2Cm", "transport": "PUBLISHER", "pair": {"localProtocol": "udp", "remoteProtocol": "udp", "remoteCandidateType": "srflx", "remoteAddress": "198.51.10...", "remotePort": 44193, "relatedAddress": "192.0....", "relatedPort": 44193}}`,
			"udp srflx 198.51.10...:44193", true},
		{"pair switched", head + `ice reconnected or switched pair	{"participant": "EG_A2Cm", "existingPair": {"remoteProtocol": "udp", "remoteCandidateType": "prflx", "remoteAddress": "198.51.10...", "remotePort": 1}, "newPair": {"remoteProtocol": "tcp", "remoteCandidateType": "host", "remoteAdddress": "198.51.10...", "remotePort": 9}}`,
			"tcp host 198.51.10...:9", true},
		{"someone else", head + `selected ICE candidate pair changed	{"participant": "alice", "pair": {"remoteProtocol": "udp", "remoteCandidateType": "host", "remoteAddress": "198.51.10...", "remotePort": 5}}`,
			"", false},
		{"another line", head + `starting RTC session	{"participant": "EG_A2Cm"}`, "", false},
		{"not JSON", "livekit-server starting", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, ok := selectedIn(c.line, "EG_"); got != c.want || ok != c.ok {
				t.Errorf("selectedIn = %q, %v; want %q, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

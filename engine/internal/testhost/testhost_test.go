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

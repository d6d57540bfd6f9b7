package locale

import "testing"

func TestLanguage(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"C.UTF-8", map[string]string{"LANG": "C.UTF-8"}, "en"},
		{"C.utf8", map[string]string{"LANG": "C.utf8"}, "en"},
		{"POSIX.UTF-8 in LC_ALL", map[string]string{"LC_ALL": "POSIX.UTF-8", "LANG": "de_DE.UTF-8"}, "en"},
		{"plain C parses", map[string]string{"LANG": "C"}, ""},
		{"a real locale", map[string]string{"LANG": "de_DE.UTF-8"}, ""},
		{"LC_ALL wins over LANG", map[string]string{"LC_ALL": "fr_FR.UTF-8", "LANG": "C.UTF-8"}, ""},
		{"LC_MESSAGES wins over LANG", map[string]string{"LC_MESSAGES": "C.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"},
		{"the user's LANGUAGE stays", map[string]string{"LANG": "C.UTF-8", "LANGUAGE": "fr"}, ""},
		{"nothing set", map[string]string{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := language(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("language = %q, want %q", got, tc.want)
			}
		})
	}
}

// Package locale gives Fyne a locale it can parse before Fyne reads it.
//
// Fyne's lang package reads the user's locale in its init, before main
// runs, and logs three "Fyne error: Error parsing user locale C" lines
// for LANG=C.UTF-8 (the default of Debian's containers and of CI): its
// locale library reports "C.UTF-8" as the language "C", which no BCP 47
// tag parser takes. For such a locale (C or POSIX with an encoding) and no
// LANGUAGE of the user's, this package sets LANGUAGE=en, which that
// library reads before the locale: the language those locales mean, and
// one gettext reads the same way, so the processes the studio starts see
// no difference.
//
// It is a module of its own so that its init runs before Fyne's: Go
// initialises packages in the order of their import paths, each once its
// imports are, and this one's path ("early.roomcast/...") sorts before
// "fyne.io/..."; it imports only os, which Fyne's lang needs too. A
// package of the roomcast module would sort after it.
package locale

import (
	"os"
	"strings"
)

func init() {
	if language(os.Getenv) != "" {
		_ = os.Setenv("LANGUAGE", "en")
	}
}

// language is the LANGUAGE to set for the environment getenv reads, or
// "" to leave it as it is. The locale is the first of LC_ALL, LC_MESSAGES
// and LANG that is set, as gettext and Fyne's locale library read it.
func language(getenv func(string) string) string {
	if getenv("LANGUAGE") != "" {
		return ""
	}
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		loc := getenv(name)
		if loc == "" {
			continue
		}
		lang, _, encoded := strings.Cut(loc, ".")
		if encoded && (lang == "C" || lang == "POSIX") {
			return "en"
		}
		return ""
	}
	return ""
}

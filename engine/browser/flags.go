package browser

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"

	"github.com/chromedp/chromedp"
)

// execCandidates are tried in order when Options.ExecPath is empty. The real
// binary comes first: Debian's /usr/bin/chromium is a shell script that adds
// flags of its own from /etc/chromium.d and can print a warning dialog.
var execCandidates = []string{
	"/usr/lib/chromium/chromium",
	"chromium",
	"chromium-browser",
	"google-chrome",
	"google-chrome-stable",
}

// findExec returns the Chromium binary to run.
func findExec(path string) (string, error) {
	if path != "" {
		found, err := exec.LookPath(path)
		if err != nil {
			return "", fmt.Errorf("chromium %q: %w", path, err)
		}
		return found, nil
	}
	for _, c := range execCandidates {
		if found, err := exec.LookPath(c); err == nil {
			return found, nil
		}
	}
	return "", errNotFound
}

// smallShm: below this, Chromium is told to keep its shared memory in /tmp
// instead of /dev/shm. A full /dev/shm crashes the renderer; Docker's
// default is 64 MB, and one 1080p composite uses a few hundred MB.
const smallShm = 1 << 30

// flags is the whole command line we give Chromium; chromedp adds only
// --remote-debugging-pipe and the first URL, about:blank. We do not start
// from chromedp.DefaultExecAllocatorOptions: they run headless with
// --mute-audio, both wrong for a composite that is captured from the screen
// and from a PulseAudio sink.
//
// proxy is the guard's URL ("" for none): see guard.go for what goes
// through it and why that keeps WebRTC working.
func flags(o Options, dataDir, proxy string) []chromedp.ExecAllocatorOption {
	f := []chromedp.ExecAllocatorOption{
		// A window on our X screen, not Wayland even if the desktop has it.
		chromedp.Flag("ozone-platform", "x11"),
		// Fullscreen, no browser UI. With no window manager on Xvfb, kiosk
		// alone does not size the window to the screen: --window-size does.
		// Chromium shrinks a window whose size equals a screen's by 1 px
		// each way (x11_window.cc, AdjustSizeForDisplay: it keeps window
		// managers from taking it as fullscreen), which left the last column
		// and row of the screen black. So the window is 1 px larger than the
		// screen, and Launch pins the page's viewport to the screen's exact
		// size with Emulation.setDeviceMetricsOverride. The window's extra
		// column and row lie off the screen.
		chromedp.Flag("kiosk", true),
		chromedp.Flag("window-position", windowPosition(o)),
		chromedp.Flag("window-size", fmt.Sprintf("%d,%d", o.Width+1, o.Height+1)),
		// 1 CSS px = 1 screen px, whatever the desktop's scaling says.
		chromedp.Flag("force-device-scale-factor", "1"),
		// Exact colours on screen: no colour management from a display
		// profile (Xvfb has none; a desktop may).
		chromedp.Flag("force-color-profile", "srgb"),
		// No scroll bars over the composite if a page overflows.
		chromedp.Flag("hide-scrollbars", true),
		// Xvfb has no GPU: software compositing, and no probing for one.
		chromedp.Flag("disable-gpu", true),

		// Audio and video play without a click (the template's
		// <audio> elements and livekit-client's startAudio).
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Nobody looks at this window, and it may be covered: render and
		// run timers at full rate anyway.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),

		// Nothing may pop up over the composite.
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("noerrdialogs", true),
		chromedp.Flag("disable-infobars", true),
		chromedp.Flag("disable-session-crashed-bubble", true),
		chromedp.Flag("disable-hang-monitor", true),
		chromedp.Flag("disable-popup-blocking", true),
		chromedp.Flag("disable-prompt-on-repost", true),
		// No keyring prompt (GNOME Keyring, KWallet) on a desktop.
		chromedp.Flag("password-store", "basic"),

		// No traffic of its own: updates, sync, crash reports, extensions.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("metrics-recording-only", true),

		// WebRTC with a LiveKit server on this machine: offer the real
		// addresses (not mDNS names) and loopback candidates. Translate
		// would pop a bar; MediaRouter looks for Cast devices on the LAN;
		// OptimizationHints fetches from Google; media keys and the global
		// media controls would reach for D-Bus (MPRIS) on a desktop.
		chromedp.Flag("disable-features", strings.Join([]string{
			"WebRtcHideLocalIpsWithMdns",
			"Translate",
			"MediaRouter",
			"DialMediaRouteProvider",
			"OptimizationHints",
			"HardwareMediaKeyHandling",
			"GlobalMediaControls",
		}, ",")),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
	}

	if proxy != "" {
		f = append(f, chromedp.ProxyServer(proxy))
	}
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox.
		f = append(f, chromedp.Flag("no-sandbox", true))
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Blocks*uint64(st.Bsize) < smallShm {
		f = append(f, chromedp.Flag("disable-dev-shm-usage", true))
	}
	return append(f, chromedp.UserDataDir(dataDir))
}

// windowPosition puts the window on the screen, or, Offscreen, just right
// of it (Reveal moves it on): mapped and drawn as usual, but not on the
// screen's pixels.
func windowPosition(o Options) string {
	if o.Offscreen {
		return fmt.Sprintf("%d,0", o.Width+offscreenGap)
	}
	return "0,0"
}

// offscreenGap keeps an Offscreen window clear of the screen's right edge.
const offscreenGap = 16

// passEnv lists the variables of our environment that Chromium gets; it
// gets no others (chromedp.NoInheritEnv), so that the secrets in the
// engine's environment (API secret, S3 keys) stay out of the browser, and
// so that a desktop's DISPLAY, WAYLAND_DISPLAY, PULSE_SERVER or D-Bus
// session cannot pull it elsewhere. LC_* variables pass too.
var passEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
	"FONTCONFIG_FILE", "FONTCONFIG_PATH",
	"XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_DATA_DIRS", "XDG_CONFIG_DIRS",
	"XDG_RUNTIME_DIR",
}

// environment is Chromium's whole environment: the passEnv part of ours,
// then DISPLAY, then o.Env (later entries win).
func environment(o Options, dataDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(passEnv, k) || strings.HasPrefix(k, "LC_") {
			env = append(env, kv)
		}
	}
	if os.Getenv("HOME") == "" {
		env = append(env, "HOME="+dataDir)
	}
	env = append(env, "DISPLAY="+o.Display)
	return append(env, o.Env...)
}

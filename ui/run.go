package ui

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	_ "early.roomcast/locale" // before Fyne reads the locale: see its package comment
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"roomcast/engine"
)

// appID is the application's ID, as in FyneApp.toml.
const appID = "studio.roomcast.app"

// Config is what the command line passes to Run.
type Config struct {
	// LiveKitURL, APIKey and APISecret name the LiveKit server (as the
	// flags, environment and config file resolved them); an empty URL
	// means the embedded demo room.
	LiveKitURL, APIKey, APISecret string
	// TLSCA is livekit.tls_ca: a CA file for a self-signed server.
	TLSCA string
	// EngineURL, when set, records through the Egress service there (a
	// LiveKit server with Egress, or another machine's roomcast serve)
	// instead of this machine's engine; "" means the one in Settings.
	EngineURL string
	// ConfigDir holds config.yaml (Settings) and profiles/; "" means
	// os.UserConfigDir()/roomcast.
	ConfigDir string
	// OutputDir is the default folder for recordings; "" means the one set
	// in Settings, else ~/Videos/Roomcast.
	OutputDir string
	// Logf receives the engine's progress lines; nil discards them.
	Logf func(format string, args ...any)
	// Connect opens the engine for a connection (launch.Open).
	Connect engine.Connector
}

func (c Config) withDefaults() (Config, error) {
	if c.ConfigDir == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return c, fmt.Errorf("config folder: %w; set XDG_CONFIG_HOME or HOME", err)
		}
		c.ConfigDir = filepath.Join(dir, "roomcast")
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.Connect == nil {
		return c, fmt.Errorf("ui: no engine to connect with")
	}
	return c, nil
}

// softwareGLThreads is Mesa llvmpipe's setting for the threads it draws
// on, read when the window's GL context is made; only that software
// renderer (a machine with no GPU, or a virtual screen) reads it.
const softwareGLThreads = "LP_NUM_THREADS"

// drawOnGLThread has llvmpipe draw on the window's GL thread, unless the
// user set its threads: by default it hands each paint to a thread a
// core and waits for them, and for the window's small paints (about
// 14 ms of CPU each at 1280x800) the hand-offs cost more than they
// share. Measured with the 720p30 preview running on a 2-core box: the
// studio 0.02 core less (0.002-0.032 in four pairs of runs), and
// Chromium beside it no more.
func drawOnGLThread() {
	if _, set := os.LookupEnv(softwareGLThreads); !set {
		_ = os.Setenv(softwareGLThreads, "0")
	}
}

// Run opens the studio window and returns when it is closed, after every
// recording and stream was stopped cleanly and the engine (and demo room)
// shut down. Call it on the main goroutine: the window system needs it.
func Run(cfg Config) error { return run(cfg, nil) }

// run is Run; started, when set, gets the window once it runs (the
// screenshot test drives the real window through it).
func run(cfg Config, started func(*studio)) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	drawOnGLThread()
	a := app.NewWithID(appID)
	a.Settings().SetTheme(newStudioTheme())
	a.SetIcon(iconResource())
	w := a.NewWindow("Roomcast Studio")
	s := newStudio(w, cfg, cfg.Connect, fyne.Do)
	w.SetContent(s.buildUI())
	w.Resize(fyne.NewSize(1280, 800))
	w.SetMaster()
	w.SetCloseIntercept(s.onClose)
	s.start()
	// SIGINT and SIGTERM (Ctrl-C, a logout) quit as the window's close
	// does after its question: every recording stops cleanly first.
	quit := make(chan os.Signal, 1)
	signal.Notify(quit, os.Interrupt, syscall.SIGTERM)
	defer func() {
		signal.Stop(quit)
		close(quit)
	}()
	go func() {
		if _, ok := <-quit; ok {
			fyne.Do(w.Close)
		}
	}()
	if started != nil {
		a.Lifecycle().SetOnStarted(func() { started(s) })
	}
	w.ShowAndRun()
	return s.shutdown()
}

// Command roomcast is Roomcast Studio: a recording and streaming studio for
// LiveKit rooms. Without a subcommand it opens the studio; `demo` runs the
// embedded LiveKit room on loopback; `record` runs one egress; `serve`
// offers LiveKit's Egress API. `roomcast help` lists them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lkredis "github.com/livekit/protocol/redis"
	"github.com/livekit/protocol/xtls"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"google.golang.org/protobuf/encoding/protojson"

	"roomcast/engine"
	"roomcast/engine/api"
	"roomcast/engine/demo"
	"roomcast/engine/launch"
	"roomcast/engine/local"
	"roomcast/engine/request"
	"roomcast/engine/worker"
	"roomcast/ui"
)

// command is one of roomcast's commands: "" is the studio window.
type command struct {
	name, args string
	// summary is its line in the overview; about, its help's paragraph.
	summary, about string
	// flags makes its flag set (each call a new one).
	flags func() *pflag.FlagSet
	run   func(fs *pflag.FlagSet, args []string) error
}

var commands = []command{
	{
		name: "", args: "[flags]",
		summary: "open the studio window (on the embedded demo room when no LiveKit server is set)",
		about: `Opens the studio window: pick a room, a layout, a preset and outputs, see the
composite live, record and go live. With no LiveKit server configured it runs
on the embedded demo room. It needs a display.`,
		flags: studioFlags, run: runStudio,
	},
	{
		name: "demo", args: "[flags]",
		summary: "run the embedded LiveKit demo room and print what a client needs to join it",
		about: `Runs livekit-server on 127.0.0.1 with a room of synthetic participants (each a
colour and a tone), and prints the LIVEKIT_URL, key and secret to join it.
Ctrl-C stops it and everything it started.`,
		flags: demoFlags, run: runDemo,
	},
	{
		name: "record", args: "[flags] REQUEST",
		summary: "run one egress from a LiveKit request (the JSON lk egress start takes)",
		about: `Runs one egress from REQUEST, a LiveKit RoomCompositeEgressRequest in JSON (the
file lk egress start --type room-composite takes; - reads standard input), or
with --type participant, track-composite or track LiveKit's request of that
type (one person, two tracks, one track copied as sent), on
this machine's engine or, with --remote URL, on a LiveKit Egress service or
another machine's roomcast serve. Progress goes to stderr, the final
EgressInfo to stdout as JSON; the exit code is 0 when it completed.`,
		flags: recordFlags, run: runRecord,
	},
	{
		name: "serve", args: "[flags]",
		summary: "serve LiveKit's Egress API (Twirp) for the server SDKs, lk and curl",
		about: `Serves LiveKit's Egress API (/twirp/livekit.Egress/...) over this machine's
engine: LiveKit's server SDKs, lk and curl start, update, list and stop
room-composite egresses with an access token carrying the roomRecord grant.
Ctrl-C or SIGTERM stops every egress cleanly first.`,
		flags: serveFlags, run: runServe,
	},
}

const configHelp = `Configuration, highest first: flags, environment (LIVEKIT_URL,
LIVEKIT_API_KEY, LIVEKIT_API_SECRET, ROOMCAST_*), then the config file
($XDG_CONFIG_HOME/roomcast/config.yaml, or --config FILE).
`

func main() {
	// pion and the SDK log through the SDK's global logger at a level meant
	// for SDK developers; the studio reports what matters itself.
	lksdk.SetLogger(protologger.GetDiscardLogger())
	if err := run(os.Args[1:], os.Stdout); err != nil && !errors.Is(err, pflag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "roomcast:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	name := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		if len(args) == 0 {
			printOverview(stdout)
			return nil
		}
		c, err := lookup(args[0])
		if err != nil {
			return err
		}
		printHelp(stdout, c, c.flags())
		return nil
	}
	c, err := lookup(name)
	if err != nil {
		return err
	}
	fs := c.flags()
	fs.Usage = func() {
		if c.name == "" {
			printOverview(stdout)
			return
		}
		printHelp(stdout, c, fs)
	}
	return c.run(fs, args)
}

func lookup(name string) (command, error) {
	for _, c := range commands {
		if c.name == name {
			return c, nil
		}
	}
	return command{}, fmt.Errorf("unknown command %q; run `roomcast help`", name)
}

// printOverview lists the commands, then the studio window's flags.
func printOverview(w io.Writer) {
	fmt.Fprint(w, "Roomcast Studio: record and stream LiveKit rooms.\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-32s %s\n", usageLine(c), c.summary)
	}
	fmt.Fprintf(w, "  %-32s %s\n\n", "roomcast help [COMMAND]", "this text, or a command's own help and flags")
	fmt.Fprint(w, configHelp)
	fmt.Fprintf(w, "\nFlags of the studio window:\n%s", studioFlags().FlagUsages())
}

// printHelp shows one command's help and flags.
func printHelp(w io.Writer, c command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\n%s\nFlags:\n%s", usageLine(c), c.about, configHelp, fs.FlagUsages())
}

// usageLine is how a command is typed: "roomcast record [flags] REQUEST".
func usageLine(c command) string {
	return strings.Join(strings.Fields("roomcast "+c.name+" "+c.args), " ")
}

// configFlags are the flags every command takes.
func configFlags(fs *pflag.FlagSet) *pflag.FlagSet {
	fs.String("config", "", "config file (default $XDG_CONFIG_HOME/roomcast/config.yaml)")
	fs.String("livekit-url", "", "LiveKit server URL (env LIVEKIT_URL)")
	fs.String("api-key", "", "LiveKit API key (env LIVEKIT_API_KEY)")
	fs.String("api-secret", "", "LiveKit API secret (env LIVEKIT_API_SECRET)")
	return fs
}

func studioFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("roomcast", pflag.ContinueOnError)
	fs.String("output-dir", "", "default folder for recordings (default: the one in Settings, else ~/Videos/Roomcast)")
	fs.String("remote", "", "record through the Egress service at this URL (a LiveKit server with Egress, or another machine's roomcast serve) instead of this machine's engine")
	return configFlags(fs)
}

// runStudio opens the studio window. Fyne needs the main goroutine, which
// main's caller chain is still on.
func runStudio(fs *pflag.FlagSet, args []string) error {
	v, err := loadConfig(fs, args, 0)
	if err != nil {
		return err
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return errors.New("the studio window needs a display (DISPLAY or WAYLAND_DISPLAY is unset); without one, `roomcast serve --demo` or `roomcast record` do the same work")
	}
	return ui.Run(ui.Config{
		LiveKitURL: v.GetString("livekit.url"),
		APIKey:     v.GetString("livekit.api_key"),
		APISecret:  v.GetString("livekit.api_secret"),
		TLSCA:      v.GetString("livekit.tls_ca"),
		EngineURL:  v.GetString("remote"),
		OutputDir:  v.GetString("output-dir"),
		Logf:       logf,
		Connect:    launch.Open,
	})
}

func demoFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	fs.Int("participants", demo.DefaultParticipants, "synthetic participants to join (0-64)")
	fs.String("room", demo.DefaultRoom, "name of the demo room")
	fs.Bool("clapper", false, "also join a clapper (a picture flipping black/white every 1.67 s with a 3 kHz tick on each flip) to measure A/V sync")
	fs.String("camera-codec", "vp8", "what the participants' cameras send: vp8 or h264")
	return configFlags(fs)
}

func runDemo(fs *pflag.FlagSet, args []string) error {
	v, err := loadConfig(fs, args, 0)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	d, err := startDemo(ctx, v)
	if err != nil {
		return err
	}
	defer d.Close()
	logf("demo room %q is live with %d participants; Ctrl-C stops it", d.Room(), len(d.Participants()))
	<-ctx.Done()
	logf("stopping the demo room")
	return nil
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

// loadConfig parses flags and layers them over the environment and the
// config file: flags > LIVEKIT_* / ROOMCAST_* > config file > defaults.
// positional is how many arguments the command takes besides flags.
func loadConfig(fs *pflag.FlagSet, args []string, positional int) (*viper.Viper, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w; run `roomcast help`", err)
	}
	if fs.NArg() > positional {
		return nil, fmt.Errorf("unexpected argument %q; run `roomcast help`", fs.Arg(positional))
	}
	if fs.NArg() < positional {
		return nil, fmt.Errorf("%s needs %d argument(s); run `roomcast help`", fs.Name(), positional)
	}

	v := viper.New()
	v.SetEnvPrefix("ROOMCAST")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	for key, env := range map[string]string{
		"livekit.url":        "LIVEKIT_URL",
		"livekit.api_key":    "LIVEKIT_API_KEY",
		"livekit.api_secret": "LIVEKIT_API_SECRET",
	} {
		_ = v.BindEnv(key, "ROOMCAST_"+strings.ToUpper(strings.ReplaceAll(key, ".", "_")), env)
	}
	fs.VisitAll(func(f *pflag.Flag) {
		key := f.Name
		switch f.Name {
		case "livekit-url":
			key = "livekit.url"
		case "api-key":
			key = "livekit.api_key"
		case "api-secret":
			key = "livekit.api_secret"
		case "listen":
			key = "serve.listen"
		case "cpus":
			key = "capacity.cpus"
		case "webhook-url":
			key = "webhook.urls"
		case "redis":
			key = "redis.address"
		}
		_ = v.BindPFlag(key, f)
	})

	file := v.GetString("config")
	if file == "" {
		dir, err := os.UserConfigDir()
		if err == nil {
			file = filepath.Join(dir, "roomcast", "config.yaml")
			if _, err := os.Stat(file); err != nil {
				return v, nil // no config file is fine
			}
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	return v, nil
}

func recordFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("record", pflag.ContinueOnError)
	fs.Bool("demo", false, "start the embedded demo room (named after the request's room_name) and record it")
	fs.Duration("duration", 0, "stop after this long (e.g. 30s); 0 records until Ctrl-C or the room ends")
	fs.String("output-dir", "", "folder for relative file paths (default: the working directory)")
	fs.String("type", "room-composite", "the request's egress type, as lk egress start --type: room-composite, participant (one person's camera and microphone), track-composite (an audio and a video track) or track (one track copied as sent)")
	fs.String("remote", "", "record on the LiveKit Egress service at this URL (a LiveKit server with Egress, or another machine's roomcast serve), authenticated with --api-key/--api-secret (env LIVEKIT_API_KEY/LIVEKIT_API_SECRET)")
	return configFlags(fs)
}

func runRecord(fs *pflag.FlagSet, args []string) error {
	v, err := loadConfig(fs, args, 1)
	if err != nil {
		return err
	}
	remote := v.GetString("remote")
	if remote != "" && (v.GetBool("demo") || v.GetString("output-dir") != "") {
		return errors.New("--remote records on the remote service: --demo and --output-dir apply to this machine's engine only")
	}
	data, err := readRequest(fs.Arg(0))
	if err != nil {
		return err
	}
	var start func(context.Context, engine.Studio) (*livekit.EgressInfo, error)
	room := ""
	switch kind := v.GetString("type"); kind {
	case "room-composite":
		req, warnings, err := request.Parse(data)
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		for _, w := range warnings {
			logf("warning: %s", w)
		}
		room = req.RoomName
		start = func(ctx context.Context, s engine.Studio) (*livekit.EgressInfo, error) { return s.Start(ctx, req) }
	case "track":
		req, err := request.ParseTrack(data)
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		room = req.RoomName
		start = onTrackRecorder(kind, func(ctx context.Context, tr engine.TrackRecorder) (*livekit.EgressInfo, error) {
			return tr.StartTrack(ctx, req)
		})
	case "participant":
		req, err := request.ParseParticipant(data)
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		room = req.RoomName
		start = onTrackRecorder(kind, func(ctx context.Context, tr engine.TrackRecorder) (*livekit.EgressInfo, error) {
			return tr.StartParticipant(ctx, req)
		})
	case "track-composite":
		req, err := request.ParseTrackComposite(data)
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		room = req.RoomName
		start = onTrackRecorder(kind, func(ctx context.Context, tr engine.TrackRecorder) (*livekit.EgressInfo, error) {
			return tr.StartTrackComposite(ctx, req)
		})
	default:
		return fmt.Errorf("--type %q: use room-composite, participant, track-composite or track", kind)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var studio engine.Studio
	if remote != "" {
		// The remote service owns the egress; Close leaves it running,
		// so every way out below stops it first.
		studio, err = engine.NewRemote(engine.RemoteConfig{
			URL:       remote,
			APIKey:    v.GetString("livekit.api_key"),
			APISecret: v.GetString("livekit.api_secret"),
			Logf:      logf,
		})
	} else {
		cfg := engineConfig(v)
		// A browser kept ready serves a composite only.
		cfg.KeepReady = v.GetString("type") == "room-composite"
		if v.GetBool("demo") {
			d, err := demo.Start(ctx, demo.Options{Room: room, Logf: logf})
			if err != nil {
				return err
			}
			defer d.Close()
			cfg.LiveKitURL, cfg.APIKey, cfg.APISecret = d.URL(), d.APIKey(), d.APISecret()
		}
		studio, err = local.New(cfg)
	}
	if err != nil {
		return err
	}
	defer studio.Close()

	updates := studio.Watch(ctx)
	info, err := start(ctx, studio)
	if err != nil {
		return err
	}
	id := info.EgressId
	logf("%s %s", id, info.Status)
	final := waitEgress(ctx, id, updates, v.GetDuration("duration"))
	if final == nil {
		logf("%s stopping", id)
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if final, err = studio.Stop(stopCtx, id); err != nil {
			return err
		}
	}
	out, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}.Marshal(final)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		return fmt.Errorf("egress %s ended %s: %s", id, final.Status, final.Error)
	}
	where := ""
	if remote != "" {
		where = " on the remote service"
	}
	for _, f := range final.FileResults {
		logf("recording saved%s to %s (%d bytes, %.1f s)", where, f.Location, f.Size, time.Duration(f.Duration).Seconds())
	}
	return nil
}

// onTrackRecorder starts an egress of --type kind on an engine that
// records from tracks.
func onTrackRecorder(kind string, start func(context.Context, engine.TrackRecorder) (*livekit.EgressInfo, error)) func(context.Context, engine.Studio) (*livekit.EgressInfo, error) {
	return func(ctx context.Context, s engine.Studio) (*livekit.EgressInfo, error) {
		tr, ok := s.(engine.TrackRecorder)
		if !ok {
			return nil, fmt.Errorf("--type %s: this engine records room composites only", kind)
		}
		return start(ctx, tr)
	}
}

// serveShutdown bounds how long in-flight API calls may take once Ctrl-C
// is pressed (StopEgress answers within 5 s).
const serveShutdown = 10 * time.Second

func serveFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.Bool("demo", false, "start the embedded demo room first and record from it; its key and secret sign the API's tokens")
	fs.Int("participants", demo.DefaultParticipants, "with --demo: synthetic participants to join (0-64)")
	fs.String("room", demo.DefaultRoom, "with --demo: name of the demo room")
	fs.Bool("clapper", false, "with --demo: also join a clapper to measure A/V sync")
	fs.String("listen", api.DefaultAddr, "address of the Egress API (config serve.listen); empty for none (with --redis)")
	fs.String("redis", "", "HOST:PORT of a LiveKit deployment's Redis: be one of its Egress workers (config redis.address, redis.username, redis.password, redis.db, redis.tls)")
	fs.String("output-dir", "", "folder for relative file paths (default: the working directory)")
	fs.Float64("cpus", float64(runtime.NumCPU()), "CPU budget for composites in cores, 0 for no limit (config capacity.cpus)")
	fs.StringSlice("webhook-url", nil, "post egress webhooks to this URL; repeat for more (config webhook.urls)")
	return configFlags(fs)
}

func runServe(fs *pflag.FlagSet, args []string) error {
	v, err := loadConfig(fs, args, 0)
	if err != nil {
		return err
	}
	listen, redisAddr := v.GetString("serve.listen"), v.GetString("redis.address")
	if listen == "" && redisAddr == "" {
		return errors.New("serve: --listen is empty and there is no --redis: give the Egress API an address, or a LiveKit deployment's Redis to work for")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := engineConfig(v)
	if v.GetBool("demo") {
		d, err := startDemo(ctx, v)
		if err != nil {
			return err
		}
		defer d.Close()
		cfg.LiveKitURL, cfg.APIKey, cfg.APISecret = d.URL(), d.APIKey(), d.APISecret()
		logf("demo room %q is live with %d participants", d.Room(), len(d.Participants()))
	}
	studio, err := local.New(cfg)
	if err != nil {
		return err
	}
	defer studio.Close() // a no-op after the ordered shutdown below
	capacity := api.Capacity{
		CPUs:          v.GetFloat64("capacity.cpus"),
		Cost720p30:    v.GetFloat64("capacity.cost_720p30"),
		Cost1080p30:   v.GetFloat64("capacity.cost_1080p30"),
		CostTrack:     v.GetFloat64("capacity.cost_track"),
		CostRecording: v.GetFloat64("capacity.cost_participant"),
	}
	budget := "no CPU limit"
	if capacity.CPUs > 0 {
		budget = fmt.Sprintf("%.1f CPUs for composites", capacity.CPUs)
	}
	var wk *worker.Worker
	if redisAddr != "" {
		if wk, err = worker.New(studio, worker.Config{Redis: redisConfig(v), Capacity: capacity, Logf: logf}); err != nil {
			return err
		}
		logf("Egress worker of the LiveKit server at %s, on its Redis at %s (%s)", cfg.LiveKitURL, redisAddr, budget)
	}
	served := make(chan error, 1)
	var hs *http.Server
	var srv *api.Server
	if listen != "" {
		srv, err = api.New(studio, api.Config{
			APIKey:      cfg.APIKey,
			APISecret:   cfg.APISecret,
			Capacity:    capacity,
			WebhookURLs: v.GetStringSlice("webhook.urls"),
			Logf:        logf,
		})
		if err != nil {
			return err
		}
		defer srv.Close()
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("listen: %w; choose another address with --listen", err)
		}
		hs = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
		go func() { served <- hs.Serve(ln) }()
		logf("Egress API on http://%s (Twirp, /twirp/livekit.Egress/...; %s)", ln.Addr(), budget)
	}
	logf("Ctrl-C stops every egress and exits")

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	stop() // a second Ctrl-C quits at once
	running, _ := engine.Items(studio.List(context.Background(), &livekit.ListEgressRequest{Active: true}))
	logf("stopping: %d egress(es) running; Ctrl-C again quits without finishing them", len(running))
	if wk != nil {
		wk.Drain()
	}
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdown)
	defer cancel()
	if hs != nil {
		_ = hs.Shutdown(sctx)
	}
	err = studio.Close() // every egress stopped, outputs finalised
	if wk != nil {
		wk.Close() // once the server has heard how each ended
	}
	if srv != nil {
		srv.Close() // then the last webhooks
	}
	for _, r := range running {
		infos, _ := engine.Items(studio.List(context.Background(), &livekit.ListEgressRequest{EgressId: r.EgressId}))
		for _, info := range infos {
			logf("%s %s%s", info.EgressId, info.Status, errSuffix(info.Error))
			for _, f := range info.FileResults {
				logf("%s saved to %s (%d bytes, %.1f s)", info.EgressId, f.Location, f.Size, time.Duration(f.Duration).Seconds())
			}
		}
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, err)
}

// waitEgress prints progress until the egress ends by itself (its final
// info is returned) or the caller should stop it (nil: Ctrl-C, or
// duration after it became ACTIVE; 0 means no limit).
func waitEgress(ctx context.Context, id string, updates <-chan *livekit.EgressInfo, duration time.Duration) *livekit.EgressInfo {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	began := time.Now()
	last := livekit.EgressStatus_EGRESS_STARTING
	var deadline <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			return nil
		case <-tick.C:
			if last == livekit.EgressStatus_EGRESS_ACTIVE {
				logf("%s recording %s", id, time.Since(began).Round(time.Second))
			}
		case info, ok := <-updates:
			if !ok {
				return nil
			}
			if info.EgressId != id || info.Status == last {
				continue
			}
			last = info.Status
			logf("%s %s%s", id, info.Status, errSuffix(info.Error))
			switch info.Status {
			case livekit.EgressStatus_EGRESS_ACTIVE:
				// From the first frame (StartedAt), not from this update:
				// a participant's frame reaches its file past a jitter
				// buffer and a compositor, and ACTIVE came 1.2 s after
				// it on a loaded machine.
				began = time.Now()
				if info.StartedAt > 0 {
					began = time.Unix(0, info.StartedAt)
				}
				if duration > 0 {
					deadline = time.After(time.Until(began.Add(duration)))
				}
			case livekit.EgressStatus_EGRESS_COMPLETE, livekit.EgressStatus_EGRESS_FAILED,
				livekit.EgressStatus_EGRESS_ABORTED, livekit.EgressStatus_EGRESS_LIMIT_REACHED:
				return info
			}
		}
	}
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func readRequest(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("request file: %w", err)
	}
	return data, nil
}

// redisConfig is the config's redis block, as livekit-server's own.
func redisConfig(v *viper.Viper) lkredis.RedisConfig {
	rc := lkredis.RedisConfig{
		Address:  v.GetString("redis.address"),
		Username: v.GetString("redis.username"),
		Password: v.GetString("redis.password"),
		DB:       v.GetInt("redis.db"),
	}
	if v.GetBool("redis.tls.enabled") {
		rc.TLS = &xtls.Config{
			Enabled:    true,
			Insecure:   v.GetBool("redis.tls.insecure"),
			ServerName: v.GetString("redis.tls.server_name"),
			CACertFile: v.GetString("redis.tls.ca_cert_file"),
		}
	}
	return rc
}

// engineConfig is this machine's engine as configured: the LiveKit server,
// the output folder and the default bucket (record and serve share it). It
// keeps a room view ready: both start composites on request.
func engineConfig(v *viper.Viper) local.Config {
	return local.Config{
		KeepReady:     true,
		LiveKitURL:    v.GetString("livekit.url"),
		APIKey:        v.GetString("livekit.api_key"),
		APISecret:     v.GetString("livekit.api_secret"),
		TLSCA:         v.GetString("livekit.tls_ca"),
		OutputDir:     v.GetString("output-dir"),
		Logf:          logf,
		DefaultUpload: defaultUpload(v),
	}
}

// defaultUpload is the config's storage.s3 block (or ROOMCAST_STORAGE_S3_*):
// the bucket for file, segment and image outputs whose request names no
// storage, as LiveKit Egress's s3 block is; nil when it names no bucket.
func defaultUpload(v *viper.Viper) *livekit.S3Upload {
	if v.GetString("storage.s3.bucket") == "" {
		return nil
	}
	return &livekit.S3Upload{
		AccessKey:      v.GetString("storage.s3.access_key"),
		Secret:         v.GetString("storage.s3.secret"),
		SessionToken:   v.GetString("storage.s3.session_token"),
		Region:         v.GetString("storage.s3.region"),
		Endpoint:       v.GetString("storage.s3.endpoint"),
		Bucket:         v.GetString("storage.s3.bucket"),
		ForcePathStyle: v.GetBool("storage.s3.force_path_style"),
	}
}

// startDemo starts the embedded demo room as configured (--participants,
// --room, demo.api_key/secret) and prints the exports a LiveKit client needs.
func startDemo(ctx context.Context, v *viper.Viper) (*demo.Demo, error) {
	n := v.GetInt("participants")
	d, err := demo.Start(ctx, demo.Options{
		Room:           v.GetString("room"),
		Participants:   n,
		NoParticipants: n == 0,
		Clapper:        v.GetBool("clapper"),
		CameraCodec:    v.GetString("camera-codec"),
		APIKey:         v.GetString("demo.api_key"),
		APISecret:      v.GetString("demo.api_secret"),
		Logf:           logf,
	})
	if err != nil {
		return nil, err
	}
	fmt.Printf("export LIVEKIT_URL=%s\nexport LIVEKIT_API_KEY=%s\nexport LIVEKIT_API_SECRET=%s\n", d.URL(), d.APIKey(), d.APISecret())
	return d, nil
}

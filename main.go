// Command roomcast is Roomcast Studio: a recording and streaming studio for
// LiveKit rooms. Without a subcommand it opens the studio; `demo` runs the
// embedded LiveKit room on loopback.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"roomcast/engine/demo"
)

const usage = `Roomcast Studio: record and stream LiveKit rooms.

Usage:
  roomcast [flags]                 open the studio (for now: the demo room)
  roomcast demo [flags]            run the embedded LiveKit demo room
  roomcast help                    this text

Configuration, highest first: flags, environment (LIVEKIT_URL,
LIVEKIT_API_KEY, LIVEKIT_API_SECRET, ROOMCAST_*), then the config file
($XDG_CONFIG_HOME/roomcast/config.yaml, or --config FILE).
`

func main() {
	// pion and the SDK log through the SDK's global logger at a level meant
	// for SDK developers; the studio reports what matters itself.
	lksdk.SetLogger(protologger.GetDiscardLogger())
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "roomcast:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cmd := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "", "demo":
		return runDemo(args)
	case "help":
		fmt.Print(usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q; run `roomcast help`", cmd)
	}
}

func runDemo(args []string) error {
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	fs.Int("participants", demo.DefaultParticipants, "synthetic participants to join (0-64)")
	fs.String("room", demo.DefaultRoom, "name of the demo room")
	v, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	n := v.GetInt("participants")
	d, err := demo.Start(ctx, demo.Options{
		Room:           v.GetString("room"),
		Participants:   n,
		NoParticipants: n == 0,
		APIKey:         v.GetString("demo.api_key"),
		APISecret:      v.GetString("demo.api_secret"),
		Logf:           logf,
	})
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Printf("export LIVEKIT_URL=%s\nexport LIVEKIT_API_KEY=%s\nexport LIVEKIT_API_SECRET=%s\n", d.URL(), d.APIKey(), d.APISecret())
	logf("demo room %q is live with %d participants; Ctrl-C stops it", d.Room(), len(d.Participants()))
	<-ctx.Done()
	logf("stopping the demo room")
	return nil
}

// loadConfig parses flags and layers them over the environment and the
// config file: flags > LIVEKIT_* / ROOMCAST_* > config file > defaults.
func loadConfig(fs *pflag.FlagSet, args []string) (*viper.Viper, error) {
	fs.String("config", "", "config file (default $XDG_CONFIG_HOME/roomcast/config.yaml)")
	fs.String("livekit-url", "", "LiveKit server URL (env LIVEKIT_URL)")
	fs.String("api-key", "", "LiveKit API key (env LIVEKIT_API_KEY)")
	fs.String("api-secret", "", "LiveKit API secret (env LIVEKIT_API_SECRET)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w; run `roomcast help`", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q; run `roomcast help`", fs.Arg(0))
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

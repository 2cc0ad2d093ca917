package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/huren-health/huren/hub"
)

// loadConfig builds a hub.Config from defaults < config file < HUREN_* env <
// flags, and validates it. It is shared by every subcommand that opens the
// hub's backends, so they all see the same storage and state.
func loadConfig(name string, args []string, stderr io.Writer, getenv func(string) string, extra func(*flag.FlagSet)) (hub.Config, *flag.FlagSet, error) {
	cfg := hub.Defaults()
	fs := flag.NewFlagSet("huren "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		configFile                                    = fs.String("config", "", "JSON config file (keys as in deploy/huren.example.json)")
		listen, data, storage, redis, publicURL, cors string
		logLevel, logFormat                           string
	)
	fs.StringVar(&listen, "listen", cfg.Listen, "HTTP listen address (env HUREN_LISTEN)")
	fs.StringVar(&data, "data", cfg.DataDir, "data directory of the embedded default (env HUREN_DATA)")
	fs.StringVar(&storage, "storage", "", "object store: empty = files under --data; minio://KEY:SECRET@host:9000/bucket?secure=false (env HUREN_STORAGE)")
	fs.StringVar(&redis, "redis", "", "state backend: empty = in-process; redis://host:6379/0 (env HUREN_REDIS)")
	fs.StringVar(&publicURL, "public-url", "", "URL clients use to reach this hub, for RetrieveURL/BulkDataURI (env HUREN_PUBLIC_URL)")
	fs.StringVar(&cors, "cors", "", "comma-separated browser origins allowed to use DICOMweb, or * (env HUREN_CORS_ORIGINS)")
	fs.StringVar(&logLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (env HUREN_LOG_LEVEL)")
	fs.StringVar(&logFormat, "log-format", cfg.LogFormat, "text or json (env HUREN_LOG_FORMAT)")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, fs, flag.ErrHelp
		}
		return cfg, fs, fmt.Errorf("%w: %v", errUsage, err)
	}
	if *configFile != "" {
		if err := cfg.LoadFile(*configFile); err != nil {
			return cfg, fs, err
		}
	}
	if err := cfg.LoadEnv(getenv); err != nil {
		return cfg, fs, err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Listen = listen
		case "data":
			cfg.DataDir = data
		case "storage":
			cfg.Storage = storage
		case "redis":
			cfg.Redis = redis
		case "public-url":
			cfg.PublicURL = publicURL
		case "cors":
			cfg.CORSOrigins = strings.Split(cors, ",")
		case "log-level":
			cfg.LogLevel = logLevel
		case "log-format":
			cfg.LogFormat = logFormat
		}
	})
	if err := cfg.Validate(); err != nil {
		return cfg, fs, fmt.Errorf("configuration:\n%w", err)
	}
	return cfg, fs, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var demo bool
	var debugListen string
	cfg, _, err := loadConfig("serve", args, stderr, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&demo, "demo", false, "on first start create a demo township site, one account per role and a device token, and print their credentials (env HUREN_DEMO=1)")
		fs.StringVar(&debugListen, "debug-listen", getenv("HUREN_DEBUG_LISTEN"), "serve Go profiling (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; off when empty. Keep it on loopback: it is unauthenticated (env HUREN_DEBUG_LISTEN)")
	})
	cfg.Demo = cfg.Demo || demo
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := hub.NewLogger(cfg, os.Stderr)
	srv, err := hub.Open(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen on %s: %w (is another huren running? choose another port with --listen)", cfg.Listen, err)
	}
	if debugListen != "" {
		stop, err := serveDebug(debugListen, log)
		if err != nil {
			srv.Close()
			ln.Close()
			return err
		}
		defer stop()
	}
	fmt.Fprintf(stdout, "Huren is running at http://%s  (DICOMweb root: http://%s/dicom-web; stop with Ctrl-C)\n", ln.Addr(), ln.Addr())
	return srv.Serve(ctx, ln)
}

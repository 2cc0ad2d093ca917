package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	authcli "github.com/huren-health/huren/auth/cli"
	"github.com/huren-health/huren/hub"
)

// accountsCommand runs one of the accounts/audit command groups (user,
// site, group, token, audit, bootstrap) against the same storage and state
// as the running hub. Backend flags (--data, --storage, --redis, --config)
// go right after the group name, or come from HUREN_* variables:
//
//	huren user --data ./huren-data add zhang --role technician@town-a
func accountsCommand(group string) func(context.Context, []string, io.Writer, io.Writer, func(string) string) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
		cfg, fs, err := loadConfig(group, args, stderr, getenv, nil)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, "\nThe flags above select the hub's storage and state; put them right after the command word.\n\n", authcli.Usage)
			return nil
		}
		if err != nil {
			return err
		}
		log := hub.NewLogger(cfg, os.Stderr)
		// Accounts never touch the catalog; the embedded default's catalog
		// file is locked by a running hub, so do not open it.
		cfg.MemoryCatalog = true
		b, err := hub.OpenBackends(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer b.Close()
		return authcli.Deps{Store: b.Store, State: b.AuthState, Log: log}.Main(ctx, append([]string{group}, fs.Args()...), stdout, stderr)
	}
}

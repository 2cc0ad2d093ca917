package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one `huren` subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error
}

// errUsage marks an error whose message already explains correct usage.
var errUsage = errors.New("usage")

func commands() map[string]command {
	return map[string]command{
		"bootstrap": {"create the hub site and first administrator (serve does this on first start)", accountsCommand("bootstrap")},
		"user":      {"add, list, disable, enable users; reset passwords; set role grants", accountsCommand("user")},
		"site":      {"add and list sites (county hub → township → village)", accountsCommand("site")},
		"group":     {"add and list reading groups (影像诊断中心, 心电诊断中心)", accountsCommand("group")},
		"token":     {"create, list, revoke bearer tokens for devices, the upload CLI and integrations", accountsCommand("token")},
		"audit":     {"verify the hash-chained audit trail; search it by user, patient, time", accountsCommand("audit")},
		"serve":     {"run the hub (embedded default: files under ./huren-data, in-process state)", runServe},
		"reindex":   {"rebuild the catalog (and worklist) from object storage", runReindex},
		"version":   {"print the version", runVersion},
		"ecg":       {"analyze an ECG file (DICOM waveform, HL7 aECG, SCP-ECG, WFDB): measurements, flags, tracing", runECG},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return fmt.Errorf("unknown command %q (see the list above)", args[0])
	}
	return cmd.run(ctx, args[1:], stdout, stderr, getenv)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("huren — regional imaging and ECG sharing hub (互认)\n\nUsage: huren <command> [flags]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'huren <command> --help' for a command's flags.\n")
	io.WriteString(w, b.String())
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer, _ func(string) string) error {
	fmt.Fprintln(stdout, "huren", version)
	return nil
}

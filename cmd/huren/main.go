// Command huren is the Huren regional imaging and ECG hub: one binary that
// serves the hub and administers it. Subcommands live in their own files;
// the work they do lives in packages.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "huren:", err)
		os.Exit(1)
	}
}

package main

import (
	"context"
	"io"

	"github.com/huren-health/huren/ecg/ecgcli"
)

// runECG is `huren ecg analyze FILE …`: it works on local files only and
// needs no running hub or backends.
func runECG(ctx context.Context, args []string, stdout, stderr io.Writer, _ func(string) string) error {
	return ecgcli.Main(ctx, args, stdout, stderr)
}

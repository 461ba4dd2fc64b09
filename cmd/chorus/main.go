// Command chorus inspects a Chorus database file while the application that
// owns it runs: list runs, show one, print its journal or export it for
// replay, count runs and time them, verify the file's integrity, and serve
// the dashboard over it.
//
//	chorus runs list FILE [--status S,...] [--workflow W] [--attr NAME[:KIND]OP VALUE]...
//	       [--created-after T] [--created-before T] [--closed-after T] [--closed-before T]
//	       [--after ID] [--limit N]
//	chorus runs show FILE ID
//	chorus history FILE ID [--export]
//	chorus stats FILE
//	chorus verify FILE
//	chorus serve FILE [--addr 127.0.0.1:8233] [--token-file F] [--prefix /chorus]
//
// Every command prints a table, or JSON with --json. They only read: the
// file is opened read-only and without a lock. serve runs the dashboard
// (package ui) read-only, on 127.0.0.1 unless --addr says otherwise; with a
// token (--token-file, or CHORUS_TOKEN) every page and API call needs it.
//
// Exit status: 0 on success, 1 when the command failed (missing or foreign
// file, unknown run, damage found by verify), 2 on a usage error.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/chorusdev/chorus/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

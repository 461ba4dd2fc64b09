package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/events"
	"github.com/chorusdev/chorus/ui"
)

// eventTables are the dashboard's pages of an events Store.
func eventTables(st *events.Store) []ui.Table {
	return []ui.Table{
		{Name: "Outbox", Intro: events.OutboxIntro, Empty: events.OutboxEmpty, RunColumn: "Run", Rows: st.OutboxTable},
		{Name: "Parked messages", Intro: events.ParkedIntro, Empty: events.ParkedEmpty, Rows: st.ParkedTable},
	}
}

func serveCmd() *cobra.Command {
	var addr, token, tokenFile, prefix string
	cmd := &cobra.Command{
		Use:   "serve FILE",
		Short: "Serve the dashboard over a database, read-only",
		Long: `serve runs the dashboard over a database file: the runs list, each run's
timeline, the workflows' KPIs, the schedules, the queues and the runs they
hold, and the JSON API, and, for a
file an application used package events on, the outbox and the parked
messages. It reads the file without a
lock, so it works while the application runs; it takes no action on runs
(the journal has one writer, the application: mount the dashboard in it to
cancel, terminate or signal).

FILE may be a PostgreSQL database instead (postgres://USER@HOST/DB): serve
reads it without taking its lease, so it works while the engine that owns
it runs (the outbox and parked-messages pages are for files only).

It listens on 127.0.0.1 unless --addr says otherwise, and prints the URL.
With --token (or --token-file, or the CHORUS_TOKEN environment variable),
every page and API call needs it: scripts send "Authorization: Bearer
TOKEN", browsers sign in once with it.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if tokenFile != "" {
				if token != "" {
					return usagef("--token and --token-file: give one")
				}
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return usagef("--token-file: %v", err)
				}
				token = strings.TrimSpace(string(b))
				if token == "" {
					return usagef("--token-file %s: the file is empty", tokenFile)
				}
			}
			if token == "" {
				token = os.Getenv("CHORUS_TOKEN")
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return usagef("--addr %q: want HOST:PORT such as 127.0.0.1:8233", addr)
			}
			st, err := open(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			// Given keys (--keys or $CHORUS_KEYS), the dashboard shows
			// what they decrypt to everyone it lets in.
			pc, err := payloadCodec(cmd)
			if err != nil {
				return err
			}
			opts := &ui.Options{Prefix: prefix, PayloadCodec: pc, Tables: append([]ui.Table{scheduleTable(st)}, queueTables(st)...)}
			// A file an application used package events on gets the
			// outbox and parked-messages pages.
			if isPostgres(args[0]) {
				// Package events keeps its tables in SQLite only.
			} else if est, err := events.OpenReadOnly(ctx, args[0]); err == nil {
				defer est.Close()
				if ok, err := est.Installed(ctx); err != nil {
					return err
				} else if ok {
					opts.Tables = append(opts.Tables, eventTables(est)...)
				}
			}
			if token != "" {
				opts.Auth = ui.BearerToken(token)
			}
			h, err := ui.StoreHandler(st, opts)
			if err != nil {
				return usagef("%v", err)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			ip := net.ParseIP(host)
			if token == "" && (host == "" || ip == nil || !ip.IsLoopback()) && host != "localhost" {
				fmt.Fprintf(errOut, "chorus: warning: serving %s without a token on a non-loopback address; anyone who reaches it reads every run (give --token)\n", display(args[0]))
			}
			fmt.Fprintf(out, "Serving %s (read-only) at http://%s%s/\n", display(args[0]), ln.Addr(), prefix)
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			select {
			case err := <-done:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = srv.Shutdown(sctx)
			if e := <-done; !errors.Is(e, http.ErrServerClosed) && err == nil {
				err = e
			}
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8233", "address to listen on; the default is reachable from this machine only")
	cmd.Flags().StringVar(&token, "token", "", "require this bearer token for every page and API call (other users can read it in the process list: prefer --token-file or CHORUS_TOKEN)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "read the token from this file")
	cmd.Flags().StringVar(&prefix, "prefix", "", "serve under this path, such as /chorus (behind a reverse proxy)")
	return cmd
}

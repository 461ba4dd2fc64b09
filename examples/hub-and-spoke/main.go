// Command hub-and-spoke runs activities in an agent process that reaches
// the engine only by an outbound HTTP connection, as an agent on premises
// behind a firewall would.
//
// The program is the hub: it opens the engine, serves the remote package's
// hub on 127.0.0.1, and starts the agent, a child process of itself (the
// same binary with -agent), which long-polls the hub with its token, reads
// balances from a ledger file only it is given, and posts them back. The
// workflow sends the statements from the hub. Each line says which process
// printed it.
//
//	go run ./examples/hub-and-spoke
//
// The workflow and activities are in package ledger, beside this file.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/hub-and-spoke/ledger"
	"github.com/chorusdev/chorus/remote"
)

// tokenEnv carries the agent's token to the child process (the
// environment, not the command line that other users can read).
const tokenEnv = "CHORUS_AGENT_TOKEN"

func main() {
	agent := flag.Bool("agent", false, "run as the agent (the hub starts it)")
	hubURL := flag.String("hub", "", "the hub's URL (agent)")
	file := flag.String("ledger", "", "the ledger `file` the agent reads (agent)")
	dir := flag.String("dir", "", "`directory` for the hub's database and the ledger (default: a new temporary one)")
	flag.Parse()
	var err error
	if *agent {
		err = runAgent(*hubURL, os.Getenv(tokenEnv), *file)
	} else {
		err = runHub(*dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub-and-spoke:", err)
		os.Exit(1)
	}
}

// runAgent serves the on-premises queue until interrupted.
func runAgent(hubURL, token, file string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w, err := remote.NewWorker(hubURL, token, []string{ledger.Queue}, nil, ledger.ReadBalance(file))
	if err != nil {
		return err
	}
	fmt.Printf("[agent pid %d] polling %s for queue %q\n", os.Getpid(), hubURL, ledger.Queue)
	if err := w.Run(ctx); err != nil {
		return err
	}
	fmt.Printf("[agent pid %d] stopped\n", os.Getpid())
	return nil
}

func runHub(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "chorus-hub-and-spoke")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	// The on-premises data: in real life it is on the agent's machine.
	file := filepath.Join(dir, "ledger.csv")
	if err := os.WriteFile(file, []byte("acct-7,1250\nacct-9,-40\n"), 0o600); err != nil {
		return err
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := chorus.Open(ctx, filepath.Join(dir, "hub.db"), &chorus.Options{
		Queues: []chorus.Queue{{Name: ledger.Queue, Concurrency: 8}},
	})
	if err != nil {
		return err
	}
	hub, err := remote.NewHub(eng, &remote.HubOptions{
		Activities: []remote.Activity{ledger.ReadBalance("")},
		Workers:    []remote.WorkerToken{{Name: "branch-office", Token: token, Queues: []string{ledger.Queue}}},
	})
	if err != nil {
		return errors.Join(err, eng.Close(ctx))
	}
	if err := eng.Register(ledger.Statement, ledger.SendStatement); err != nil {
		return errors.Join(err, eng.Close(ctx))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return errors.Join(err, eng.Close(ctx))
	}
	srv := &http.Server{Handler: hub, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	fmt.Printf("[hub pid %d] serving workers at %s\n", os.Getpid(), url)

	agent, err := startAgent(url, token, file)
	if err == nil {
		err = statements(ctx, eng, "acct-7", "acct-9")
		err = errors.Join(err, stopAgent(agent))
	}
	// Close the engine first: answers arriving meanwhile are still taken.
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	err = errors.Join(err, eng.Close(cctx))
	hub.Close()
	return errors.Join(err, srv.Shutdown(cctx))
}

// statements runs a statement for each account and prints the results.
func statements(ctx context.Context, eng *chorus.Engine, accounts ...string) error {
	runs := make([]*chorus.Run[string], len(accounts))
	for i, a := range accounts {
		r, err := chorus.Start(ctx, eng, ledger.Statement, a, &chorus.StartOptions{ID: "statement-" + a})
		if err != nil {
			return err
		}
		runs[i] = r
	}
	for _, r := range runs {
		out, err := r.Result(ctx)
		if err != nil {
			return fmt.Errorf("run %s: %w", r.ID(), err)
		}
		fmt.Printf("[hub pid %d] run %s completed: %s\n", os.Getpid(), r.ID(), out)
	}
	return nil
}

// startAgent starts this program again as the agent.
func startAgent(url, token, file string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-agent", "-hub", url, "-ledger", file)
	cmd.Env = append(os.Environ(), tokenEnv+"="+token)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the agent: %w", err)
	}
	return cmd, nil
}

// stopAgent interrupts the agent and waits for it.
func stopAgent(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		return fmt.Errorf("stop the agent: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("the agent: %w", err)
	}
	return nil
}

// Command chorus-torture runs Chorus's kill loop (internal/torture): it
// runs a mixed workload of workflows in a child process (this same binary),
// SIGKILLs the child at seeded random moments, restarts it on the same
// database file, and checks after every kill that nothing acknowledged was
// lost and nothing was recorded twice. It prints the seed first, a line per
// cycle with -v, and a summary; it exits 1 if any invariant was violated.
//
//	go run ./cmd/chorus-torture -cycles 500 -workflows 10000
//	go run ./cmd/chorus-torture -seed 1234 -cycles 20 -workflows 200 -v   # replay a seed
//
// With -powercut FULL or NORMAL, the database lives on a lazy FUSE file
// system (internal/lazyfs) that this process serves, and every kill is
// followed by a power cut: the writes and directory entries not fsynced
// are lost (all, some, or the last page torn; -cut-modes), and the parent
// checks the journal the disk kept (see torture.PowerCut). It needs
// /dev/fuse and root.
//
//	go run ./cmd/chorus-torture -powercut FULL -cycles 200 -workflows 2000 -v
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/lazyfs"
	"github.com/chorusdev/chorus/internal/torture"
)

// childEnv marks a process started as the kill loop's child.
const childEnv = "CHORUS_TORTURE_CHILD"

func main() {
	if os.Getenv(childEnv) == "1" {
		torture.ChildMain()
	}
	var (
		cycles    = flag.Int("cycles", 500, "child processes to kill")
		workflows = flag.Int("workflows", 10000, "runs of the workload in all")
		seed      = flag.Int64("seed", 0, "seed (0: from the clock)")
		dir       = flag.String("dir", "", "working directory (default: a new temporary one, removed when the loop passes)")
		starters  = flag.Int("starters", 8, "goroutines starting runs in the child")
		workers   = flag.Int("workers", 32, "the child's MaxConcurrentActivities")
		verbose   = flag.Bool("v", false, "print a line per cycle")
		faults    = flag.Bool("faults", false, "also inject store faults in every child (internal/faultstore)")
		exclude   = flag.String("exclude", "", "kinds of run to leave out, comma-separated (acts,timer,signal,saga,child,ping)")
		powercut  = flag.String("powercut", "", "FULL or NORMAL: the database on a lazy file system, the power cut after every kill, with this synchronous setting")
		cutModes  = flag.String("cut-modes", "", "with -powercut: power-cut modes to choose from, comma-separated (drop-all,keep-some,tear-last; default all)")
	)
	flag.Parse()
	if *seed == 0 {
		*seed = time.Now().UnixNano() % 1_000_000_000
	}
	replay := ""
	if *powercut != "" {
		replay = fmt.Sprintf(" -powercut %s -cut-modes %q", *powercut, *cutModes)
	}
	fmt.Printf("chorus-torture: seed %d (replay with -seed %d -cycles %d -workflows %d%s)\n", *seed, *seed, *cycles, *workflows, replay)
	keep := *dir != ""
	if !keep {
		d, err := os.MkdirTemp("", "chorus-torture-")
		if err != nil {
			log.Fatal(err)
		}
		*dir = d
	}
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cfg := torture.Config{
		Dir: *dir, Seed: *seed, Cycles: *cycles, Workflows: *workflows, Starters: *starters, Workers: *workers,
		Exclude: kinds(*exclude), Faults: *faults,
		Command: func() *exec.Cmd {
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), childEnv+"=1")
			return cmd
		},
	}
	if *powercut != "" {
		pc, err := powerCut(*powercut, *cutModes)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chorus-torture: %v\n", err)
			os.Exit(2)
		}
		cfg.PowerCut = pc
	}
	if *verbose {
		cfg.Logf = func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := torture.Run(ctx, cfg)
	if rep != nil {
		fmt.Println(rep)
		for _, p := range rep.Problems {
			fmt.Println("PROBLEM:", p)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "chorus-torture: %v (files kept in %s)\n", err, *dir)
		os.Exit(2)
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(os.Stderr, "chorus-torture: FAIL, seed %d; files kept in %s\n", *seed, *dir)
		os.Exit(1)
	}
	if !keep {
		_ = os.RemoveAll(*dir)
	}
	fmt.Println("chorus-torture: PASS")
}

func powerCut(sync, modes string) (*torture.PowerCut, error) {
	pc := &torture.PowerCut{Synchronous: sqlite.Synchronous(strings.ToUpper(sync))}
	if pc.Synchronous != sqlite.SynchronousFull && pc.Synchronous != sqlite.SynchronousNormal {
		return nil, fmt.Errorf("-powercut %q: want FULL or NORMAL", sync)
	}
	for _, m := range strings.Split(modes, ",") {
		if m == "" {
			continue
		}
		mode, err := lazyfs.ParseMode(m)
		if err != nil {
			return nil, fmt.Errorf("-cut-modes: %w", err)
		}
		pc.Modes = append(pc.Modes, mode)
	}
	return pc, nil
}

func kinds(s string) []torture.Kind {
	var ks []torture.Kind
	for _, k := range strings.Split(s, ",") {
		if k != "" {
			ks = append(ks, torture.Kind(k))
		}
	}
	return ks
}

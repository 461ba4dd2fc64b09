package chorus_test

// The kill loop (internal/torture, also cmd/chorus-torture): a child
// process runs the torture workload (activities, a timer, a signal, a saga
// that compensates, a child workflow) on a database file and is SIGKILLed
// at seeded random moments, then restarted on the same file, again and
// again; after every kill the parent checks a copy of the database (see
// torture.Run for the invariants). The short version runs by default:
//
//	go test -run TestTortureKillLoop -v .                                 # 20 cycles, 300 workflows
//	go test -run TestTortureKillLoop -torture.cycles=500 -torture.workflows=10000 -timeout 30m -v .
//	CHORUS_TORTURE_LONG=1 go test -run TestTortureKillLoop -timeout 30m -v .
//	go test -run TestTortureKillLoop -torture.seed=1234 -v .              # replay a seed
//
// -torture.exclude=ping,child leaves kinds of run out, for instance to look
// past a known bug of one kind. (The "ping" kind found B3 in RELIABILITY.md:
// a signal sent with workflow.SignalExternal delivered twice after a kill.)

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/torture"
)

var (
	tortureCycles    = flag.Int("torture.cycles", 20, "TestTortureKillLoop: child processes to kill")
	tortureWorkflows = flag.Int("torture.workflows", 300, "TestTortureKillLoop: runs of the workload")
	tortureSeed      = flag.Int64("torture.seed", 0, "TestTortureKillLoop: seed (0: from the clock)")
	tortureFaults    = flag.Bool("torture.faults", false, "TestTortureKillLoop: the children's stores also inject faults")
	tortureExclude   = flag.String("torture.exclude", "", "TestTortureKillLoop: kinds of run to leave out, comma-separated")
)

func init() {
	childModes["torture"] = torture.ChildMain
}

func TestTortureKillLoop(t *testing.T) {
	t.Parallel()
	cycles, workflows := *tortureCycles, *tortureWorkflows
	if os.Getenv("CHORUS_TORTURE_LONG") != "" {
		cycles, workflows = 500, 10000
	}
	seed := *tortureSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_000
	}
	var exclude []torture.Kind
	for _, k := range strings.Split(*tortureExclude, ",") {
		if k != "" {
			exclude = append(exclude, torture.Kind(k))
		}
	}
	t.Logf("seed %d (replay: go test -run TestTortureKillLoop -torture.seed=%d -torture.cycles=%d -torture.workflows=%d -torture.exclude=%q -torture.faults=%v -v .)",
		seed, seed, cycles, workflows, *tortureExclude, *tortureFaults)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	rep, err := torture.Run(ctx, torture.Config{
		Dir: t.TempDir(), Seed: seed, Cycles: cycles, Workflows: workflows, Exclude: exclude, Faults: *tortureFaults,
		FinalTimeout: 2 * time.Minute,
		Command: func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), testutil.ChildEnv+"=torture")
			return cmd
		},
		Logf: t.Logf,
	})
	if rep != nil {
		t.Log(rep)
	}
	if err != nil {
		t.Fatalf("seed %d: the kill loop could not run: %v", seed, err)
	}
	if len(rep.Problems) > 0 {
		t.Errorf("seed %d: %d problems:\n  %s", seed, len(rep.Problems), strings.Join(rep.Problems, "\n  "))
	}
	if rep.Kills == 0 {
		t.Errorf("seed %d: no child was killed", seed)
	}
}

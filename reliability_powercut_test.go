package chorus_test

// The power-cut loop (internal/torture with PowerCut, also
// cmd/chorus-torture -powercut): the kill loop's child runs its database
// on a lazy FUSE file system (internal/lazyfs) that the test process
// serves; after every SIGKILL the test cuts the power (the writes and
// directory entries not fsynced are lost, all or some, or the last page
// torn) and checks the journal the disk kept. It needs /dev/fuse and the
// right to mount (root); it skips without them.
//
//	go test -run TestPowerCutLoop -v .                                   # 10 cycles at FULL, 10 at NORMAL
//	go test -run TestPowerCutLoop -powercut.cycles=200 -timeout 60m -v . # the full run
//	go test -run TestPowerCutLoop/NORMAL -powercut.seed=1234 -v .        # replay a seed

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/lazyfs"
	"github.com/chorusdev/chorus/internal/testutil"
	"github.com/chorusdev/chorus/internal/torture"
)

var (
	powercutCycles    = flag.Int("powercut.cycles", 10, "TestPowerCutLoop: power cuts per synchronous setting")
	powercutWorkflows = flag.Int("powercut.workflows", 0, "TestPowerCutLoop: runs of the workload (0: 10 per cycle)")
	powercutSeed      = flag.Int64("powercut.seed", 0, "TestPowerCutLoop: seed (0: from the clock)")
)

func TestPowerCutLoop(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("needs FUSE (/dev/fuse, and root to mount): %v", err)
	}
	for _, sync := range []sqlite.Synchronous{sqlite.SynchronousFull, sqlite.SynchronousNormal} {
		t.Run(string(sync), func(t *testing.T) {
			cycles, workflows := *powercutCycles, *powercutWorkflows
			if workflows <= 0 {
				workflows = 10 * cycles
			}
			seed := *powercutSeed
			if seed == 0 {
				seed = time.Now().UnixNano() % 1_000_000_000
			}
			t.Logf("seed %d (replay: go test -run 'TestPowerCutLoop/%s' -powercut.seed=%d -powercut.cycles=%d -powercut.workflows=%d -v .)",
				seed, sync, seed, cycles, workflows)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
			defer cancel()
			rep, err := torture.Run(ctx, torture.Config{
				Dir: t.TempDir(), Seed: seed, Cycles: cycles, Workflows: workflows,
				FinalTimeout: 2 * time.Minute,
				PowerCut:     &torture.PowerCut{Synchronous: sync},
				Command: func() *exec.Cmd {
					cmd := exec.Command(os.Args[0], "-test.run=^$")
					cmd.Env = append(os.Environ(), testutil.ChildEnv+"=torture")
					return cmd
				},
				Logf: t.Logf,
			})
			if errors.Is(err, lazyfs.ErrUnavailable) {
				t.Skipf("needs FUSE: %v", err)
			}
			if rep != nil {
				t.Log(rep)
			}
			if err != nil {
				t.Fatalf("seed %d: the power-cut loop could not run: %v", seed, err)
			}
			if len(rep.Problems) > 0 {
				t.Errorf("seed %d: %d problems:\n  %s", seed, len(rep.Problems), strings.Join(rep.Problems, "\n  "))
			}
			if rep.Kills == 0 || rep.Cuts == nil || rep.Cuts.Cuts != cycles+1 {
				t.Errorf("seed %d: %d kills, cuts %v; want kills and %d cuts", seed, rep.Kills, rep.Cuts, cycles+1)
			}
			if sync == sqlite.SynchronousFull && rep.Cuts != nil && rep.Cuts.LostAcks != 0 {
				t.Errorf("seed %d: synchronous=FULL lost %d acknowledgements", seed, rep.Cuts.LostAcks)
			}
		})
	}
}

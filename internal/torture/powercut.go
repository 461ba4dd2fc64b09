package torture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/lazyfs"
)

// PowerCut makes a kill loop a power-cut loop: the database lives on a
// lazy file system (internal/lazyfs) over Config.Dir/disk, mounted at
// Config.Dir/mnt by the parent, so that it outlives the child. After each
// child died (SIGKILLed at a seeded random moment, or, the last one,
// exited), the parent reads the journal the mount shows (a process kill
// loses nothing: every acknowledgement must be there), cuts the power in a
// seeded random Mode, unmounts, and reads the journal the disk kept, from
// the backing directory. It checks that:
//
//   - the file opens and PRAGMA integrity_check is ok;
//   - the journal of each run is a prefix of the one before the cut, and
//     extends the one the previous cut left (which the next child started
//     from);
//   - with synchronous=FULL, every acknowledged start, signal and result
//     is in it; with NORMAL, the acknowledgements missing are counted
//     (CutStats.LostAcks), and how far they are from the end of the
//     child's acknowledgements (a suffix is what NORMAL allows);
//
// and the kill loop's checks run on the journal the disk kept: nothing
// completed twice, no activity ran again once its outcome was durable.
type PowerCut struct {
	// Synchronous is the store's setting: sqlite.SynchronousFull or
	// sqlite.SynchronousNormal. Required.
	Synchronous sqlite.Synchronous
	// Modes are the lazyfs modes to cut in, one chosen at random per
	// cycle. Default: all of lazyfs.Modes.
	Modes []lazyfs.Mode
}

// CutStats is what the power cuts did and found.
type CutStats struct {
	Synchronous sqlite.Synchronous
	Cuts        int            // power cuts
	ByMode      map[string]int // cuts per lazyfs mode
	// Acks counts the acknowledgements checked against the journal the
	// disk kept after a cut; LostAcks those missing (allowed with NORMAL
	// only), CutsLosing the cuts that lost at least one, MaxLostAcks the
	// most at one cut.
	Acks, LostAcks, CutsLosing, MaxLostAcks int
	// AcksAfterLost counts new acknowledgements (of something the
	// previous cut's journal did not hold) that survived although an
	// earlier acknowledgement of the same child was lost: commits that ran
	// concurrently print in any order, so a few are expected; many would
	// mean the loss is not a suffix.
	AcksAfterLost int
	// LostEvents counts journal events before the cut that the disk did
	// not keep (commits not acknowledged yet, or, with NORMAL, acknowledged
	// ones); LostRuns the runs that vanished entirely.
	LostEvents, LostRuns int
	// What the file system lost: files with unsynced writes, their pages
	// dropped and kept, directory changes forgotten.
	Files, PagesDropped, PagesKept, EntriesForgotten int
}

func (c *CutStats) String() string {
	modes := make([]string, 0, len(lazyfs.Modes))
	for _, m := range lazyfs.Modes {
		if n := c.ByMode[m.String()]; n > 0 {
			modes = append(modes, fmt.Sprintf("%d %s", n, m))
		}
	}
	return fmt.Sprintf("synchronous=%s: %d power cuts (%s): %d acknowledgements checked after the cuts, %d lost (at %d cuts, at most %d at one; %d acknowledged after a lost one survived), "+
		"%d unacknowledged-or-lost journal events and %d runs not kept; the file system dropped %d pages, kept %d unsynced ones, forgot %d directory changes",
		c.Synchronous, c.Cuts, strings.Join(modes, ", "), c.Acks, c.LostAcks, c.CutsLosing, c.MaxLostAcks, c.AcksAfterLost,
		c.LostEvents, c.LostRuns, c.PagesDropped, c.PagesKept, c.EntriesForgotten)
}

func (l *loop) backing() string    { return filepath.Join(l.cfg.Dir, "disk") }
func (l *loop) mountpoint() string { return filepath.Join(l.cfg.Dir, "mnt") }

// setupPowerCut checks the configuration and makes the directories.
func (l *loop) setupPowerCut() error {
	pc := l.cfg.PowerCut
	switch pc.Synchronous {
	case sqlite.SynchronousFull, sqlite.SynchronousNormal:
	default:
		return fmt.Errorf("torture: PowerCut.Synchronous is %q, want FULL or NORMAL", pc.Synchronous)
	}
	if len(pc.Modes) == 0 {
		pc.Modes = lazyfs.Modes
	}
	if err := lazyfs.Available(); err != nil {
		return err
	}
	for _, d := range []string{l.backing(), l.mountpoint()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	l.db = filepath.Join(l.mountpoint(), "chorus.db")
	l.rep.Cuts = &CutStats{Synchronous: pc.Synchronous, ByMode: map[string]int{}}
	return nil
}

// mount mounts the lazy file system for the next child.
func (l *loop) mount() error {
	lfs, err := lazyfs.Mount(l.backing(), l.mountpoint(), nil)
	if err != nil {
		return fmt.Errorf("torture: %w", err)
	}
	l.lfs = lfs
	return nil
}

// unmount unmounts after a failure, keeping everything.
func (l *loop) unmount() {
	if l.lfs != nil {
		_ = l.lfs.Unmount()
		l.lfs = nil
	}
}

// ackMode is how checkAcks treats acknowledgements the journal the disk
// kept lacks.
func (l *loop) ackMode() int {
	switch {
	case l.cfg.PowerCut == nil:
		return ackStrict
	case l.cfg.PowerCut.Synchronous == sqlite.SynchronousNormal:
		return ackLossOK
	}
	return ackCount
}

// powerCut cuts the power, reads the journal the disk kept and checks it
// against pre, the one the mount showed.
func (l *loop) powerCut(ctx context.Context, gen int, final bool, lines []string, pre *snapshot) (*snapshot, string, error) {
	mode := l.cfg.PowerCut.Modes[l.rng.IntN(len(l.cfg.PowerCut.Modes))]
	rep, err := l.lfs.PowerCut(mode, l.rng.Uint64())
	l.lfs = nil
	if err != nil {
		if errors.Is(err, lazyfs.ErrUnmounted) {
			return nil, "", err
		}
		l.bad("gen %d: power cut: %v", gen, err)
	}
	c := l.rep.Cuts
	c.Cuts++
	c.ByMode[mode.String()]++
	c.Files += rep.Files
	c.PagesDropped += rep.PagesDropped
	c.PagesKept += rep.PagesKept
	c.EntriesForgotten += rep.EntriesForgotten
	post, err := l.snapshot(ctx, gen, final, filepath.Join(l.backing(), "chorus.db"))
	if err != nil {
		return nil, "", err
	}
	events, runs := 0, 0
	for id, evs := range pre.events {
		after, ok := post.events[id]
		if !ok {
			if _, kept := post.rows[id]; !kept {
				runs++
			}
			events += len(evs)
			continue
		}
		if len(after) > len(evs) || !sameEvents(after, evs[:len(after)]) {
			l.bad("gen %d: run %s: after the cut the journal is not a prefix of the one before:\n  before %v\n  after  %v", gen, id, evs, after)
			continue
		}
		events += len(evs) - len(after)
	}
	for id := range post.rows {
		if _, ok := pre.rows[id]; !ok {
			l.bad("gen %d: run %s is in the journal after the cut, not before", gen, id)
		}
	}
	c.LostEvents += events
	c.LostRuns += runs
	return post, fmt.Sprintf("; cut %s: %d pages dropped, %d kept, %d directory changes forgotten; %d journal events and %d runs not kept",
		mode, rep.PagesDropped, rep.PagesKept, rep.EntriesForgotten, events, runs), nil
}

// noteLost counts the acknowledgements a cut lost (indexes in lines).
func (l *loop) noteLost(gen int, lines []string, lost []int) {
	c := l.rep.Cuts
	if c == nil {
		return
	}
	acks := 0
	for _, line := range lines {
		switch strings.SplitN(line, " ", 2)[0] {
		case "started", "signaled", "result":
			acks++
		}
	}
	c.Acks += acks
	if len(lost) == 0 {
		return
	}
	c.LostAcks += len(lost)
	c.CutsLosing++
	c.MaxLostAcks = max(c.MaxLostAcks, len(lost))
	isLost := map[int]bool{}
	for _, i := range lost {
		isLost[i] = true
	}
	for i := lost[0] + 1; i < len(lines); i++ {
		if !isLost[i] && l.newAck(lines[i]) {
			c.AcksAfterLost++
		}
	}
}

// newAck reports whether line acknowledges something the journal the
// previous cut left did not hold already: a run it lacked, a signal it
// lacked, the result of a run it had not ended. (A child acknowledges
// again what it finds done: those count for nothing in the order of
// commits.)
func (l *loop) newAck(line string) bool {
	f := strings.SplitN(line, " ", 3)
	if len(f) < 2 {
		return false
	}
	row, known := l.rows[f[1]]
	switch f[0] {
	case "started":
		return !known
	case "signaled":
		for _, ev := range l.events[f[1]] {
			if ev.Type == history.EventSignalReceived {
				return false
			}
		}
		return !row.Status.Ended()
	case "result":
		return !row.Status.Ended()
	}
	return false
}

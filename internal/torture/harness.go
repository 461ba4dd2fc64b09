package torture

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/lazyfs"
)

// Config configures a kill loop.
type Config struct {
	// Dir holds the database, the counter file, the snapshots and the
	// children's standard error. Required; it should be empty.
	Dir string
	// Seed drives every random choice of the parent (when and how to kill)
	// and seeds the children's.
	Seed int64
	// Cycles is how many child processes are killed; one more then runs
	// until every run has ended.
	Cycles int
	// Workflows is how many runs of the workload there are in all. They are
	// released over the cycles: the child of cycle c starts the first
	// Workflows*(c+1)/Cycles, so that every child has new work.
	Workflows int
	// Exclude lists kinds of run to leave out of the workload (to look
	// past a known bug of one kind).
	Exclude []Kind
	// Faults makes every child's store inject faults (internal/faultstore:
	// failed and unknown-outcome commits, failed reads, at a few percent;
	// the last child's stop after 50), on top of the kills. The child
	// retries what a fault explains.
	Faults bool
	// Starters and Workers are the child's Start goroutines and its
	// Options.MaxConcurrentActivities. Default 8 and 32.
	Starters, Workers int
	// FinalTimeout bounds the last child, which must finish everything.
	// Default 5 minutes.
	FinalTimeout time.Duration
	// Command returns the command that runs ChildMain (the parent adds the
	// child's environment to cmd.Env, or to os.Environ() if it is nil).
	Command func() *exec.Cmd
	// Logf, when set, receives one line per cycle.
	Logf func(format string, args ...any)
	// PowerCut, when set, puts the database on a lazy file system
	// (internal/lazyfs) and cuts the power after every child's death: see
	// PowerCut.
	PowerCut *PowerCut
}

// Report is what a kill loop did and found.
type Report struct {
	Seed      int64
	Cycles    int // child processes started
	Kills     int // of which SIGKILLed
	Workflows int
	Runs      int // runs in the final journal, children included
	// Acknowledgements the children reported, each checked against the
	// journal the child left.
	Started, Signaled, Results int
	// Executions counts activity executions (the counter file); Steps the
	// activity steps the final journal records as completed or failed.
	// Reexecuted is Executions - Steps: executions that a kill made
	// necessary. InFlight sums, over the kills, the activities whose
	// execution had begun in the killed process and whose outcome the
	// journal it left does not hold; MaxInFlight is the largest of them,
	// MaxExecuting the most executions still running at a kill.
	Executions, Steps, Reexecuted, InFlight, MaxInFlight, MaxExecuting int
	// Faults counts the store faults the children reported (Config.Faults).
	Faults int
	// Cuts is filled with Config.PowerCut.
	Cuts     *CutStats
	Duration time.Duration
	// Problems lists every invariant violated; empty means the loop passed.
	Problems []string
}

func (r *Report) String() string {
	faults := ""
	if r.Faults > 0 {
		faults = fmt.Sprintf(", %d store faults", r.Faults)
	}
	cuts := ""
	if r.Cuts != nil {
		cuts = "; " + r.Cuts.String()
	}
	return fmt.Sprintf("seed %d: %d cycles (%d kills), %d workflows (%d runs with children), acks %d started / %d signaled / %d results, "+
		"%d activity executions for %d steps (%d re-executed after kills; %d in flight at kills, at most %d at one kill, at most %d executing)%s%s, %v, %d problems",
		r.Seed, r.Cycles, r.Kills, r.Workflows, r.Runs, r.Started, r.Signaled, r.Results,
		r.Executions, r.Steps, r.Reexecuted, r.InFlight, r.MaxInFlight, r.MaxExecuting, faults, cuts, r.Duration.Round(time.Millisecond), len(r.Problems))
}

type stepKey struct {
	run  string
	step int64
}

// loop is the state of one kill loop.
type loop struct {
	cfg    Config
	rng    *rand.Rand
	rep    *Report
	db     string
	count  string
	skip   string
	offset int64 // of the counter file, read so far

	// From the journal the last child left.
	rows    map[string]history.RunInfo
	events  map[string][]history.Event // runs not ended at the previous snapshot
	settled map[stepKey]bool           // activity steps whose outcome is journaled

	execs     map[stepKey]int // executions per step, all generations
	inflights map[stepKey]int // kills while the step was in flight

	lastEvents map[string][]history.Event // the journals the last snapshot read
	seen       map[string]bool            // problems reported

	lfs *lazyfs.FS // Config.PowerCut: the mount of the running child

	// How long a child takes to open the engine, and from then to its last
	// line, as seen so far: kills are spread over these.
	estOpen, estWork time.Duration
}

// bad records a problem, once: the same finding about a run is not
// repeated for every later generation that still shows it.
func (l *loop) bad(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	key := p
	if strings.HasPrefix(key, "gen ") || strings.HasPrefix(key, "final: ") {
		_, key, _ = strings.Cut(key, ": ")
	}
	if l.seen[key] {
		return
	}
	l.seen[key] = true
	l.rep.Problems = append(l.rep.Problems, p)
}

// Run runs the kill loop described by cfg. It returns an error when the
// loop itself could not run (a child would not start, a snapshot would not
// open); violated invariants are in Report.Problems.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Dir == "" || cfg.Command == nil || cfg.Cycles < 0 || cfg.Workflows < 0 {
		return nil, errors.New("torture: Config needs Dir, Command, and Cycles and Workflows of 0 or more")
	}
	if cfg.Starters <= 0 {
		cfg.Starters = 8
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.FinalTimeout <= 0 {
		cfg.FinalTimeout = 5 * time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	start := time.Now()
	l := &loop{
		cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x70727475)),
		rep: &Report{Seed: cfg.Seed, Workflows: cfg.Workflows},
		db:  filepath.Join(cfg.Dir, "chorus.db"), count: filepath.Join(cfg.Dir, "executions.txt"),
		skip: filepath.Join(cfg.Dir, "ended.txt"),
		rows: map[string]history.RunInfo{}, events: map[string][]history.Event{}, settled: map[stepKey]bool{},
		execs: map[stepKey]int{}, inflights: map[stepKey]int{},
		seen: map[string]bool{}, estOpen: 30 * time.Millisecond, estWork: 100 * time.Millisecond,
	}
	if cfg.PowerCut != nil {
		if err := l.setupPowerCut(); err != nil {
			return nil, err
		}
	}
	for c := 0; c <= cfg.Cycles; c++ {
		if err := ctx.Err(); err != nil {
			return l.rep, err
		}
		final := c == cfg.Cycles
		upTo := cfg.Workflows
		if !final && cfg.Cycles > 0 {
			upTo = cfg.Workflows * (c + 1) / cfg.Cycles
		}
		if err := l.cycle(ctx, c+1, upTo, final); err != nil {
			return l.rep, err
		}
		if !final && len(l.rep.Problems) > 200 {
			l.bad("stopped after generation %d of %d: too many problems", c+1, cfg.Cycles+1)
			l.rep.Duration = time.Since(start)
			return l.rep, nil
		}
	}
	l.finish()
	l.rep.Duration = time.Since(start)
	return l.rep, nil
}

// child is a running child process.
type child struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *os.File
}

func (l *loop) startChild(gen, upTo int) (*child, error) {
	var ended []string
	for id, r := range l.rows {
		if r.Status.Ended() && r.Parent == "" {
			ended = append(ended, id)
		}
	}
	slices.Sort(ended)
	if err := os.WriteFile(l.skip, []byte(strings.Join(ended, "\n")), 0o644); err != nil {
		return nil, err
	}
	cmd := l.cfg.Command()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	if l.cfg.PowerCut != nil {
		cmd.Env = append(cmd.Env, EnvSync+"="+string(l.cfg.PowerCut.Synchronous))
	}
	cmd.Env = append(cmd.Env,
		EnvDB+"="+l.db, EnvCounter+"="+l.count, EnvSkip+"="+l.skip,
		EnvGen+"="+strconv.Itoa(gen), EnvUpTo+"="+strconv.Itoa(upTo),
		EnvStarters+"="+strconv.Itoa(l.cfg.Starters), EnvWorkers+"="+strconv.Itoa(l.cfg.Workers),
		EnvSeed+"="+strconv.FormatUint(l.rng.Uint64()>>2, 10), EnvExclude+"="+joinKinds(l.cfg.Exclude))
	if l.cfg.Faults {
		faults := "1"
		if gen == l.cfg.Cycles+1 {
			faults = "final"
		}
		cmd.Env = append(cmd.Env, EnvFaults+"="+faults)
	}
	errf, err := os.Create(filepath.Join(l.cfg.Dir, fmt.Sprintf("child-%04d.stderr", gen)))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = errf
	r, w, err := os.Pipe()
	if err != nil {
		errf.Close()
		return nil, err
	}
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		errf.Close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("torture: start child: %w", err)
	}
	w.Close()
	c := &child{cmd: cmd, lines: make(chan string, 1024), stderr: errf}
	go func() {
		defer close(c.lines)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c, nil
}

// stderrTail returns the end of a child's standard error.
func (l *loop) stderrTail(gen int) string {
	b, _ := os.ReadFile(filepath.Join(l.cfg.Dir, fmt.Sprintf("child-%04d.stderr", gen)))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// cycle runs one child: started, killed (unless final), checked.
func (l *loop) cycle(ctx context.Context, gen, upTo int, final bool) error {
	if l.cfg.PowerCut != nil {
		if err := l.mount(); err != nil {
			return err
		}
	}
	c, err := l.startChild(gen, upTo)
	if err != nil {
		l.unmount()
		return err
	}
	defer c.stderr.Close()
	l.rep.Cycles++
	began := time.Now()
	var lines []string
	var kill <-chan time.Time
	killAfter := 0                 // lines
	afterOpen := time.Duration(-1) // kill this long after "open"
	how := "exited"
	arm := func(d time.Duration) { kill = time.After(d) }
	if final {
		arm(l.cfg.FinalTimeout)
	} else {
		// Spread the kills over the child's life: during start-up and
		// recovery, right after an acknowledgement, or at any moment of
		// its work.
		todo := upTo * (len(Kinds) - len(l.cfg.Exclude)) / len(Kinds)
		for _, r := range l.rows {
			if r.Parent == "" && r.Status.Ended() {
				todo--
			}
		}
		switch mode := l.rng.IntN(10); {
		case mode < 2:
			d := time.Duration(l.rng.Int64N(int64(l.estOpen)*3/2 + 1))
			how = fmt.Sprintf("killed %v after start", d.Round(time.Millisecond))
			arm(d)
		case mode < 6:
			killAfter = 1 + l.rng.IntN(max(1, todo*13/6))
			how = fmt.Sprintf("killed after line %d", killAfter)
		default:
			afterOpen = time.Duration(l.rng.Int64N(int64(l.estWork) + 1))
			how = fmt.Sprintf("killed %v after open", afterOpen.Round(time.Millisecond))
		}
	}
	var opened, last time.Time
	killed := false
	doKill := func() {
		if !killed {
			killed = true
			_ = c.cmd.Process.Signal(syscall.SIGKILL)
		}
	}
read:
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				break read
			}
			last = time.Now()
			lines = append(lines, line)
			if line == "open" {
				opened = last
				if afterOpen >= 0 {
					arm(afterOpen)
				}
			}
			if killAfter > 0 && len(lines) >= killAfter && line != "open" {
				doKill()
			}
		case <-kill:
			kill = nil
			if final {
				l.bad("gen %d: the final child did not finish within %v", gen, l.cfg.FinalTimeout)
			}
			doKill()
		case <-ctx.Done():
			doKill()
			kill = nil
		}
	}
	waitErr := c.cmd.Wait()
	lifetime := time.Since(began)
	if !opened.IsZero() {
		l.estOpen = (l.estOpen*3 + opened.Sub(began)) / 4
		if !killed {
			l.estWork = (l.estWork*3 + last.Sub(opened)) / 4
		}
	}
	var ee *exec.ExitError
	signaled := errors.As(waitErr, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()
	switch {
	case signaled && killed:
		l.rep.Kills++
	case waitErr == nil:
		how = "exited 0"
		if !slices.Contains(lines, "alldone") {
			l.bad("gen %d: the child exited 0 without saying alldone", gen)
		}
	default:
		l.bad("gen %d: the child ended with %v\n%s", gen, waitErr, l.stderrTail(gen))
	}
	if final && waitErr != nil {
		l.bad("gen %d: the final child did not finish: %v\n%s", gen, waitErr, l.stderrTail(gen))
	}

	snap, err := l.snapshot(ctx, gen, final, l.db)
	if err != nil {
		l.unmount()
		return err
	}
	cutNote := ""
	if l.cfg.PowerCut != nil {
		// The process kill lost nothing: every acknowledgement is in the
		// journal the mount shows. Then the power cut, and the journal the
		// disk kept, which the rest of the cycle checks.
		l.checkAcks(gen, lines, snap, ackStrict)
		if snap, cutNote, err = l.powerCut(ctx, gen, final, lines, snap); err != nil {
			return err
		}
	}
	acks := l.checkAcks(gen, lines, snap, l.ackMode())
	execs, inflight, executing, err := l.checkExecutions(gen, snap.settled, !final)
	if err != nil {
		return err
	}
	l.adopt(snap)
	ended := 0
	for _, r := range l.rows {
		if r.Status.Ended() {
			ended++
		}
	}
	l.cfg.Logf("gen %d/%d: %s at %v; acks %s; %d runs, %d ended; %d executions, %d in flight at the kill (%d executing)%s",
		gen, l.cfg.Cycles+1, how, lifetime.Round(time.Millisecond), acks, len(l.rows), ended, execs, inflight, executing, cutNote)
	return nil
}

// snapshot is the journal a child left.
type snapshot struct {
	rows    map[string]history.RunInfo
	events  map[string][]history.Event // runs read (those not ended before)
	settled map[stepKey]bool
}

// snapshot reads a copy of the database the dead child left (at src),
// after an integrity check, and checks each journal that may have changed:
// it must extend the one before, and CheckJournal must find nothing wrong.
func (l *loop) snapshot(ctx context.Context, gen int, final bool, src string) (*snapshot, error) {
	dir := filepath.Join(l.cfg.Dir, "snapshot")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "chorus.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(src + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path+suffix, b, 0o644); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return &snapshot{rows: map[string]history.RunInfo{}, events: map[string][]history.Event{}, settled: l.settled}, nil
	}
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		l.bad("gen %d: the database the child left does not open: %v", gen, err)
		return nil, fmt.Errorf("torture: open snapshot: %w", err)
	}
	defer st.Close()
	if err := st.IntegrityCheck(ctx); err != nil {
		l.bad("gen %d: PRAGMA integrity_check: %v", gen, err)
	}
	infos, err := st.ListRuns(ctx, history.ListFilter{})
	if err != nil {
		return nil, fmt.Errorf("torture: list runs: %w", err)
	}
	s := &snapshot{rows: make(map[string]history.RunInfo, len(infos)), events: map[string][]history.Event{}, settled: map[stepKey]bool{}}
	for k, v := range l.settled {
		s.settled[k] = v
	}
	for _, info := range infos {
		s.rows[info.ID] = info
		prev, known := l.rows[info.ID]
		if known && prev.Status.Ended() && !final {
			if info.Status != prev.Status || info.LastSeq != prev.LastSeq || !bytes.Equal(info.Result, prev.Result) {
				l.bad("gen %d: run %s had ended (%s, %d events) and is now %s, %d events", gen, info.ID, Describe(prev), prev.LastSeq, Describe(info), info.LastSeq)
			}
			continue
		}
		evs, err := st.Events(ctx, info.ID, 0)
		if err != nil {
			l.bad("gen %d: run %s: read journal: %v", gen, info.ID, err)
			continue
		}
		s.events[info.ID] = evs
		if old, ok := l.events[info.ID]; ok {
			if len(evs) < len(old) || !sameEvents(old, evs[:len(old)]) {
				l.bad("gen %d: run %s: the journal is not an extension of the one before:\n  before %v\n  after  %v", gen, info.ID, old, evs)
			}
		}
		if info.LastSeq != int64(len(evs)) {
			l.bad("gen %d: run %s: the row says %d events, the journal holds %d", gen, info.ID, info.LastSeq, len(evs))
		}
		for _, p := range CheckJournal(info.ID, evs) {
			l.bad("gen %d: %s", gen, p)
		}
		sched := map[int64]bool{}
		for _, ev := range evs {
			switch ev.Type {
			case history.EventActivityScheduled:
				sched[ev.Seq] = true
			case history.EventActivityCompleted, history.EventActivityFailed:
				if sched[ev.Ref] {
					s.settled[stepKey{info.ID, ev.Ref}] = true
				}
			}
		}
	}
	for id := range l.rows {
		if _, ok := s.rows[id]; !ok {
			l.bad("gen %d: run %s is gone from the journal", gen, id)
		}
	}
	return s, nil
}

func sameEvents(a, b []history.Event) bool {
	return slices.EqualFunc(a, b, func(x, y history.Event) bool {
		return x.Seq == y.Seq && x.Type == y.Type && x.Name == y.Name && x.Ref == y.Ref &&
			bytes.Equal(x.Payload, y.Payload) && x.Time.Equal(y.Time)
	})
}

// How checkAcks treats an acknowledgement the journal lacks.
const (
	ackStrict = iota // a problem, and the acknowledgements are counted
	ackCount         // a problem
	ackLossOK        // lost to a power cut (synchronous=NORMAL): counted
)

// checkAcks checks every acknowledgement the child reported against the
// journal it left.
func (l *loop) checkAcks(gen int, lines []string, s *snapshot, mode int) string {
	var started, signaled, results int
	var lost []int // indexes in lines
	missing := func(i int, format string, args ...any) {
		if mode == ackLossOK {
			lost = append(lost, i)
			return
		}
		l.bad(format, args...)
	}
	for i, line := range lines {
		f := strings.SplitN(line, " ", 4)
		switch f[0] {
		case "open", "alldone":
		case "fault":
			l.rep.Faults++
		case "started":
			started++
			if _, ok := s.rows[f[1]]; !ok {
				missing(i, "gen %d: acknowledged start of %s is not in the journal", gen, f[1])
			}
		case "signaled":
			signaled++
			found := false
			for _, ev := range s.events[f[1]] {
				if ev.Type == history.EventSignalReceived && string(ev.Payload) == strconv.Quote(SignalValue(f[1])) {
					found = true
				}
			}
			if !found {
				missing(i, "gen %d: acknowledged signal to %s is not in the journal", gen, f[1])
			}
		case "result":
			results++
			if len(f) != 4 {
				l.bad("gen %d: bad line %q", gen, line)
				continue
			}
			row, ok := s.rows[f[1]]
			text, err := strconv.Unquote(f[3])
			switch {
			case err != nil:
				l.bad("gen %d: acknowledged result %q: bad quoting", gen, line)
			case !ok:
				missing(i, "gen %d: acknowledged result %q: run not in the journal", gen, line)
			case !row.Status.Ended():
				missing(i, "gen %d: acknowledged result of %s, but the journal has it %v", gen, f[1], row.Status)
			case f[2] == "ok" && Describe(row) != "completed "+text:
				l.bad("gen %d: acknowledged result of %s is %q, the journal says %s", gen, f[1], text, Describe(row))
			case f[2] == "err" && row.Status == history.StatusCompleted:
				l.bad("gen %d: acknowledged error of %s (%s), the journal says %s", gen, f[1], text, Describe(row))
			default:
				if err := CheckOutcome(row); err != nil {
					l.bad("gen %d: acknowledged outcome: %v", gen, err)
				}
			}
		default:
			l.bad("gen %d: unexpected line %q", gen, line)
		}
	}
	if mode != ackStrict {
		l.noteLost(gen, lines, lost)
	}
	if mode == ackCount {
		return fmt.Sprintf("all %d acknowledgements in the journal after the cut", started+signaled+results)
	}
	if mode == ackLossOK {
		return fmt.Sprintf("%d of %d acknowledgements lost to the cut", len(lost), started+signaled+results)
	}
	l.rep.Started += started
	l.rep.Signaled += signaled
	l.rep.Results += results
	return fmt.Sprintf("+%d started, +%d signaled, +%d results", started, signaled, results)
}

// checkExecutions reads the counter lines of generation gen and checks
// them: an activity step runs at most once per process (the workload's
// activities never fail and retry), never in a process that started after
// its outcome was journaled, and every step that ran without its outcome
// reaching the journal counts as in flight at the kill.
func (l *loop) checkExecutions(gen int, settledAfter map[stepKey]bool, killed bool) (execs, inflight, executing int, err error) {
	f, err := os.Open(l.count)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, 0, nil
	}
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	if _, err := f.Seek(l.offset, io.SeekStart); err != nil {
		return 0, 0, 0, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, 0, 0, err
	}
	// Only whole lines: a write cut by the kill would have been one
	// write(2), so there is none, but be safe.
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	l.offset += int64(len(b))
	begun := map[stepKey]int{}
	endedKeys := map[stepKey]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 6 {
			l.bad("gen %d: bad counter line %q", gen, line)
			continue
		}
		g, _ := strconv.Atoi(fs[1])
		step, _ := strconv.ParseInt(fs[3], 10, 64)
		k := stepKey{fs[2], step}
		if g != gen {
			l.bad("gen %d: counter line of generation %d: %q", gen, g, line)
		}
		switch fs[0] {
		case "B":
			begun[k]++
			execs++
			if l.settled[k] {
				l.bad("gen %d: activity %s step %d of %s ran again, although its outcome was journaled before this process started", gen, fs[4], step, k.run)
			}
			if fs[5] != "1" {
				l.bad("gen %d: activity %s step %d of %s ran as attempt %s; it never fails, so every attempt is the first", gen, fs[4], step, k.run, fs[5])
			}
		case "E":
			endedKeys[k] = true
		}
	}
	for k, n := range begun {
		l.execs[k] += n
		if n > 1 {
			l.bad("gen %d: step %d of %s ran %d times in one process", gen, k.step, k.run, n)
		}
		if !settledAfter[k] {
			if !killed {
				l.bad("gen %d: step %d of %s ran, yet the finished process left no outcome for it", gen, k.step, k.run)
				continue
			}
			inflight++
			l.inflights[k]++
			if !endedKeys[k] {
				executing++
			}
		}
	}
	l.rep.Executions += execs
	l.rep.InFlight += inflight
	l.rep.MaxInFlight = max(l.rep.MaxInFlight, inflight)
	l.rep.MaxExecuting = max(l.rep.MaxExecuting, executing)
	if executing > l.cfg.Workers {
		l.bad("gen %d: %d activities were executing at the kill; only %d workers", gen, executing, l.cfg.Workers)
	}
	return execs, inflight, executing, nil
}

// adopt makes a checked snapshot the state to compare the next one with.
func (l *loop) adopt(s *snapshot) {
	l.rows = s.rows
	for id, evs := range s.events {
		if s.rows[id].Status.Ended() {
			delete(l.events, id)
			continue
		}
		l.events[id] = evs
	}
	l.settled = s.settled
	l.lastEvents = s.events
}

// finish checks the final journal: every run of the workload and every
// child ended as it must, and no step ran more often than one execution
// plus one per kill that found it in flight.
func (l *loop) finish() {
	l.rep.Runs = len(l.rows)
	for i := range l.cfg.Workflows {
		id := RunID(i)
		if _, ok := l.rows[id]; !ok && !slices.Contains(l.cfg.Exclude, Kinds[i%len(Kinds)]) {
			l.bad("final: run %s was never started", id)
		}
	}
	for id, row := range l.rows {
		evs, ok := l.lastEvents[id]
		if !ok {
			l.bad("final: run %s: journal not read", id)
			continue
		}
		for _, p := range CheckFinal(row, evs) {
			l.bad("final: %s", p)
		}
	}
	for k := range l.settled {
		n := l.execs[k]
		switch {
		case n == 0:
			l.bad("final: step %d of %s has an outcome but never ran", k.step, k.run)
		case n > 1+l.inflights[k]:
			l.bad("final: step %d of %s ran %d times, but was in flight at only %d kills", k.step, k.run, n, l.inflights[k])
		}
	}
	for k, n := range l.execs {
		if !l.settled[k] {
			l.bad("final: step %d of %s ran %d times and has no outcome in the final journal", k.step, k.run, n)
		}
	}
	l.rep.Steps = len(l.settled)
	l.rep.Reexecuted = l.rep.Executions - l.rep.Steps
	if l.rep.Reexecuted > l.rep.InFlight {
		l.bad("final: %d executions beyond one per step, but only %d activities were in flight at the kills", l.rep.Reexecuted, l.rep.InFlight)
	}
}

func joinKinds(ks []Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

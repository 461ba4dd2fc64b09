package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// params are the sizes of the workloads; the parent passes them to every
// child process.
type params struct {
	Short bool

	W1Concurrent int           // concurrent runs of the 3-activity workflow
	W1Warmup     int           // runs done first, not measured
	W1Cap        time.Duration // count only the runs done by then
	W2Samples    int           // sequential Start→Result samples
	W2Min        int           // at least this many, whatever the cap
	W2Cap        time.Duration // stop sampling after this long
	W3Fan        int           // activities per fan-out
	W3Reps       int           // fan-outs measured
	W3Min        int
	W3Cap        time.Duration
	W4N          int // runs parked on a signal
	W4Conc       int // goroutines starting and waking them
	W4ParkCap    time.Duration
	W4WakeCap    time.Duration
	W5Activities int // activities of the history run: 2 events each
	W6N          int // in-flight runs in the reopened database
	W6BuildCap   time.Duration
	W8Single     int           // starts measured with one starter
	W8Starts     int           // starts measured with 16 and with 64 starters
	W8Cap        time.Duration // per concurrency level
	SQLDur       time.Duration // per raw-SQLite measurement
}

func defaultParams(short bool) params {
	if short {
		return params{Short: true,
			W1Concurrent: 100, W1Warmup: 5, W1Cap: 5 * time.Second,
			W2Samples: 20, W2Min: 3, W2Cap: time.Second,
			W3Fan: 100, W3Reps: 3, W3Min: 1, W3Cap: time.Second,
			W4N: 500, W4Conc: 100, W4ParkCap: 2 * time.Second, W4WakeCap: 2 * time.Second,
			W5Activities: 100,
			W6N:          500, W6BuildCap: 2 * time.Second,
			W8Single: 50, W8Starts: 256, W8Cap: 2 * time.Second,
			SQLDur: 200 * time.Millisecond,
		}
	}
	return params{
		W1Concurrent: 2000, W1Warmup: 50, W1Cap: 45 * time.Second,
		W2Samples: 400, W2Min: 10, W2Cap: 8 * time.Second,
		W3Fan: 100, W3Reps: 20, W3Min: 3, W3Cap: 8 * time.Second,
		W4N: 100_000, W4Conc: 1000, W4ParkCap: 15 * time.Second, W4WakeCap: 20 * time.Second,
		W5Activities: 5000,
		W6N:          100_000, W6BuildCap: 15 * time.Second,
		W8Single: 400, W8Starts: 4000, W8Cap: 10 * time.Second,
		SQLDur: 1500 * time.Millisecond,
	}
}

// result is what a child process reports, as one JSON line on stdout.
type result struct {
	Metrics map[string]float64 `json:"metrics"`
	Notes   []string           `json:"notes,omitempty"`
	NA      string             `json:"na,omitempty"`
	Capped  bool               `json:"capped,omitempty"` // a time cap cut the workload short
	Err     string             `json:"err,omitempty"`
}

func (r *result) set(k string, v float64) {
	if r.Metrics == nil {
		r.Metrics = map[string]float64{}
	}
	r.Metrics[k] = v
}

func (r *result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

const pollEvery = 5 * time.Millisecond

// uncapped is the cap of Chorus's workloads.
const uncapped = 3 * time.Minute

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pool runs fn(i) for i in [0, n) on conc goroutines, stopping early (but
// finishing the calls already begun) at deadline. It returns how many calls
// ran and the first error.
func pool(n, conc int, deadline time.Time, fn func(i int) error) (int, error) {
	var next, done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return int(done.Load()), firstErr
}

func pct(xs []time.Duration, p float64) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s)-1)*p + 0.5)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runChild executes one workload on one engine in this process.
func runChild(ctx context.Context, work, engineKey, db string, p params) (res result) {
	e, ok := engineByKey(engineKey)
	if !ok && work != "sql" {
		res.Err = "unknown engine " + engineKey
		return res
	}
	if e.PG && work != "w1" && work != "w2" && work != "w3" {
		res.NA = "the PostgreSQL columns measure W1 to W3"
		return res
	}
	if e.Family == "chorus" || e.Key == "chorus-pg" {
		// Chorus is the engine under test: it must run the workloads at
		// their full sizes, so its caps only guard against a hang.
		p.W1Cap, p.W4ParkCap, p.W4WakeCap, p.W6BuildCap, p.W8Cap = uncapped, uncapped, uncapped, uncapped, uncapped
	}
	defer func() {
		if r := recover(); r != nil {
			res.Err = fmt.Sprintf("panic: %v", r)
		}
	}()
	var err error
	switch work {
	case "sql":
		err = rawSQLite(ctx, db, p, &res)
	case "w1":
		err = w1(ctx, e.New(), db, p, &res)
	case "w2":
		err = w2(ctx, e.New(), db, p, &res)
	case "w3":
		err = w3(ctx, e.New(), db, p, &res)
	case "w4":
		err = w4(ctx, e.New(), db, p, &res)
	case "w5build":
		err = w5build(ctx, e.New(), db, p, &res)
	case "w5":
		err = w5(ctx, e.New(), db, p, &res)
	case "w5query":
		err = w5query(ctx, e.New(), db, p, &res)
	case "w6build":
		err = w6build(ctx, e.New(), db, p, &res)
	case "w6":
		err = w6(ctx, e.New(), db, p, &res)
	case "w7":
		err = w7(ctx, e.New(), db, p, &res)
	case "w8":
		err = w8(ctx, e.New(), db, p, &res)
	default:
		err = fmt.Errorf("unknown workload %q", work)
	}
	if errors.Is(err, errNA) {
		res.NA = err.Error()
	} else if err != nil {
		res.Err = err.Error()
	}
	return res
}

// W1: 2,000 concurrent runs of a 3-activity workflow; workflows/s. An
// engine that needs more than W1Cap is measured by the runs it completed
// within W1Cap.
func w1(ctx context.Context, d driver, db string, p params, res *result) error {
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		firstErr error
		done     atomic.Int64
	)
	batch := func(prefix string, n int, capDur time.Duration) (time.Duration, bool) {
		t0 := time.Now()
		var wg sync.WaitGroup
		for j := range n {
			wg.Go(func() {
				wait, err := d.StartThree(ctx, fmt.Sprintf("%s-%d", prefix, j), j)
				if err == nil {
					err = wait()
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				done.Add(1)
			})
		}
		all := make(chan struct{})
		go func() { wg.Wait(); close(all) }()
		select {
		case <-all:
			return time.Since(t0), true
		case <-time.After(capDur):
			return time.Since(t0), false
		}
	}
	if _, ok := batch("warm", p.W1Warmup, p.W1Cap); !ok {
		return fmt.Errorf("the %d warm-up runs did not end within %v", p.W1Warmup, p.W1Cap)
	}
	if firstErr != nil {
		return firstErr
	}
	done.Store(0)
	el, all := batch("w1", p.W1Concurrent, p.W1Cap)
	n := done.Load()
	mu.Lock()
	err := firstErr
	mu.Unlock()
	if err != nil {
		return err
	}
	if !all {
		res.Capped = true
		res.note("W1: %s of %s runs completed within the %v cap; throughput counts those", commas(n), commas(int64(p.W1Concurrent)), p.W1Cap)
	}
	res.set("w1_wfps", float64(n)/el.Seconds())
	res.set("w1_rss", hwmMB())
	if all {
		return d.Close(ctx)
	}
	d.Abandon()
	return nil
}

// W2: one run at a time, Start to Result; p50 and p99.
func w2(ctx context.Context, d driver, db string, p params, res *result) error {
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	defer d.Close(ctx)
	one := func(id string, i int) (time.Duration, error) {
		t0 := time.Now()
		wait, err := d.StartThree(ctx, id, i)
		if err == nil {
			err = wait()
		}
		return time.Since(t0), err
	}
	for i := range 3 {
		if _, err := one(fmt.Sprintf("warm-%d", i), i); err != nil {
			return err
		}
	}
	var lat []time.Duration
	deadline := time.Now().Add(p.W2Cap)
	for i := 0; i < p.W2Samples && (len(lat) < p.W2Min || time.Now().Before(deadline)); i++ {
		l, err := one(fmt.Sprintf("w2-%d", i), i)
		if err != nil {
			return err
		}
		lat = append(lat, l)
	}
	res.set("w2_p50", ms(pct(lat, 0.50)))
	res.set("w2_p99", ms(pct(lat, 0.99)))
	res.set("w2_n", float64(len(lat)))
	return nil
}

// W3: one workflow fanning out 100 activities; median time to its result.
func w3(ctx context.Context, d driver, db string, p params, res *result) error {
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	defer d.Close(ctx)
	if err := d.FanOut(ctx, "warm", p.W3Fan); err != nil {
		return err
	}
	var lat []time.Duration
	deadline := time.Now().Add(p.W3Cap)
	for i := 0; i < p.W3Reps && (len(lat) < p.W3Min || time.Now().Before(deadline)); i++ {
		t0 := time.Now()
		if err := d.FanOut(ctx, fmt.Sprintf("w3-%d", i), p.W3Fan); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	res.set("w3_ms", ms(pct(lat, 0.5)))
	res.set("w3_n", float64(len(lat)))
	return nil
}

// park starts up to n parked runs on conc goroutines until capDur has
// passed, then waits (at most capDur again) until they are parked. It
// returns how many are parked, and how long it took.
func park(ctx context.Context, d driver, n, conc int, capDur time.Duration, res *result, prefix string) (int, time.Duration, error) {
	t0 := time.Now()
	started, err := pool(n, conc, t0.Add(capDur), func(i int) error {
		return d.StartParked(ctx, fmt.Sprintf("p-%d", i))
	})
	if err != nil {
		return 0, 0, err
	}
	parked, err := d.WaitParked(ctx, started, time.Now().Add(capDur))
	if err != nil {
		return 0, 0, err
	}
	el := time.Since(t0)
	if started < n || parked < started {
		res.Capped = true
	}
	if started < n {
		res.note("%s: only %s of %s runs started within the %v cap", prefix, commas(int64(started)), commas(int64(n)), capDur)
	}
	if parked < started {
		res.note("%s: %s of the %s started runs were not parked %v later (counted: the parked ones)",
			prefix, commas(int64(started-parked)), commas(int64(started)), capDur)
	}
	return parked, el, nil
}

// W4: N runs parked on a signal; peak RSS; then wake every one and wait for
// its result: runs/s.
func w4(ctx context.Context, d driver, db string, p params, res *result) error {
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	base := statusMB("VmRSS")
	n, el, err := park(ctx, d, p.W4N, p.W4Conc, p.W4ParkCap, res, "W4")
	if err != nil {
		return err
	}
	res.set("w4_n", float64(n))
	res.set("w4_park_rate", float64(n)/el.Seconds())
	res.set("w4_rss", hwmMB())
	if n > 0 {
		res.set("w4_kb_per_run", (statusMB("VmRSS")-base)*1024/float64(n))
	}
	t0 := time.Now()
	woken, err := pool(n, p.W4Conc, t0.Add(p.W4WakeCap), func(i int) error {
		return d.Wake(ctx, fmt.Sprintf("p-%d", i))
	})
	if err != nil {
		return err
	}
	wel := time.Since(t0)
	if woken < n {
		res.Capped = true
		res.note("W4: only %s of %s runs woken within the %v cap", commas(int64(woken)), commas(int64(n)), p.W4WakeCap)
	}
	res.set("w4_wake_rate", float64(woken)/wel.Seconds())
	res.set("w4_rss_end", hwmMB())
	d.Abandon()
	return nil
}

const historyRun = "history-run"

// w5build makes the database W5 reopens: one run that ran
// W5Activities activities and waits for a signal.
func w5build(ctx context.Context, d driver, db string, p params, res *result) error {
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	t0 := time.Now()
	events, err := d.BuildHistory(ctx, historyRun, p.W5Activities)
	if err != nil {
		return err
	}
	res.set("w5_events", float64(events))
	res.set("w5_build_s", time.Since(t0).Seconds())
	return closeOrAbandon(ctx, d)
}

// closeOrAbandon closes the engine, except DBOS, whose shutdown would end
// the parked runs: the process then exits as if killed.
func closeOrAbandon(ctx context.Context, d driver) error {
	if _, ok := d.(*dbosDriver); ok {
		d.Abandon()
		return nil
	}
	return d.Close(ctx)
}

// W5: reopen the database and wake the history run: the engine rebuilds it
// from its journal. Timed from the start of Open to the run's result.
func w5(ctx context.Context, d driver, db string, p params, res *result) error {
	t0 := time.Now()
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	open := time.Since(t0)
	if err := d.WakeHistory(ctx, historyRun); err != nil {
		return err
	}
	res.set("w5_ms", ms(time.Since(t0)))
	res.set("w5_open_ms", ms(open))
	res.set("w5_rss", hwmMB())
	d.Abandon()
	return nil
}

// W5 (Chorus): reopen, then time the first Query, which rebuilds the run by
// replaying its journal; then replay.Run on its exported history.
func w5query(ctx context.Context, d driver, db string, p params, res *result) error {
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	t0 := time.Now()
	if err := d.Query(ctx, historyRun); err != nil {
		return err
	}
	res.set("w5_query_ms", ms(time.Since(t0)))
	rd, err := d.ReplayExport(ctx, historyRun)
	if err != nil {
		return err
	}
	res.set("w5_replay_ms", ms(rd))
	return d.Close(ctx)
}

// w6build makes the database W6 reopens: W6N runs parked on a signal,
// started through the engine itself.
func w6build(ctx context.Context, d driver, db string, p params, res *result) error {
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	n, el, err := park(ctx, d, p.W6N, p.W4Conc, p.W6BuildCap, res, "W6")
	if err != nil {
		return err
	}
	res.set("w6_n", float64(n))
	res.set("w6_build_rate", float64(n)/el.Seconds())
	return closeOrAbandon(ctx, d)
}

// W6: reopen a database holding W6N in-flight runs; time from the start of
// Open (and registration) until the Start of a new run returns.
func w6(ctx context.Context, d driver, db string, p params, res *result) error {
	t0 := time.Now()
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	open := time.Since(t0)
	if _, err := d.StartThree(ctx, "after-reopen", 1); err != nil {
		return err
	}
	res.set("w6_s", time.Since(t0).Seconds())
	res.set("w6_open_s", open.Seconds())
	res.set("w6_rss", hwmMB())
	d.Abandon()
	return nil
}

// hwmMB is this process's peak resident set size so far (VmHWM), in MB.
func hwmMB() float64 { return statusMB("VmHWM") }

// statusMB reads a kB field of /proc/self/status, in MB.
func statusMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	var kb float64
	for _, line := range splitLines(string(b)) {
		if _, err := fmt.Sscanf(line, field+": %f kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return -1
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

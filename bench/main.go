// Command bench runs the same workloads on Chorus, go-workflows and DBOS
// Transact, each on its SQLite journal, in one run, interleaved over several
// rounds, and prints the medians side by side with the raw SQLite ceilings.
//
//	cd bench && go run . -short          # a quick look
//	cd bench && go run .                 # the full run (the published numbers)
//	go run . -only w1,w2 -engines chorus,gow -rounds 5
//
// Every measurement runs in a child process (this binary re-executed with
// -child) so that its peak RSS (VmHWM) is its own. See README.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

const resultPrefix = "BENCHRESULT "

func main() {
	short := flag.Bool("short", false, "quick look: small N, one round, a few seconds per engine")
	only := flag.String("only", "", "comma-separated workloads to run: w1,…,w8,sql (default all)")
	defEngines := "chorus,gow,dbos,sqlite"
	if os.Getenv(postgresEnv) != "" {
		defEngines += ",pg"
	}
	engines := flag.String("engines", defEngines, "comma-separated engines: chorus, gow, dbos, sqlite (raw ceilings), pg (Chorus and DBOS on the PostgreSQL server of $"+postgresEnv+", W1-W3; the default when it is set), or a configuration: "+engineKeys())
	rounds := flag.Int("rounds", 0, "rounds of every workload (default 3, or 1 with -short)")
	heavyRounds := flag.Int("w4-rounds", 2, "rounds of W4 (100,000 parked runs per engine), at most -rounds")
	keep := flag.Bool("keep", false, "keep the work directory (databases, profiles)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of every child process into this directory")
	jsonOut := flag.String("json", "", "also write every per-round result to this JSON file")
	replot := flag.String("replot", "", "print the tables of a JSON file written by -json, without measuring")
	// Internal: the re-executed child process.
	child := flag.String("child", "", "internal: run one workload in this process")
	engine := flag.String("engine", "", "internal: the child's engine")
	db := flag.String("db", "", "internal: the child's database path")
	pjson := flag.String("params", "", "internal: the child's parameters")
	procs := flag.String("processes", "", "also measure W1 of Chorus PG with this many engine processes sharing one database (shared mode), e.g. 1,2,4; each process runs W1's batch and the throughput is their sum over the longest")
	flag.Parse()

	if *child == sharedChildMode {
		os.Exit(sharedChild(*db, *pjson))
	}
	if *child != "" {
		os.Exit(childMain(*child, *engine, *db, *pjson, *cpuprofile))
	}
	if *replot != "" {
		if err := replotJSON(*replot); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	var err error
	if processCounts, err = parseProcesses(*procs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := parent(*short, *only, *engines, *rounds, *heavyRounds, *keep, *cpuprofile, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func childMain(work, engine, db, pjson, profDir string) int {
	var p params
	if err := json.Unmarshal([]byte(pjson), &p); err != nil {
		fmt.Fprintln(os.Stderr, "bench child: bad -params:", err)
		return 2
	}
	if profDir != "" {
		f, err := os.Create(filepath.Join(profDir, fmt.Sprintf("%s-%s-%d.prof", engine, work, time.Now().UnixNano())))
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
		}
	}
	res := runChild(context.Background(), work, engine, db, p)
	b, _ := json.Marshal(res)
	fmt.Println(resultPrefix + string(b))
	return 0
}

// runner re-executes this binary for each measurement.
type runner struct {
	exe     string
	dir     string
	p       params
	profDir string
	log     io.Writer
}

func (r *runner) run(work, engine, db string, timeout time.Duration) result {
	pj, _ := json.Marshal(r.p)
	args := []string{"-child", work, "-engine", engine, "-db", db, "-params", string(pj)}
	if r.profDir != "" {
		args = append(args, "-cpuprofile", r.profDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	var res result
	found := false
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), resultPrefix); ok {
			if jerr := json.Unmarshal([]byte(line), &res); jerr == nil {
				found = true
			}
		}
	}
	if !found {
		msg := "child produced no result"
		if ctx.Err() != nil {
			msg = fmt.Sprintf("timed out after %v", timeout)
		} else if err != nil {
			msg = err.Error()
		}
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > 400 {
			tail = "…" + tail[len(tail)-400:]
		}
		if tail != "" {
			msg += ": " + tail
		}
		res.Err = msg
	}
	return res
}

var allWorkloads = []string{"w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"}

func parent(short bool, only, engines string, rounds, heavyRounds int, keep bool, profDir, jsonOut string) error {
	engs, raw, err := selectEngines(engines)
	if err != nil {
		return err
	}
	works := allWorkloads
	doSQL := raw
	if only != "" {
		works = nil
		doSQL = false
		for _, w := range strings.Split(only, ",") {
			w = strings.ToLower(strings.TrimSpace(w))
			switch {
			case w == "sql":
				doSQL = raw
			case slices.Contains(allWorkloads, w):
				works = append(works, w)
			case w == "":
			default:
				return fmt.Errorf("unknown workload %q (want w1..w8 or sql)", w)
			}
		}
	}
	if rounds <= 0 {
		rounds = 3
		if short {
			rounds = 1
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "chorus-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	if profDir != "" {
		if profDir, err = filepath.Abs(profDir); err != nil {
			return err
		}
		if err := os.MkdirAll(profDir, 0o755); err != nil {
			return err
		}
	}
	p := defaultParams(short)
	r := &runner{exe: exe, dir: dir, p: p, profDir: profDir, log: os.Stderr}
	tab := newTable(engs)
	mode := "full"
	if short {
		mode = "short"
	}
	start := time.Now()
	fmt.Fprintf(os.Stderr, "bench: %s mode, %d round(s), engines %s, workloads %s, work dir %s\n",
		mode, rounds, keysOf(engs), strings.Join(works, ","), dir)

	to := timeouts(p)
	logRes := func(round int, work, engine string, res result, took time.Duration) {
		status := formatMetrics(res)
		fmt.Fprintf(os.Stderr, "  [round %d] %-8s %-13s %6.1fs  %s\n", round, work, engine, took.Seconds(), status)
	}

	// One-time setup: the databases that W5 and W6 reopen, built by each
	// engine itself.
	built := map[string]string{}
	for _, w := range []string{"w5", "w6"} {
		if !slices.Contains(works, w) {
			continue
		}
		for _, e := range engs {
			path := filepath.Join(dir, e.Key+"-"+w+"-setup.db")
			t0 := time.Now()
			res := r.run(w+"build", e.Key, path, to[w+"build"])
			logRes(0, w+"build", e.Key, res, time.Since(t0))
			tab.add(w, e.Key, res)
			if res.Err == "" && res.NA == "" {
				built[w+"/"+e.Key] = path
			}
		}
	}

	failed := map[string]bool{}
	for round := 1; round <= rounds; round++ {
		if doSQL {
			sd := filepath.Join(dir, fmt.Sprintf("sql-%d", round))
			_ = os.MkdirAll(sd, 0o755)
			t0 := time.Now()
			res := r.run("sql", "", sd, to["sql"])
			logRes(round, "sql", "sqlite", res, time.Since(t0))
			tab.addSQL(res)
			_ = os.RemoveAll(sd)
		}
		for wi, w := range works {
			if w == "w4" && round > heavyRounds {
				continue
			}
			// Rotate the engine order every round and workload, so that no
			// engine always runs first (or right after the heaviest one).
			order := slices.Clone(engs)
			if n := len(order); n > 0 {
				k := (round - 1 + wi) % n
				order = append(order[k:], order[:k]...)
			}
			for _, e := range order {
				if failed[w+"/"+e.Key] {
					continue
				}
				subs := []string{w}
				if w == "w5" && e.Family == "chorus" {
					subs = append(subs, "w5query")
				}
				for _, sub := range subs {
					path := filepath.Join(dir, fmt.Sprintf("%s-%s-r%d.db", e.Key, sub, round))
					if w == "w5" || w == "w6" {
						src, ok := built[w+"/"+e.Key]
						if !ok {
							continue
						}
						if err := copyDB(src, path); err != nil {
							return err
						}
					}
					t0 := time.Now()
					res := r.run(sub, e.Key, path, to[sub])
					logRes(round, sub, e.Key, res, time.Since(t0))
					tab.add(w, e.Key, res)
					removeDB(path)
					if res.Err != "" || res.NA != "" {
						failed[w+"/"+e.Key] = true
					}
					if sub == "w1" && e.Key == "chorus-pg" {
						for _, n := range processCounts {
							t0 := time.Now()
							res := r.runProcesses(n, to["w1"]+time.Minute)
							logRes(round, fmt.Sprintf("w1 x%d", n), e.Key, res, time.Since(t0))
							tab.add(w, e.Key, res)
						}
					}
					if res.Capped && sub != "w6" {
						// Cut short by a time cap: the engine is far from
						// the target, and more rounds would only repeat the
						// cap. Measure it once.
						failed[w+"/"+e.Key] = true
						tab.addNote(e.Key, fmt.Sprintf("%s hit a time cap in round %d and was not repeated", strings.ToUpper(w), round))
					}
				}
			}
		}
	}
	fmt.Fprintf(os.Stderr, "bench: done in %v\n\n", time.Since(start).Round(time.Second))
	tab.Mode, tab.Rounds, tab.W4Rounds, tab.Params = mode, rounds, min(rounds, heavyRounds), p
	tab.print(os.Stdout)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(tab, "", "  ")
		if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func timeouts(p params) map[string]time.Duration {
	if p.Short {
		return map[string]time.Duration{
			"sql": time.Minute, "w1": time.Minute, "w2": time.Minute, "w3": time.Minute, "w4": 2 * time.Minute,
			"w5build": 2 * time.Minute, "w5": time.Minute, "w5query": time.Minute,
			"w6build": 2 * time.Minute, "w6": time.Minute, "w7": 2 * time.Minute, "w8": time.Minute,
		}
	}
	return map[string]time.Duration{
		"sql": 2 * time.Minute, "w1": 4 * time.Minute, "w2": 2 * time.Minute, "w3": 2 * time.Minute,
		"w4":      3*uncapped + 2*time.Minute,
		"w5build": 5 * time.Minute, "w5": 2 * time.Minute, "w5query": 2 * time.Minute,
		"w6build": 2*uncapped + 2*time.Minute, "w6": 2 * time.Minute,
		"w7": 2*uncapped + 2*time.Minute, "w8": 3*uncapped + time.Minute,
	}
}

func keysOf(es []engineInfo) string {
	var ks []string
	for _, e := range es {
		ks = append(ks, e.Key)
	}
	return strings.Join(ks, ",")
}

func formatMetrics(res result) string {
	if res.Err != "" {
		return "ERROR " + res.Err
	}
	if res.NA != "" {
		return "n/a: " + res.NA
	}
	var ks []string
	for k := range res.Metrics {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s=%.4g", k, res.Metrics[k]))
	}
	s := strings.Join(parts, " ")
	for _, n := range res.Notes {
		s += " [" + n + "]"
	}
	return s
}

func copyDB(src, dst string) error {
	for _, suf := range []string{"", "-wal", "-shm", ".meta"} {
		in, err := os.Open(src + suf)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		out, err := os.Create(dst + suf)
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func removeDB(path string) {
	for _, suf := range []string{"", "-wal", "-shm", "-journal", ".meta"} {
		_ = os.Remove(path + suf)
	}
}

// replotJSON prints the tables of a saved run.
func replotJSON(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var t table
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	for _, k := range t.Engines {
		e, ok := engineByKey(k)
		if !ok {
			return fmt.Errorf("%s: unknown engine %q", path, k)
		}
		t.engs = append(t.engs, e)
	}
	if t.Mode == "" { // written before these fields existed: a full run
		t.Mode, t.Rounds, t.W4Rounds, t.Params = "full", 3, 2, defaultParams(false)
	}
	t.print(os.Stdout)
	return nil
}

// machine describes where the numbers were taken.
func machine() string {
	return fmt.Sprintf("%s/%s, GOMAXPROCS=%d, %s", runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.Version())
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history/postgres"
)

// W1 on several engine processes sharing one PostgreSQL database
// (postgres.Options{Shared: true}): the -processes flag. For each count N
// the parent creates one fresh database and starts N child processes;
// each opens a shared store and an engine, does the warm-up, and says
// READY; once all are ready the parent tells them all to go, and each
// runs W1's batch (W1Concurrent concurrent runs of the 3-activity
// workflow) and reports how many runs completed and how long its batch
// took. The throughput is every run of every process over the longest
// batch: the wall time of the whole.

// processCounts is the -processes flag: the process counts to measure.
var processCounts []int

// sharedChildMode is the -child value of a process of the measurement.
const sharedChildMode = "w1shared"

// envNode gives each child of the measurement its index.
const envNode = "CHORUS_BENCH_NODE"

// parseProcesses parses the -processes flag.
func parseProcesses(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n != 1 && n != 2 && n != 4 && n != 8 {
			return nil, fmt.Errorf("-processes: %q is not one of the counts the table has rows for (1, 2, 4, 8)", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// processMetric is the metric of W1 on n processes.
func processMetric(n int) string { return fmt.Sprintf("w1_p%d_wfps", n) }

// runProcesses measures W1 on n engine processes sharing one database.
func (r *runner) runProcesses(n int, timeout time.Duration) (res result) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	db, err := createFreshDB(ctx)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer func() {
		if err := db.drop(context.Background()); err != nil && res.Err == "" {
			res.Err = "drop the database: " + err.Error()
		}
	}()
	b, _ := json.Marshal(r.p)
	pj := string(b)
	type proc struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		lines  chan string
		stderr strings.Builder
	}
	procs := make([]*proc, n)
	defer func() {
		for _, p := range procs {
			if p != nil && p.cmd.Process != nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
	}()
	for i := range procs {
		cmd := exec.CommandContext(ctx, r.exe, "-child", sharedChildMode, "-engine", "chorus-pg", "-db", db.URL, "-params", pj)
		cmd.Env = append(os.Environ(), envNode+"="+strconv.Itoa(i))
		p := &proc{cmd: cmd, lines: make(chan string, 16)}
		cmd.Stderr = &p.stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			res.Err = err.Error()
			return res
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			res.Err = err.Error()
			return res
		}
		p.stdin = stdin
		if err := cmd.Start(); err != nil {
			res.Err = err.Error()
			return res
		}
		procs[i] = p
		go func() {
			defer close(p.lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				p.lines <- sc.Text()
			}
		}()
	}
	next := func(i int, want string) (string, error) {
		p := procs[i]
		select {
		case line, ok := <-p.lines:
			if !ok {
				return "", fmt.Errorf("process %d of %d ended before %s: %s", i+1, n, want, tail(p.stderr.String()))
			}
			if !strings.HasPrefix(line, want) {
				return "", fmt.Errorf("process %d of %d said %q, want %s: %s", i+1, n, line, want, tail(p.stderr.String()))
			}
			return line, nil
		case <-ctx.Done():
			return "", fmt.Errorf("process %d of %d: timed out after %v waiting for %s", i+1, n, timeout, want)
		}
	}
	for i := range procs {
		if _, err := next(i, "READY"); err != nil {
			res.Err = err.Error()
			return res
		}
	}
	for _, p := range procs {
		if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
			res.Err = err.Error()
			return res
		}
	}
	var runs int64
	var longest time.Duration
	for i := range procs {
		line, err := next(i, "DONE")
		if err != nil {
			res.Err = err.Error()
			return res
		}
		var done int64
		var ns int64
		if _, err := fmt.Sscanf(line, "DONE %d %d", &done, &ns); err != nil {
			res.Err = fmt.Sprintf("process %d of %d: %q: %v", i+1, n, line, err)
			return res
		}
		runs += done
		longest = max(longest, time.Duration(ns))
	}
	for _, p := range procs {
		_ = p.stdin.Close()
		if err := p.cmd.Wait(); err != nil {
			res.Err = fmt.Sprintf("a process of %d: %v: %s", n, err, tail(p.stderr.String()))
			return res
		}
		p.cmd.Process = nil
	}
	res.set(processMetric(n), float64(runs)/longest.Seconds())
	return res
}

// sharedChild is one process of the measurement: see the comment at the
// top of the file.
func sharedChild(url, pjson string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bench shared child:", err)
		return 1
	}
	var p params
	if err := json.Unmarshal([]byte(pjson), &p); err != nil {
		return fail(err)
	}
	node := os.Getenv(envNode)
	ctx := context.Background()
	st, err := postgres.Open(ctx, url, &postgres.Options{Shared: true, Owner: "bench-" + node})
	if err != nil {
		return fail(err)
	}
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{})
	if err != nil {
		return fail(errors.Join(err, st.Close()))
	}
	if err := eng.Register(cThree, cStep); err != nil {
		return fail(errors.Join(err, eng.Close(ctx)))
	}
	batch := func(prefix string, count int) (int64, error) {
		var wg sync.WaitGroup
		var done atomic.Int64
		var mu sync.Mutex
		var first error
		for j := range count {
			wg.Go(func() {
				run, err := chorus.Start(ctx, eng, cThree, j, &chorus.StartOptions{ID: fmt.Sprintf("n%s-%s-%d", node, prefix, j)})
				if err == nil {
					var got int
					if got, err = run.Result(ctx); err == nil && got != j+3 {
						err = fmt.Errorf("run %d: result %d, want %d", j, got, j+3)
					}
				}
				if err != nil {
					mu.Lock()
					first = cmp(first, err)
					mu.Unlock()
					return
				}
				done.Add(1)
			})
		}
		wg.Wait()
		return done.Load(), first
	}
	if _, err := batch("warm", p.W1Warmup); err != nil {
		return fail(errors.Join(err, eng.Close(ctx)))
	}
	fmt.Println("READY")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fail(errors.Join(err, eng.Close(ctx)))
	}
	t0 := time.Now()
	n, err := batch("w1", p.W1Concurrent)
	el := time.Since(t0)
	if err != nil {
		return fail(errors.Join(err, eng.Close(ctx)))
	}
	fmt.Printf("DONE %d %d\n", n, el.Nanoseconds())
	if err := eng.Close(ctx); err != nil {
		return fail(err)
	}
	return 0
}

// cmp keeps the first error.
func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// tail is the end of a child's stderr, for an error message.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 400 {
		s = "…" + s[len(s)-400:]
	}
	return s
}

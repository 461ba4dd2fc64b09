package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/examples/order-choreography/choreo"
)

// What a service process is told by the supervisor that starts it.
const (
	envService = "CHOREO_SERVICE" // the service to run; set only in a service process
	envNATS    = "CHOREO_NATS"    // the broker's URL
	envDir     = "CHOREO_DIR"     // the directory of the databases
	envOrders  = "CHOREO_ORDERS"  // how many orders the orders service places
)

// ackWait is how soon the broker delivers again a message that a killed
// process had received and not acknowledged.
const ackWait = 2 * time.Second

// procsConfig configures runProcs.
type procsConfig struct {
	Orders int   // orders to place; every fifth is out of stock
	Kills  int   // service processes to SIGKILL mid-flow, one at a time
	Seed   int64 // of the kills' moments and victims
	// Exe is the program to run as a service process (this one); the
	// process runs serve when it finds envService set.
	Exe string
}

// order returns the i-th order of a multi-process run.
func order(i int) choreo.Order {
	o := choreo.Order{ID: fmt.Sprintf("P-%03d", i), Item: "espresso machine", Cents: 24900}
	if i%5 == 0 {
		o.Item = choreo.OutOfStock
		o.Cents = 8900
	}
	return o
}

// serve runs one service in this process until the supervisor stops it
// (SIGTERM) or, for the orders service, until every order has ended.
func serve(service string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	nc, err := natsgo.Connect(os.Getenv(envNATS))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	out := &lineWriter{w: os.Stdout}
	svcs, err := choreo.StartWith(ctx, os.Getenv(envDir), js, out, &choreo.Options{Services: []string{service}, AckWait: ackWait})
	if err != nil {
		return err
	}
	if service == "orders" {
		n, err := strconv.Atoi(os.Getenv(envOrders))
		if err != nil {
			err = fmt.Errorf("%s=%q: %v", envOrders, os.Getenv(envOrders), err)
		} else {
			g, gctx := errgroup.WithContext(ctx)
			for i := 1; i <= n; i++ {
				g.Go(func() error {
					// Orders arrive one every 25 ms, as customers place them.
					select {
					case <-time.After(time.Duration(i) * 25 * time.Millisecond):
					case <-gctx.Done():
						return gctx.Err()
					}
					_, err := svcs.PlaceOrder(gctx, order(i))
					return err
				})
			}
			err = g.Wait()
		}
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return errors.Join(err, svcs.Close(cctx))
	}
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return svcs.Close(cctx)
}

// lineWriter writes whole lines, one Write at a time, so that lines of
// different goroutines do not interleave in the supervisor's output.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// proc is a running service process.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan error // receives Wait's result once
}

// supervisor starts the service processes and keeps their output.
type supervisor struct {
	cfg   procsConfig
	env   []string
	out   *lineWriter
	lines chan string // every line the services printed
	wg    sync.WaitGroup
}

func (s *supervisor) start(name string) (*proc, error) {
	cmd := exec.Command(s.cfg.Exe)
	cmd.Env = append(append(os.Environ(), s.env...), envService+"="+name)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the %s service: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan error, 1)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- sc.Text()
			fmt.Fprintln(s.out, sc.Text())
		}
		p.done <- cmd.Wait()
	}()
	return p, nil
}

// runProcs runs the choreography with each service in a process of its
// own, sharing an in-process NATS server, SIGKILLs cfg.Kills of them at
// random moments (starting each again), and then checks from the four
// databases that every order ended once, as it should have, and that every
// service handled each event once.
func runProcs(w io.Writer, cfg procsConfig) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := startBroker()
	if err != nil {
		return err
	}
	defer b.close()
	dir, js := b.dir, b.js
	if err := choreo.EnsureStream(ctx, js); err != nil {
		return err
	}

	s := &supervisor{cfg: cfg, out: &lineWriter{w: w}, lines: make(chan string, 1<<16),
		env: []string{envNATS + "=" + b.srv.URL(), envDir + "=" + dir, envOrders + "=" + strconv.Itoa(cfg.Orders)}}
	say := func(format string, args ...any) { fmt.Fprintf(s.out, "supervisor: "+format+"\n", args...) }
	procs := map[string]*proc{}
	defer func() {
		for _, p := range procs {
			_ = p.cmd.Process.Kill()
		}
	}()
	for _, name := range choreo.ServiceNames {
		p, err := s.start(name)
		if err != nil {
			return err
		}
		procs[name] = p
	}
	say("%d service processes started; %d orders; %d kills (seed %d)", len(procs), cfg.Orders, cfg.Kills, cfg.Seed)

	// Kill a random service at random moments until the orders are done.
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0))
	kills := 0
	next := time.After(time.Duration(50+rng.IntN(250)) * time.Millisecond)
	if cfg.Kills == 0 {
		next = nil
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the orders did not end in time: %w", ctx.Err())
		case err := <-procs["orders"].done:
			if err != nil {
				return fmt.Errorf("the orders service failed: %w", err)
			}
			delete(procs, "orders")
		case <-next:
			victim := procs[choreo.ServiceNames[rng.IntN(len(choreo.ServiceNames))]]
			if victim == nil {
				next = time.After(10 * time.Millisecond)
				continue
			}
			_ = victim.cmd.Process.Signal(syscall.SIGKILL)
			<-victim.done
			kills++
			say("killed %s (pid %d) with SIGKILL; starting it again", victim.name, victim.cmd.Process.Pid)
			p, err := s.start(victim.name)
			if err != nil {
				return err
			}
			procs[victim.name] = p
			next = nil
			if kills < cfg.Kills {
				next = time.After(time.Duration(50+rng.IntN(250)) * time.Millisecond)
			}
			continue
		}
		if procs["orders"] == nil {
			break
		}
	}
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for name, p := range procs {
		if err := <-p.done; err != nil {
			return fmt.Errorf("the %s service did not stop cleanly: %w", name, err)
		}
	}
	procs = nil
	s.wg.Wait()
	close(s.lines)
	return check(ctx, s.out, dir, cfg, kills, s.lines)
}

// check opens each service's database and checks that every order ended
// as it should have and that each service ran one workflow per event.
func check(ctx context.Context, w io.Writer, dir string, cfg procsConfig, kills int, lines <-chan string) error {
	outOfStock := cfg.Orders / 5
	want := map[string]map[string]int{ // service -> workflow -> completed runs
		"orders":    {"place-order": cfg.Orders},
		"billing":   {"bill-order": cfg.Orders, "refund-order": outOfStock},
		"inventory": {"reserve-for-order": cfg.Orders},
		"shipping":  {"ship-order": cfg.Orders - outOfStock},
	}
	var problems []string
	for _, name := range choreo.ServiceNames {
		eng, err := chorus.Open(ctx, filepath.Join(dir, name+".db"), nil)
		if err != nil {
			return err
		}
		for wf, n := range want[name] {
			runs, err := eng.List(ctx, &chorus.ListOptions{Workflow: wf})
			if err != nil {
				return errors.Join(err, eng.Close(ctx))
			}
			done := 0
			for _, r := range runs {
				if r.Status == chorus.StatusCompleted {
					done++
				} else {
					problems = append(problems, fmt.Sprintf("%s: run %s of %s is %s", name, r.ID, wf, r.Status))
				}
			}
			if done != n {
				problems = append(problems, fmt.Sprintf("%s: %d completed runs of %s, want %d", name, done, wf, n))
			}
		}
		if err := eng.Close(ctx); err != nil {
			return err
		}
	}
	// The activities' effects, as the services printed them: at least
	// once each; more only where a process died while running one.
	effects := map[string]int{}
	ended := map[string]string{} // order ID -> shipped or cancelled
	for l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		effects[f[1]]++ // charged, reserved, no (stock), refunded, label
		if f[0] == "orders:" && (f[2] == "shipped," || f[2] == "cancelled,") {
			ended[f[1]] = strings.TrimSuffix(f[2], ",")
		}
	}
	shipped := 0
	for i := 1; i <= cfg.Orders; i++ {
		o := order(i)
		want := "shipped"
		if o.Item == choreo.OutOfStock {
			want = "cancelled"
		}
		switch got := ended[o.ID]; got {
		case want:
			if got == "shipped" {
				shipped++
			}
		case "":
			problems = append(problems, fmt.Sprintf("order %s: no outcome reported", o.ID))
		default:
			problems = append(problems, fmt.Sprintf("order %s %s, want %s", o.ID, got, want))
		}
	}
	atLeast := map[string]int{"charged": cfg.Orders, "reserved": cfg.Orders - outOfStock, "no": outOfStock,
		"refunded": outOfStock, "label": cfg.Orders - outOfStock}
	for e, n := range atLeast {
		if effects[e] < n {
			problems = append(problems, fmt.Sprintf("%d activity executions printed %q, want at least %d", effects[e], e, n))
		}
	}
	fmt.Fprintf(w, "supervisor: %d kills; %d orders: %d shipped, %d cancelled with a refund; %d problems (each service must have run exactly one workflow per event)\n",
		kills, cfg.Orders, shipped, len(ended)-shipped, len(problems))
	fmt.Fprintf(w, "supervisor: activity executions (at least once; a process killed during one runs it again): charge %d, reserve %d, refund %d, label %d\n",
		effects["charged"], effects["reserved"]+effects["no"], effects["refunded"], effects["label"])
	if len(problems) > 0 {
		return fmt.Errorf("the choreography went wrong:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

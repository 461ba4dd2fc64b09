package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// W7 and W8: issue 17's workloads.
//
// W7 runs the same workflow shape twice in one process, first with tiny
// payloads (8 bytes) and then with kilobyte ones (1 KiB): the input, the
// result of each of its three activities and one signal carry the payload,
// so that the ratio of the two rates is the cost of ordinary business
// payloads (encoding, journaling, decoding) against the engine's own
// overhead. W8 measures how long Start takes to return while 1, 16 and 64
// goroutines start runs at once (the runs park on a signal, so nothing but
// starting competes).

// payloadStep is every engine's W7 activity: it returns a new payload of
// the same size whose first byte is one more, so an engine that dropped or
// mixed payloads answers a wrong result.
func payloadStep(in []byte) []byte {
	out := make([]byte, len(in))
	copy(out, in)
	if len(out) > 0 {
		out[0]++
	}
	return out
}

// payloadResult is what every engine's W7 workflow returns for input in
// and signal sig: the last activity's payload with the signal's length
// added to its first byte.
func payloadResult(in, sig []byte) []byte {
	out := in
	for range 3 {
		out = payloadStep(out)
	}
	out = append([]byte(nil), out...)
	if len(out) > 0 {
		out[0] += byte(len(sig))
	}
	return out
}

func makePayload(size, seed int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + (seed+i)%26)
	}
	return b
}

// payloadDriver is implemented by every engine for W7.
type payloadDriver interface {
	// StartPayload starts the payload workflow with input in and returns
	// once the start is acknowledged; wait blocks for its result.
	StartPayload(ctx context.Context, id string, in []byte) (wait func() ([]byte, error), err error)
	// SignalPayload sends the run its "data" signal.
	SignalPayload(ctx context.Context, id string, data []byte) error
}

// Payload sizes of W7.
const (
	w7Tiny = 8
	w7KB   = 1024
)

func w7(ctx context.Context, d driver, db string, p params, res *result) error {
	pd, ok := d.(payloadDriver)
	if !ok {
		return errNA
	}
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	one := func(id string, size, seed int) error {
		in := makePayload(size, seed)
		sig := makePayload(size, seed+7)
		wait, err := pd.StartPayload(ctx, id, in)
		if err != nil {
			return err
		}
		if err := pd.SignalPayload(ctx, id, sig); err != nil {
			return err
		}
		got, err := wait()
		if err != nil {
			return err
		}
		if want := payloadResult(in, sig); string(got) != string(want) {
			return fmt.Errorf("run %s: result of %d bytes differs from the expected %d bytes", id, len(got), len(want))
		}
		return nil
	}
	// batch runs n runs of the given payload size at once and returns the
	// rate of those that ended within the cap.
	batch := func(prefix string, n, size int, capDur time.Duration) (float64, bool, error) {
		var (
			wg       sync.WaitGroup
			done     atomic.Int64
			mu       sync.Mutex
			firstErr error
		)
		t0 := time.Now()
		for j := range n {
			wg.Go(func() {
				if err := one(fmt.Sprintf("%s-%d", prefix, j), size, j); err != nil {
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
		finished := true
		select {
		case <-all:
		case <-time.After(capDur):
			finished = false
		}
		el := time.Since(t0)
		mu.Lock()
		defer mu.Unlock()
		return float64(done.Load()) / el.Seconds(), finished, firstErr
	}
	if _, ok, err := batch("warm", p.W1Warmup, w7KB, p.W1Cap); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("the %d warm-up runs did not end within %v", p.W1Warmup, p.W1Cap)
		}
		return err
	}
	capped := false
	for _, c := range []struct {
		key  string
		size int
	}{{"w7_tiny_wfps", w7Tiny}, {"w7_kb_wfps", w7KB}} {
		rate, all, err := batch(c.key, p.W1Concurrent, c.size, p.W1Cap)
		if err != nil {
			return err
		}
		if !all {
			capped = true
			res.Capped = true
			res.note("W7: the %d-byte runs did not all end within the %v cap; the rate counts those that did", c.size, p.W1Cap)
		}
		res.set(c.key, rate)
	}
	if t, k := res.Metrics["w7_tiny_wfps"], res.Metrics["w7_kb_wfps"]; t > 0 {
		res.set("w7_kb_share", 100*k/t)
	}
	if capped {
		d.Abandon()
		return nil
	}
	return d.Close(ctx)
}

// W8: Start latency with 1, 16 and 64 concurrent starters. Each level
// starts W8Starts runs (W8Single for one starter) of the parked workflow and
// records how long each Start call took to return.
func w8(ctx context.Context, d driver, db string, p params, res *result) error {
	if err := d.Open(ctx, db); err != nil {
		return err
	}
	for i := range 10 {
		if err := d.StartParked(ctx, fmt.Sprintf("warm-%d", i)); err != nil {
			return err
		}
	}
	capped := false
	for _, conc := range []int{1, 16, 64} {
		n := p.W8Starts
		if conc == 1 {
			n = p.W8Single
		}
		lat := make([]time.Duration, n)
		deadline := time.Now().Add(p.W8Cap)
		done, err := pool(n, conc, deadline, func(i int) error {
			t0 := time.Now()
			err := d.StartParked(ctx, fmt.Sprintf("w8-c%d-%d", conc, i))
			lat[i] = time.Since(t0)
			return err
		})
		if err != nil {
			return err
		}
		if done < n {
			capped = true
			res.note("W8: %d of %d starts at %d starters within the %v cap", done, n, conc, p.W8Cap)
		}
		var got []time.Duration
		for _, l := range lat {
			if l > 0 {
				got = append(got, l)
			}
		}
		if len(got) == 0 {
			return fmt.Errorf("no start returned at %d starters within %v", conc, p.W8Cap)
		}
		res.set(fmt.Sprintf("w8_p50_c%d", conc), ms(pct(got, 0.50)))
		res.set(fmt.Sprintf("w8_p99_c%d", conc), ms(pct(got, 0.99)))
	}
	if one := res.Metrics["w8_p99_c1"]; one > 0 {
		res.set("w8_ratio_c16", res.Metrics["w8_p99_c16"]/one)
		res.set("w8_ratio_c64", res.Metrics["w8_p99_c64"]/one)
	}
	if capped {
		// Parked runs would end at Close on some engines; leave them as a
		// killed process would.
		d.Abandon()
		return nil
	}
	return d.Close(ctx)
}

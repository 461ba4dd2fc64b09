package engine

import (
	"sync"
	"sync/atomic"
)

// maxIdleDrainers bounds the goroutines kept waiting for a run to drain.
const maxIdleDrainers = 256

// drainers runs drains on goroutines that outlive them. A goroutine begins
// with a small stack, and the path of one input (applying it, reading the
// run from the store, committing) is deep: a fresh goroutine per drain grew
// its stack, copying it each time, for every input of every run. A drainer
// keeps its grown stack for the next run it is handed.
type drainers struct {
	work chan *Run // unbuffered: a hand-off to a drainer waiting for one
	quit chan struct{}
	idle atomic.Int32
	wg   sync.WaitGroup
}

func newDrainers() *drainers {
	return &drainers{work: make(chan *Run), quit: make(chan struct{})}
}

// start drains r on an idle drainer, or on a new one when none waits.
func (d *drainers) start(r *Run) {
	select {
	case d.work <- r:
	default:
		d.wg.Add(1)
		go d.loop(r)
	}
}

func (d *drainers) loop(r *Run) {
	defer d.wg.Done()
	for {
		r.drain()
		if d.idle.Add(1) > maxIdleDrainers {
			d.idle.Add(-1)
			return
		}
		select {
		case r = <-d.work:
			d.idle.Add(-1)
		case <-d.quit:
			d.idle.Add(-1)
			return
		}
	}
}

// stop ends the idle drainers once no drain can start any more, and waits
// for them.
func (d *drainers) stop() {
	close(d.quit)
	d.wg.Wait()
}

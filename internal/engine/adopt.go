package engine

import (
	"fmt"

	"github.com/chorusdev/chorus/history"
)

// Several engines may share one store, each owning some of its runs (a
// store that implements history.RunAdopter, such as PostgreSQL in shared
// mode). The store's Tasks holds the tasks of this engine's runs only, so
// recover starts this engine's work alone; when another engine dies, the
// store adopts its runs for this one, and the engine starts their pending
// work as recover does at Open.

// ownRuns keeps, of runs, those this engine owns: all of them unless the
// store is shared.
func (e *Engine) ownRuns(runs []history.RunInfo) ([]history.RunInfo, error) {
	ra, ok := e.store.(history.RunAdopter)
	if !ok || len(runs) == 0 {
		return runs, nil
	}
	own := runs[:0:0]
	for _, r := range runs {
		mine, err := ra.OwnsRun(e.ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("read the owner of run %q: %w", r.ID, err)
		}
		if mine {
			own = append(own, r)
		}
	}
	return own, nil
}

// watchAdoptions starts, for a store whose runs engines share, the
// goroutine that starts the work of the runs the store adopts for this
// engine. It is called once recover has read the tasks of the engine's
// own runs: the store adopts nothing before Adopted is called, so no run's
// work starts twice.
func (e *Engine) watchAdoptions() {
	ra, ok := e.store.(history.RunAdopter)
	if !ok {
		return
	}
	ch := ra.Adopted()
	go func() {
		for {
			select {
			case <-e.ctx.Done():
				return
			case ids, ok := <-ch:
				if !ok {
					return
				}
				e.adopt(ids)
			}
		}
	}()
}

// adopt starts the pending work of runs the store moved to this engine
// from one that died. A run still cached from before (read for a query
// while the other engine owned it) is dropped first, so that it is loaded
// again from the journal.
func (e *Engine) adopt(ids []string) {
	e.mu.Lock()
	if e.state != stateOpen {
		e.mu.Unlock()
		return
	}
	e.procs.Add(1) // Close waits for the dispatch below
	var stale []*Run
	for _, id := range ids {
		if r := e.runs[id]; r != nil && r.lruElem != nil {
			e.lru.Remove(r.lruElem)
			r.lruElem = nil
			delete(e.runs, id)
			stale = append(stale, r)
		}
	}
	e.mu.Unlock()
	defer e.procs.Done()
	for _, r := range stale {
		r.kill()
	}
	rts, _ := e.store.(history.RunTaskStore)
	var tasks []history.Task
	var blocked []history.RunInfo
	for _, id := range ids {
		info, err := e.store.Run(e.ctx, id)
		if err != nil {
			// A run that cannot be read now is recovered at the next Open
			// of an engine that owns it.
			e.log.Error("chorus: adopt run: read it", "run", id, "err", err)
			continue
		}
		if info.Status == history.StatusBlocked {
			blocked = append(blocked, info)
		}
		if rts == nil {
			continue
		}
		ts, err := rts.RunTasks(e.ctx, id)
		if err != nil {
			e.log.Error("chorus: adopt run: read its tasks", "run", id, "err", err)
			continue
		}
		tasks = append(tasks, ts...)
	}
	held, err := e.startRecovered(tasks, blocked)
	if err != nil {
		e.log.Error("chorus: adopt runs", "runs", len(ids), "err", err)
		return
	}
	e.log.Info("chorus: adopted the runs of an engine that stopped", "runs", len(ids), "pending_tasks", len(tasks),
		"blocked_runs", len(blocked), "damaged_runs", len(held))
}

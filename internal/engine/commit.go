package engine

import (
	"errors"
	"time"

	"github.com/chorusdev/chorus/history"
)

// Committing a run's round, and what happens when the commit fails.

// commitRound writes the round's batch and, once it is durable, starts the
// work it promised and answers whoever waits.
func (r *Run) commitRound() {
	e := r.eng
	rd := &r.round
	if !rd.create && len(rd.events) == 0 && rd.status == nil && len(rd.addTasks) == 0 && len(rd.doneTasks) == 0 {
		r.sendQueryAnswers(nil)
		r.sendLate(nil)
		for _, in := range rd.replies {
			in.answer(nil)
		}
		r.settleUpdates()
		return
	}
	b := &history.Batch{RunID: r.id, Time: e.clock.Now(), Events: rd.events, Status: rd.status,
		AddTasks: rd.addTasks, DoneTasks: rd.doneTasks, DropTasks: rd.dropTasks}
	if rd.create {
		info := &history.RunInfo{ID: r.id, Workflow: r.spec.Name(), Status: history.StatusRunning, Parent: r.parent, ParentStep: r.parentStep}
		if rd.status != nil {
			info.Status, info.Result, info.Failure = rd.status.Status, rd.status.Result, rd.status.Failure
		}
		b.Create = info
	}
	if rd.restart != 0 {
		b.Reuse = &history.RunInfo{Workflow: r.spec.Name(), Parent: r.parent, ParentStep: r.parentStep, FirstSeq: rd.restart}
	}
	err := e.w.submit(b)
	if errors.Is(err, ErrCommitUnknown) && r.landed(b) {
		// The commit went through although the store reported an error:
		// carry on as after any commit, so nothing it promised is stranded.
		e.log.Warn("chorus: commit reported an error but its batch is in the journal", "run", r.id, "err", err)
		err = nil
	}
	if err != nil {
		r.sendQueryAnswers(err)
		r.sendLate(err)
		r.commitFailed(err)
		return
	}
	if rd.status != nil {
		r.status = rd.status.Status
	} else if rd.create {
		r.status = history.StatusRunning
	}
	if rd.status != nil || rd.create {
		e.mu.Lock()
		r.running = r.status == history.StatusRunning
		e.mu.Unlock()
	}
	r.emitObserved()
	for _, f := range rd.cancel {
		e.stopWork(r.id, f)
	}
	for _, s := range rd.stopTimeouts {
		e.stopTimeout(r.id, s)
	}
	var workflow string
	if r.spec != nil { // nil for a blocked run that was terminated
		workflow = r.spec.Name()
	}
	for _, t := range rd.addTasks {
		if (t.Kind == history.TaskActivity || t.Kind == history.TaskTimer) && !r.stillPending(t.Step) {
			continue
		}
		e.runTask(t, workflow, rd.events)
	}
	r.sendQueryAnswers(nil)
	r.sendLate(nil)
	for _, in := range rd.replies {
		in.answer(nil)
	}
	r.settleUpdates()
	if rd.outcome != nil {
		e.notify(r.id, *rd.outcome)
	}
}

// sendLate answers the inputs whose answer was decided before the commit;
// a failed commit turns every answer into its error.
func (r *Run) sendLate(commitErr error) {
	for _, l := range r.round.late {
		if commitErr != nil && !isInternalInput(l.in.kind) {
			l.in.answer(commitErr)
			continue
		}
		l.in.answer(l.err)
	}
	r.round.late = nil
}

// landed reads the run back to learn whether a batch whose commit outcome
// was unknown is in the journal. The engine is the run's only writer, so the
// batch landed exactly when the journal reaches its last event (or, for a
// batch without events, the row has its status). When the store cannot be
// read either, the answer is no: the round is redone from the journal, which
// at worst repeats work that is idempotent (an outcome already recorded is
// dropped as stale).
func (r *Run) landed(b *history.Batch) bool {
	e := r.eng
	for attempt := range 4 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 20 * time.Millisecond) // the store just failed; give it a moment
		}
		info, err := e.store.Run(e.ctx, b.RunID)
		switch {
		case errors.Is(err, history.ErrRunNotFound):
			return false
		case err != nil:
			continue
		case len(b.Events) > 0:
			return info.LastSeq >= b.Events[len(b.Events)-1].Seq
		case b.Status != nil:
			return info.Status == b.Status.Status
		default:
			return false
		}
	}
	return false
}

func (r *Run) stillPending(step int64) bool {
	f := r.pending[step]
	return f != nil && !f.ready
}

// commitFailed undoes a round the store refused: the in-memory state is
// ahead of the journal, so it is thrown away and rebuilt on the next input.
func (r *Run) commitFailed(err error) {
	e := r.eng
	rd := r.round
	if !rd.create && errors.Is(err, history.ErrCorrupt) {
		r.commitCorrupt(err)
		return
	}
	r.reset()
	for _, in := range rd.replies {
		if !isInternalInput(in.kind) {
			in.answer(err)
		}
	}
	if errors.Is(err, ErrEngineClosed) || errors.Is(err, history.ErrStoreClosed) {
		return
	}
	if errors.Is(err, history.ErrNotOwner) {
		// Another engine sharing the store owns the run: trying again
		// here cannot succeed (see adopt.go).
		for _, in := range rd.retry {
			in.answer(err)
		}
		return
	}
	e.log.Error("chorus: commit failed; the run will be rebuilt from its journal", "run", r.id, "err", err)
	for _, in := range rd.retry {
		e.redeliverLater(r.id, in)
	}
	if errors.Is(err, ErrCommitUnknown) {
		// The batch may have landed without anyone acting on it: once the
		// store answers again, start what the journal promises for this run.
		e.resyncLater(r.id, 0)
	}
}

// commitCorrupt blocks the run whose round the store refused because its
// file is damaged: a damaged file will not take the same batch later, so
// the round is not retried. The blocked status is written if the store still
// takes it; either way the run stays blocked in memory and its waiters are
// told. Outcomes the round recorded are dropped, as for any blocked run:
// their tasks are still in the journal and run again once it resumes.
func (r *Run) commitCorrupt(err error) {
	e := r.eng
	rd := r.round
	e.log.Error("chorus: the store refused a commit because its file is damaged; run blocked", "run", r.id, "err", err)
	lastSeq := r.lastSeq - int64(len(rd.events))
	parent, parentStep, firstSeq, status := r.parent, r.parentStep, r.firstSeq, r.status
	r.reset()
	r.blocked, r.lastSeq, r.parent, r.parentStep, r.firstSeq, r.status = err, lastSeq, parent, parentStep, firstSeq, status
	r.timeout = e.committedTimeout(r.id)
	r.round = round{}
	for _, in := range rd.replies {
		if !isInternalInput(in.kind) {
			in.answer(err)
		}
	}
	for _, in := range rd.retry {
		in.answer(nil)
	}
	su := &history.StatusUpdate{Status: history.StatusBlocked, Failure: e.encodeFailure(FailureOf(err))}
	if werr := e.w.submit(&history.Batch{RunID: r.id, Time: e.clock.Now(), Status: su}); werr != nil {
		e.log.Error("chorus: record blocked status", "run", r.id, "err", werr)
	} else {
		r.status = history.StatusBlocked
		e.observeNow(Observation{Kind: ObsRunBlocked, Time: e.clock.Now(), RunID: r.id, Failure: su.Failure})
	}
	e.notify(r.id, Outcome{Status: history.StatusBlocked, Blocked: err})
}

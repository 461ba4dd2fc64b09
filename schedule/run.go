package schedule

import (
	"time"

	"github.com/chorusdev/chorus/workflow"
)

// maxTicksPerWake bounds the ticks one wake-up walks through (catch-up,
// backfill), so a per-second schedule after a long downtime cannot spin.
const maxTicksPerWake = 10000

// runner is one generation of a schedule's run.
type runner struct {
	s     *scheduler
	st    *state
	spec  *compiled
	await workflow.Future[struct{}] // the last action's end, while a tick is buffered
	stop  workflow.CancelFunc
	done  bool
}

// run is the schedule's workflow.
func (s *scheduler) run(ctx workflow.Context, st state) (struct{}, error) {
	spec, err := st.Spec.compile()
	if err != nil {
		return struct{}{}, err
	}
	r := &runner{s: s, st: &st, spec: spec}
	if st.Cursor.IsZero() {
		st.Cursor = workflow.Now(ctx)
	}
	workflow.SetQueryHandler(ctx, describeQ, func(struct{}) (Description, error) {
		return r.describe(workflow.Now(ctx)), nil
	})
	ctl := workflow.GetSignalChannel(ctx, controlSig)
	for wakes := 0; ; wakes++ {
		if wakes >= continueAfter && ctl.Len() == 0 {
			r.dropAwait()
			return struct{}{}, workflow.ContinueAsNewWith(ctx, st)
		}
		now := workflow.Now(ctx)
		if !st.Paused {
			r.due(ctx, now)
		}
		if !st.Buffered.IsZero() && r.await == nil && st.Last != "" {
			actx, stop := workflow.WithCancel(ctx)
			r.await, r.stop = workflow.ExecuteActivity(actx, s.waitAct, awaitReq{Workflow: st.Workflow, ID: st.Last}), stop
		}
		_ = workflow.UpsertMemo(ctx, MemoKey, r.describe(now))

		wctx, cancelWait := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		if !st.Paused {
			t := r.spec.next(st.Cursor)
			at := t.Add(st.Spec.jitter(st.ID, t))
			sel.AddFuture(workflow.NewTimer(wctx, max(at.Sub(now), 0)), func() {})
		}
		sel.AddReceive(ctl, func() {
			c, _ := ctl.ReceiveAsync()
			r.control(ctx, c)
		})
		if r.await != nil {
			sel.AddFuture(r.await, func() {
				r.dropAwait()
				if b := st.Buffered; !b.IsZero() {
					st.Buffered = time.Time{}
					r.fire(ctx, b, ActionRunID(st.ID, b), st.Spec.Overlap, workflow.Now(ctx))
				}
			})
		}
		sel.Select(ctx)
		cancelWait()
		if r.done {
			r.dropAwait()
			return struct{}{}, nil
		}
	}
}

func (r *runner) dropAwait() {
	if r.stop != nil {
		r.stop()
	}
	r.await, r.stop = nil, nil
}

// due handles the ticks whose time (plus jitter) has come.
func (r *runner) due(ctx workflow.Context, now time.Time) {
	st := r.st
	window := st.Spec.catchup()
	for range maxTicksPerWake {
		t := r.spec.next(st.Cursor)
		if t.Add(st.Spec.jitter(st.ID, t)).After(now) {
			return
		}
		st.Cursor = t
		if now.Sub(t) > window {
			st.Missed++
			r.record(Action{Scheduled: t, At: now, Outcome: "missed"})
			continue
		}
		r.fire(ctx, t, ActionRunID(st.ID, t), st.Spec.Overlap, now)
	}
	// Still behind after many ticks: jump to the catch-up window.
	if lag := now.Add(-window); st.Cursor.Before(lag) {
		st.Cursor = lag
	}
}

// fire starts the action of the tick at t under run ID id.
func (r *runner) fire(ctx workflow.Context, t time.Time, id string, overlap Overlap, now time.Time) {
	st := r.st
	a := Action{Scheduled: t, At: now}
	if overlap != OverlapAllowAll && st.Last != "" && st.Last != id {
		running, err := workflow.ExecuteActivity(ctx, r.s.statAct, st.Last).Get(ctx)
		if err == nil && running {
			switch overlap {
			case OverlapSkip:
				st.Skipped++
				a.Outcome, a.RunID = "skipped", st.Last
				r.record(a)
				return
			case OverlapBufferOne:
				if !st.Buffered.IsZero() {
					st.Skipped++
					a.Outcome, a.RunID = "skipped", st.Last
					r.record(a)
					return
				}
				st.Buffered = t
				a.Outcome = "buffered"
				r.record(a)
				return
			case OverlapCancelPrevious:
				_, _ = workflow.ExecuteActivity(ctx, r.s.cancAct, st.Last).Get(ctx)
				r.record(Action{Scheduled: t, At: now, RunID: st.Last, Outcome: "canceled-previous"})
			}
		}
	}
	started, err := workflow.ExecuteActivity(ctx, r.s.startAct, startReq{Workflow: st.Workflow, ID: id, Args: st.Args}).Get(ctx)
	a.RunID = id
	switch {
	case err != nil:
		a.Outcome = "failed: " + err.Error()
	case started:
		a.Outcome = "started"
		st.Started++
	default:
		a.Outcome = "already-started"
	}
	if err == nil {
		st.Last = id
	}
	r.record(a)
}

func (r *runner) record(a Action) {
	r.st.Recent = append(r.st.Recent, a)
	if n := len(r.st.Recent); n > maxRecent {
		r.st.Recent = append([]Action(nil), r.st.Recent[n-maxRecent:]...)
	}
}

// control applies a command.
func (r *runner) control(ctx workflow.Context, c Control) {
	st := r.st
	now := workflow.Now(ctx)
	switch c.Op {
	case "pause":
		st.Paused, st.Note = true, c.Note
	case "resume":
		if st.Paused {
			st.Cursor = now // ticks that fell while paused are not caught up
		}
		st.Paused, st.Note = false, c.Note
	case "trigger":
		o := st.Spec.Overlap
		if c.Overlap != nil {
			o = *c.Overlap
		}
		r.fire(ctx, now, st.ID+"@trigger-"+now.UTC().Format(time.RFC3339Nano), o, now)
	case "backfill":
		o := OverlapAllowAll
		if c.Overlap != nil {
			o = *c.Overlap
		}
		t := c.From.Add(-time.Nanosecond)
		for range maxTicksPerWake {
			t = r.spec.next(t)
			if !t.Before(c.To) {
				break
			}
			r.fire(ctx, t, ActionRunID(st.ID, t), o, now)
		}
	case "update":
		if c.Spec == nil {
			return
		}
		spec, err := c.Spec.compile()
		if err != nil {
			return // Send validates; a bad spec sent some other way is ignored
		}
		st.Spec, r.spec = *c.Spec, spec
		st.Paused = c.Spec.Paused
	case "delete":
		r.done = true
	}
}

// describe builds the schedule's description at now.
func (r *runner) describe(now time.Time) Description {
	st := r.st
	d := Description{
		ID: st.ID, Workflow: st.Workflow, Spec: st.Spec, Paused: st.Paused, Note: st.Note,
		LastRunID: st.Last, Buffered: st.Buffered, Recent: append([]Action(nil), st.Recent...),
		Started: st.Started, Skipped: st.Skipped, Missed: st.Missed,
	}
	if !st.Paused {
		t := st.Cursor
		for range 5 {
			t = r.spec.next(t)
			d.Next = append(d.Next, t)
		}
	}
	return d
}

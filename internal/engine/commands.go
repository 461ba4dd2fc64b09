package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// errQueryMisuse is panicked when a query handler tries to block or issue a
// command; the query machinery recovers it and answers with an error.
type errQueryMisuse struct{ what string }

func (r *Run) checkCommand(what string) {
	r.Guard(what)
	if r.inQuery {
		panic(errQueryMisuse{what})
	}
	if r.killing {
		// Deferred workflow code running while the run is torn down
		// (terminated, evicted, continued as new): nothing it does may
		// reach the journal.
		runtime.Goexit()
	}
	if r.current == nil {
		panic("chorus: a workflow command (" + what + ") inside the condition of workflow.Await or of a Selector")
	}
}

// command records that the code issued a command: during replay it must be
// the next event of the journal; live it is appended.
func (r *Run) command(typ history.EventType, name string, payload []byte) (seq int64, live bool) {
	r.checkCommand(typ.String())
	if len(r.replay) > 0 && isResetNote(r.replay[0]) {
		// A reset generation that ended in its first round has its reset
		// note before the command that ended it (see applyReset).
		r.replay = r.replay[1:]
	}
	if len(r.replay) > 0 {
		ev := r.replay[0]
		if ev.Type != typ || ev.Name != name {
			r.Fail(&NonDeterminismError{
				RunID: r.id, Workflow: r.spec.Name(), Step: ev.Seq,
				Recorded: describeEvent(ev),
				Issued:   "issues " + describeEvent(history.Event{Type: typ, Name: name}),
			})
		}
		r.replay = r.replay[1:]
		r.lastPayload = ev.Payload
		return ev.Seq, false
	}
	r.replaying = false
	if err := r.eng.CheckPayload(r.id, payload); err != nil {
		r.Fail(err)
	}
	if err := r.checkHistoryRoom(typ, payload); err != nil {
		r.Fail(err)
	}
	return r.appendEvent(typ, name, payload), true
}

// appendEvent appends a live event to the round.
func (r *Run) appendEvent(typ history.EventType, name string, payload []byte) int64 {
	r.histBytes += int64(len(payload)) + eventOverhead
	r.lastSeq++
	r.round.events = append(r.round.events, history.Event{Seq: r.lastSeq, Type: typ, Name: name, Payload: payload, Time: r.now})
	if typ == history.EventRunStarted {
		r.startedAt = r.now
		if r.eng.obs != nil {
			r.observe(Observation{Kind: ObsRunStarted, Time: r.now, Start: r.now, Workflow: name, Step: r.lastSeq})
		}
	}
	return r.lastSeq
}

func (r *Run) addPending(f *Future) {
	f.at = r.now
	r.pending[f.step] = f
}

// ScheduleActivity issues an ActivityScheduled command and returns the
// future its outcome settles. A scope already canceled gets a canceled
// future and no command.
func (r *Run) ScheduleActivity(s *Scope, name string, input []byte, opts *activity.Options) *Future {
	f := &Future{kind: futActivity, name: name, scope: s}
	if s.Canceled() {
		f.settle(nil, canceledFailure())
		return f
	}
	merged := activity.Merge(r.eng.defaultActivity, opts)
	optBytes, err := r.encodeTaskOptions(merged)
	if err != nil {
		r.Fail(&PayloadError{What: fmt.Sprintf("encode options of activity %q", name), Err: err})
	}
	seq, live := r.command(history.EventActivityScheduled, name, input)
	f.step = seq
	f.waitCancel = merged.WaitForCancellation
	r.addPending(f)
	if t := (history.Task{
		RunID: r.id, Step: seq, Kind: history.TaskActivity, Name: name, Input: input, Options: optBytes, Attempt: 1,
	}); live {
		r.round.addTasks = append(r.round.addTasks, t)
	} else if r.resetTasks != nil {
		r.resetTasks[seq] = t
	}
	return f
}

// timerPayload is how a TimerScheduled event records its timer.
type timerPayload struct {
	FireAt   time.Time     `json:"fire_at"`
	Duration time.Duration `json:"duration"`
}

// NewTimer issues a TimerScheduled command for a timer that fires d after
// the run's current time. A duration of zero or less settles at once without
// a command.
func (r *Run) NewTimer(s *Scope, d time.Duration) *Future {
	f := &Future{kind: futTimer, scope: s}
	if s.Canceled() {
		f.settle(nil, canceledFailure())
		return f
	}
	if d <= 0 {
		f.settle(nil, nil)
		return f
	}
	fireAt := r.now.Add(d)
	payload, _ := json.Marshal(timerPayload{FireAt: fireAt, Duration: d}) // a time and a number
	seq, live := r.command(history.EventTimerScheduled, "", payload)
	f.step = seq
	r.addPending(f)
	if live {
		r.round.addTasks = append(r.round.addTasks, history.Task{RunID: r.id, Step: seq, Kind: history.TaskTimer, NotBefore: fireAt})
		if r.eng.obs != nil {
			r.observe(Observation{Kind: ObsTimerScheduled, Time: r.now, Step: seq, FireAt: fireAt})
		}
	}
	return f
}

// Record returns a value computed once, live, by compute and journaled, so
// that replay returns the recorded value instead of computing it again.
func (r *Run) Record(kind string, compute func() ([]byte, error)) []byte {
	r.checkCommand("SideEffect")
	if len(r.replay) > 0 {
		r.command(history.EventSideEffect, kind, nil)
		return r.lastPayload
	}
	b, err := compute()
	if err != nil {
		r.Fail(&PayloadError{What: fmt.Sprintf("encode side effect %q", kind), Err: err})
	}
	r.command(history.EventSideEffect, kind, b)
	return b
}

// Marker records a named fact in the journal. Replay matches it like any
// command.
func (r *Run) Marker(name string, payload []byte) {
	r.checkMarkerName(name)
	if seq, live := r.command(history.EventMarker, name, payload); live && r.eng.obs != nil {
		r.observe(Observation{Kind: ObsMarker, Time: r.now, Name: name, Step: seq, Payload: payload})
	}
}

// DefaultVersion is what Version returns for a change that a run recorded
// before the change was made.
const DefaultVersion = -1

// Version returns the version of a change that this run follows: the one it
// recorded, DefaultVersion for a run recorded before the change existed, or
// maxSupported for code running live for the first time.
func (r *Run) Version(changeID string, minSupported, maxSupported int) int {
	r.checkCommand("GetVersion")
	if v, ok := r.versions[changeID]; ok {
		return r.checkVersion(changeID, v, minSupported, maxSupported)
	}
	var v int
	switch {
	case len(r.replay) > 0 && (r.replay[0].Type != history.EventVersionMarker || r.replay[0].Name != changeID):
		// Recorded before the change: no marker in the journal.
		v = DefaultVersion
	case len(r.replay) > 0:
		r.command(history.EventVersionMarker, changeID, nil)
		if err := json.Unmarshal(r.lastPayload, &v); err != nil {
			r.Fail(&PayloadError{What: fmt.Sprintf("version marker %q", changeID), Err: err})
		}
	default:
		v = maxSupported
		b, _ := json.Marshal(v)
		r.command(history.EventVersionMarker, changeID, b)
	}
	r.versions[changeID] = v
	return r.checkVersion(changeID, v, minSupported, maxSupported)
}

func (r *Run) checkVersion(changeID string, v, minSupported, maxSupported int) int {
	if v < minSupported || v > maxSupported {
		r.Fail(&VersionError{RunID: r.id, ChangeID: changeID, Version: v, Min: minSupported, Max: maxSupported})
	}
	return v
}

// childPayload is how a ChildStarted event (and its start task) records the
// child.
type childPayload struct {
	ID         string `json:"id"`
	Workflow   string `json:"workflow"`
	Input      []byte `json:"input"`
	Parent     string `json:"parent"`
	ParentStep int64  `json:"parent_step"`
	Detach     bool   `json:"detach,omitempty"`
	// Header is the parent's propagated context, which the child gets.
	Header map[string][]byte `json:"header,omitempty"`
	// ParentClose is the child's parent-close policy, never
	// ParentCloseDefault once recorded; journals written before policies
	// existed have none, which means the default.
	ParentClose ParentClosePolicy `json:"parent_close,omitempty"`
	// Timeouts bound the child run; absent means none.
	Timeouts *Timeouts `json:"timeouts,omitempty"`
}

// ParentClosePolicy says what happens to a child run still going when the
// generation of its parent that started it ends (the parent completes,
// fails, is canceled or terminated, or continues as new).
type ParentClosePolicy uint8

// The parent-close policies.
const (
	// ParentCloseDefault is ParentCloseTerminate, or ParentCloseAbandon for
	// a detached child.
	ParentCloseDefault ParentClosePolicy = iota
	// ParentCloseTerminate terminates the child.
	ParentCloseTerminate
	// ParentCloseRequestCancel asks the child to cancel.
	ParentCloseRequestCancel
	// ParentCloseAbandon leaves the child running.
	ParentCloseAbandon
)

// resolve returns the policy in force for a child.
func (p ParentClosePolicy) resolve(detach bool) ParentClosePolicy {
	switch {
	case p != ParentCloseDefault:
		return p
	case detach:
		return ParentCloseAbandon
	}
	return ParentCloseTerminate
}

// recordedChild reports whether the journal's next event, in replay, is
// the start of a child of workflow name with ID id: a run recorded before
// child IDs were checked keeps the child it started.
func (r *Run) recordedChild(name, id string) bool {
	if len(r.replay) == 0 || r.replay[0].Type != history.EventChildStarted || r.replay[0].Name != name {
		return false
	}
	var rec childPayload
	return json.Unmarshal(r.replay[0].Payload, &rec) == nil && rec.ID == id
}

// recordedSignal is recordedChild for a signal named name sent to target.
func (r *Run) recordedSignal(name, target string) bool {
	if len(r.replay) == 0 || r.replay[0].Type != history.EventSignalSent || r.replay[0].Name != name {
		return false
	}
	var rec signalPayload
	return json.Unmarshal(r.replay[0].Payload, &rec) == nil && rec.Target == target
}

// defaultChildID is the ID of a child run started without one: the
// parent's ID, "/" and the step. When that would be too long, the parent's
// ID is cut short and followed by "~" and a hash of all of it, so the ID
// always fits MaxRunIDLength and stays unique.
func defaultChildID(parent string, step int64) string {
	suffix := "/" + strconv.FormatInt(step, 10)
	if len(parent)+len(suffix) <= MaxRunIDLength {
		return parent + suffix
	}
	sum := sha256.Sum256([]byte(parent))
	tag := "~" + hex.EncodeToString(sum[:8])
	keep := MaxRunIDLength - len(tag) - len(suffix)
	for keep > 0 && !utf8.RuneStart(parent[keep]) {
		keep--
	}
	return parent[:keep] + tag + suffix
}

// StartChild issues a ChildStarted command for a child run of workflow
// name with ID id ("" for the default, see defaultChildID), which the
// parent-close policy pc governs when the parent ends first, bounded by
// the timeouts to (counted from the child's start). An ID that
// breaks the rules of run IDs fails the future at once with a *RunIDError,
// non-retryable, and issues no command.
func (r *Run) StartChild(s *Scope, name, id string, input []byte, detach bool, pc ParentClosePolicy, to Timeouts) *Future {
	pc = pc.resolve(detach)
	f := &Future{kind: futChild, name: name, scope: s, detach: detach, closePolicy: pc}
	if s.Canceled() {
		f.settle(nil, canceledFailure())
		return f
	}
	if id != "" && !r.recordedChild(name, id) {
		if err := ValidateRunID(id); err != nil {
			// Refused before any command, the same way on replay.
			err.(*RunIDError).Child = true
			f.settle(nil, FailureOf(err))
			return f
		}
	}
	seq := r.lastSeq + 1
	if len(r.replay) > 0 {
		seq = r.replay[0].Seq
	}
	if id == "" {
		id = defaultChildID(r.id, seq)
	}
	cp := childPayload{ID: id, Workflow: name, Input: input, Parent: r.id, ParentStep: seq, Detach: detach, ParentClose: pc, Header: r.header}
	if !to.IsZero() {
		cp.Timeouts = &to
	}
	payload, _ := json.Marshal(cp)
	step, live := r.command(history.EventChildStarted, name, payload)
	if !live {
		var rec childPayload
		if json.Unmarshal(r.lastPayload, &rec) == nil {
			id = rec.ID
			f.closePolicy = rec.ParentClose.resolve(rec.Detach)
		}
	}
	f.step, f.child = step, id
	r.addPending(f)
	if live {
		r.round.addTasks = append(r.round.addTasks, history.Task{RunID: r.id, Step: step, Kind: history.TaskStartChild, Name: name, Input: payload})
		if r.eng.obs != nil {
			r.observe(Observation{Kind: ObsChildStarted, Time: r.now, Step: step, Name: name, Child: id})
		}
	}
	return f
}

// signalPayload is how a SignalSent event (and its task) records a signal
// to another run.
type signalPayload struct {
	Target string `json:"target"`
	Signal string `json:"signal"`
	Value  []byte `json:"value"`
	From   string `json:"from"`
	Step   int64  `json:"step"`
}

// SignalExternal issues a SignalSent command: the signal is delivered to
// run target after the commit, and the future settles when it was (or
// could not be) delivered. A target ID that breaks the rules of run IDs
// settles the future at once as RunNotFound, without a command.
func (r *Run) SignalExternal(s *Scope, target, name string, value []byte) *Future {
	f := &Future{kind: futSignal, name: name, scope: s}
	if s.Canceled() {
		f.settle(nil, canceledFailure())
		return f
	}
	if err := ValidateRunID(target); err != nil && !r.recordedSignal(name, target) {
		// No run can have that ID: refused before any command, the same
		// way on replay, with a text that quotes a bounded prefix of it.
		fl := FailureOf(fmt.Errorf("chorus: signal %q to run %s: %w: %w", name, QuoteID(target), history.ErrRunNotFound, err))
		fl.Type = FailureTypeRunNotFound
		f.settle(nil, fl)
		return f
	}
	seq := r.lastSeq + 1
	sp := signalPayload{Target: target, Signal: name, Value: value, From: r.id, Step: seq}
	payload, _ := json.Marshal(sp)
	step, live := r.command(history.EventSignalSent, name, payload)
	f.step = step
	r.addPending(f)
	if live {
		r.round.addTasks = append(r.round.addTasks, history.Task{RunID: r.id, Step: step, Kind: history.TaskSendSignal, Name: name, Input: payload})
	}
	return f
}

// ContinueAsNewError is returned by workflow code to end the run's current
// generation and start over with a new input and an empty history.
type ContinueAsNewError struct {
	Workflow string
	Input    []byte
}

func (e *ContinueAsNewError) Error() string {
	return fmt.Sprintf("chorus: workflow %q continues as new", e.Workflow)
}

// complete issues the terminal command once the main function returned.
func (r *Run) complete(out []byte, err error) {
	r.Guard("return")
	var can *ContinueAsNewError
	if errors.As(err, &can) {
		r.continueAsNew(can)
		return
	}
	typ, status, payload := history.EventRunCompleted, history.StatusCompleted, out
	var fail []byte
	if err == nil && len(r.replay) == 0 {
		if lerr := r.eng.CheckPayload(r.id, out); lerr != nil {
			err = lerr // the result cannot be kept: the run fails, saying why
		}
	}
	if err != nil {
		var pe *PayloadError
		if errors.As(err, &pe) {
			r.Fail(err)
		}
		typ, status = history.EventRunFailed, history.StatusFailed
		if r.canceled && errors.Is(err, ErrCanceled) {
			typ, status = history.EventRunCanceled, history.StatusCanceled
		}
		fail = r.eng.encodeFailure(FailureOf(err))
		payload = fail
	}
	_, live := r.command(typ, "", payload)
	r.ended = true
	if live {
		su := &history.StatusUpdate{Status: status, Failure: fail}
		if err == nil {
			su.Result = out
		}
		r.endLive(su)
	}
}

// endLive records how a run ended in the current round: its status, the
// outcome for waiters, and the notice its parent is owed.
func (r *Run) endLive(su *history.StatusUpdate) {
	r.dropTimeout()
	r.releaseWork()
	if prev := r.round.status; prev != nil && su.FirstSeq == 0 {
		su.FirstSeq = prev.FirstSeq // a generation started in this same round
	}
	r.round.status = su
	r.round.outcome = &Outcome{Status: su.Status, Result: su.Result, Failure: su.Failure}
	if r.spec != nil {
		r.round.outcome.Workflow = r.spec.Name()
	}
	if r.eng.obs != nil {
		r.observe(Observation{Kind: ObsRunEnded, Time: r.liveNow, Start: r.startedAt, Status: su.Status, Failure: su.Failure})
	}
	if r.parent != "" {
		np, _ := json.Marshal(notifyPayload{Parent: r.parent, ParentStep: r.parentStep, Child: r.id,
			Status: su.Status, Result: su.Result, Failure: su.Failure})
		r.round.addTasks = append(r.round.addTasks, history.Task{RunID: r.id, Step: r.lastSeq, Kind: history.TaskNotifyParent, Input: np})
	}
}

// notifyPayload is what a notify-parent task carries.
type notifyPayload struct {
	Parent     string            `json:"parent"`
	ParentStep int64             `json:"parent_step"`
	Child      string            `json:"child"`
	Status     history.RunStatus `json:"status"`
	Result     []byte            `json:"result,omitempty"`
	Failure    []byte            `json:"failure,omitempty"`
}

// continueAsNew ends the current generation and starts the next one in the
// same round: the journal gets RunContinuedAsNew, then a RunStarted with the
// new input, and the new generation's first commands.
func (r *Run) continueAsNew(can *ContinueAsNewError) {
	if can.Workflow != r.spec.Name() {
		r.Fail(&NonDeterminismError{RunID: r.id, Workflow: r.spec.Name(), Step: r.lastSeq + 1,
			Recorded: "nothing yet", Issued: fmt.Sprintf("asks to continue as workflow %q; a run can only continue as its own workflow", can.Workflow)})
	}
	_, live := r.command(history.EventRunContinuedAsNew, "", can.Input)
	r.ended = true
	if !live {
		return
	}
	if r.eng.obs != nil {
		r.observe(Observation{Kind: ObsRunEnded, Time: r.liveNow, Start: r.startedAt, Continued: true})
	}
	r.round.continueInput = can.Input
	r.round.continued = true
}

// releaseWork, in the round that ends the run, drops what the run no
// longer waits for: the tasks of its pending activities and timers go in
// the same commit (running attempts and armed timers are stopped after it),
// and its running children follow their parent-close policy.
func (r *Run) releaseWork() {
	fresh := map[int64]bool{} // issued in this round: nothing of them started
	for _, t := range r.round.addTasks {
		if t.Kind == history.TaskActivity || t.Kind == history.TaskTimer {
			fresh[t.Step] = true
		}
	}
	for _, s := range r.pendingSteps() {
		f := r.pending[s]
		if f.kind != futActivity && f.kind != futTimer {
			continue
		}
		delete(r.pending, s)
		if !fresh[s] {
			r.round.doneTasks = append(r.round.doneTasks, s)
			r.round.cancel = append(r.round.cancel, f)
		}
	}
	r.round.addTasks = slices.DeleteFunc(r.round.addTasks, func(t history.Task) bool {
		return fresh[t.Step] && r.pending[t.Step] == nil
	})
	r.releaseChildren()
}

// releaseChildren applies the parent-close policy of the children the
// ending generation still waits for, through one task committed with the
// end, so a crash right after does not lose it. A child to terminate whose
// start is not committed yet is never started.
func (r *Run) releaseChildren() {
	var cc []closeChild
	for _, s := range r.pendingSteps() {
		f := r.pending[s]
		if f.kind != futChild || f.closePolicy == ParentCloseAbandon {
			continue
		}
		delete(r.pending, s)
		if f.closePolicy == ParentCloseRequestCancel {
			cc = append(cc, closeChild{ID: f.child})
			continue
		}
		i := slices.IndexFunc(r.round.addTasks, func(t history.Task) bool {
			return t.Kind == history.TaskStartChild && t.Step == s
		})
		if i >= 0 {
			r.round.addTasks = slices.Delete(r.round.addTasks, i, i+1)
			continue
		}
		// A start task not run yet (its workflow waits to be registered)
		// must not start the child after this.
		r.round.doneTasks = append(r.round.doneTasks, s)
		cc = append(cc, closeChild{ID: f.child, Terminate: true})
	}
	if len(cc) == 0 {
		return
	}
	input, _ := json.Marshal(closePayload{Parent: r.id, Children: cc}) // strings and booleans
	r.round.addTasks = append(r.round.addTasks, history.Task{RunID: r.id, Step: -r.lastSeq, Kind: history.TaskCloseChildren, Input: input})
}

func (r *Run) pendingSteps() []int64 {
	steps := make([]int64, 0, len(r.pending))
	for s := range r.pending {
		steps = append(steps, s)
	}
	slices.Sort(steps)
	return steps
}

// closePayload is what a close-children task carries.
type closePayload struct {
	Parent   string       `json:"parent"`
	Children []closeChild `json:"children"`
}

type closeChild struct {
	ID        string `json:"id"`
	Terminate bool   `json:"terminate,omitempty"` // or else request cancellation
}

// journalChildren returns the futures of the children that the current
// generation started and has no outcome of, read from the journal, for a
// run whose code state is not in memory (it is blocked). A journal that
// cannot be read gives none: the children are left running.
func (r *Run) journalChildren() map[int64]*Future {
	e := r.eng
	events, err := e.store.Events(e.ctx, r.id, max(r.firstSeq, 1)-1)
	if err != nil {
		e.log.Warn("chorus: cannot read the journal to apply the parent-close policy of the children of a blocked run; they keep running",
			"run", r.id, "err", err)
		return nil
	}
	children := map[int64]*Future{}
	for _, ev := range events {
		switch ev.Type {
		case history.EventChildStarted:
			var cp childPayload
			if json.Unmarshal(ev.Payload, &cp) == nil {
				children[ev.Seq] = &Future{kind: futChild, step: ev.Seq, name: ev.Name, child: cp.ID,
					detach: cp.Detach, closePolicy: cp.ParentClose.resolve(cp.Detach)}
			}
		case history.EventChildCompleted, history.EventChildFailed:
			delete(children, ev.Ref)
		}
	}
	return children
}

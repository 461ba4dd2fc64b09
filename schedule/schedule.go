package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// Names under which schedules are journaled.
const (
	// WorkflowName is the workflow that runs each schedule.
	WorkflowName = "chorus.schedule"
	// ControlSignal is the signal that carries a [Control] to a schedule.
	ControlSignal = "chorus.schedule.control"
	// DescribeQuery is the query answered with a [Description].
	DescribeQuery = "chorus.schedule.describe"
	// MemoKey is the memo entry where a schedule keeps its [Description]
	// (as of its last change) for the CLI and the dashboard.
	MemoKey = "schedule"
	// RunIDPrefix starts the run ID of every schedule's workflow: the
	// schedule "nightly" runs as "schedule:nightly".
	RunIDPrefix = "schedule:"
)

// Errors of this package.
var (
	// ErrExists: a schedule with the ID exists already.
	ErrExists = errors.New("schedule: a schedule with this ID exists")
	// ErrNotFound: no schedule has the ID (or it was deleted).
	ErrNotFound = errors.New("schedule: no such schedule")
)

// maxRecent is how many recent actions a schedule remembers.
const maxRecent = 10

// continueAfter is how many wake-ups a schedule's run goes through before
// it continues as new, which bounds its history.
const continueAfter = 200

// Control is a command to a running schedule, sent as [ControlSignal]. The
// CLI sends it as JSON, such as {"op":"pause","note":"maintenance"}.
type Control struct {
	// Op is "pause", "resume", "trigger", "backfill", "update" or "delete".
	Op string `json:"op"`
	// Note says why, for pause and resume.
	Note string `json:"note,omitempty"`
	// Spec is the new spec, for update.
	Spec *Spec `json:"spec,omitempty"`
	// From and To bound a backfill: the ticks at or after From and before
	// To are started, as if they had come on time.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Overlap is the policy of a trigger or a backfill's ticks. Defaults
	// to [OverlapAllowAll] for a backfill and to the spec's policy for a
	// trigger.
	Overlap *Overlap `json:"overlap,omitempty"`
}

// Action is what a tick did.
type Action struct {
	// Scheduled is the tick's time (for a trigger, when it was asked).
	Scheduled time.Time `json:"scheduled"`
	// At is when it was handled, on the engine's clock.
	At time.Time `json:"at"`
	// RunID is the action's run, when one was started or found.
	RunID string `json:"run_id,omitempty"`
	// Outcome is "started", "already-started" (a run with the tick's ID
	// existed: the tick had been handled before a restart, or by another
	// process), "skipped" (overlap), "buffered", "canceled-previous" (then
	// started) or "missed" (older than the catch-up window).
	Outcome string `json:"outcome"`
}

// Description is a schedule's state, from [Describe] or the run's memo.
type Description struct {
	ID       string `json:"id"`
	Workflow string `json:"workflow"`
	Spec     Spec   `json:"spec"`
	Paused   bool   `json:"paused"`
	Note     string `json:"note,omitempty"`
	// Next lists the next few ticks (none while paused).
	Next []time.Time `json:"next,omitempty"`
	// LastRunID is the run of the latest action started.
	LastRunID string `json:"last_run_id,omitempty"`
	// Buffered is the tick kept by [OverlapBufferOne], if any.
	Buffered time.Time `json:"buffered,omitzero"`
	// Recent lists the latest actions, oldest first.
	Recent []Action `json:"recent,omitempty"`
	// Started, Skipped and Missed count actions started, ticks skipped
	// by the overlap policy and ticks older than the catch-up window.
	Started int64 `json:"started"`
	Skipped int64 `json:"skipped"`
	Missed  int64 `json:"missed"`
}

// state is the schedule run's input, carried across continue-as-new.
type state struct {
	ID       string          `json:"id"`
	Workflow string          `json:"workflow"`
	Args     json.RawMessage `json:"args"`
	Spec     Spec            `json:"spec"`
	Paused   bool            `json:"paused,omitempty"`
	Note     string          `json:"note,omitempty"`
	// Cursor: ticks at or before it are handled.
	Cursor   time.Time `json:"cursor"`
	Last     string    `json:"last,omitempty"`
	Buffered time.Time `json:"buffered,omitzero"`
	Recent   []Action  `json:"recent,omitempty"`
	Started  int64     `json:"started,omitempty"`
	Skipped  int64     `json:"skipped,omitempty"`
	Missed   int64     `json:"missed,omitempty"`
}

// starter starts and awaits runs of one workflow by its name.
type starter struct {
	start func(ctx context.Context, id string, args json.RawMessage) (bool, error)
	wait  func(ctx context.Context, id string) error
}

// scheduler is what one engine's schedules share.
type scheduler struct {
	eng      *chorus.Engine
	mu       sync.Mutex
	starters map[string]starter
	wf       *workflow.Definition[state, struct{}]
	startAct *activity.Definition[startReq, bool]
	statAct  *activity.Definition[string, bool]
	cancAct  *activity.Definition[string, struct{}]
	waitAct  *activity.Definition[awaitReq, struct{}]
}

type startReq struct {
	Workflow string          `json:"workflow"`
	ID       string          `json:"id"`
	Args     json.RawMessage `json:"args"`
}

type awaitReq struct {
	Workflow string `json:"workflow"`
	ID       string `json:"id"`
}

var schedulers sync.Map // *chorus.Engine -> *scheduler

var (
	controlSig   = workflow.NewSignal[Control](ControlSignal)
	describeQ    = workflow.NewQuery[struct{}, Description](DescribeQuery)
	errNoStarter = errors.New("schedule: workflow not registered for schedules")
)

// Enable registers the schedules' workflow and activities with eng; the
// other functions call it. Call it right after chorus.Open, with
// [Register] for each workflow that schedules start, so that schedules
// created by an earlier process resume.
func Enable(eng *chorus.Engine) error {
	_, err := enable(eng)
	return err
}

func enable(eng *chorus.Engine) (*scheduler, error) {
	if eng == nil {
		return nil, errors.New("schedule: nil engine")
	}
	if s, ok := schedulers.Load(eng); ok {
		return s.(*scheduler), nil
	}
	s := &scheduler{eng: eng, starters: map[string]starter{}}
	s.wf = workflow.New(WorkflowName, s.run)
	s.startAct = activity.New("chorus.schedule.start", s.startRun)
	s.statAct = activity.New("chorus.schedule.running", s.running)
	s.cancAct = activity.New("chorus.schedule.cancel", s.cancelRun)
	s.waitAct = activity.New("chorus.schedule.await", s.awaitRun)
	actual, loaded := schedulers.LoadOrStore(eng, s)
	if loaded {
		return actual.(*scheduler), nil
	}
	if err := eng.Register(s.wf, s.startAct, s.statAct, s.cancAct, s.waitAct); err != nil {
		schedulers.Delete(eng)
		return nil, fmt.Errorf("schedule: enable: %w", err)
	}
	return s, nil
}

// Register lets schedules on eng start runs of wf, which must be registered
// with the engine too (eng.Register). Schedules of a workflow that is not
// registered wait (their start is retried) until it is.
// Registering a workflow twice is harmless.
func Register[In, Out any](eng *chorus.Engine, wf *workflow.Definition[In, Out]) error {
	s, err := enable(eng)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starters[wf.Name()] = starter{
		start: func(ctx context.Context, id string, args json.RawMessage) (bool, error) {
			var in In
			if len(args) > 0 {
				if err := json.Unmarshal(args, &in); err != nil {
					return false, activity.NonRetryable(fmt.Errorf("schedule: decode arguments of %q into %T: %w", wf.Name(), in, err))
				}
			}
			_, err := chorus.Start(ctx, eng, wf, in, &chorus.StartOptions{ID: id, IDReusePolicy: chorus.IDReuseRejectDuplicate})
			if errors.Is(err, chorus.ErrRunExists) {
				return false, nil
			}
			return err == nil, err
		},
		wait: func(ctx context.Context, id string) error {
			run, err := chorus.Lookup(ctx, eng, wf, id)
			if err != nil {
				return err
			}
			_, err = run.Result(ctx)
			var be *chorus.BlockedError
			if errors.As(err, &be) {
				return err // retried: a blocked run has not ended
			}
			return nil
		},
	}
	return nil
}

func (s *scheduler) starter(name string) (starter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.starters[name]
	if !ok {
		return st, fmt.Errorf("%w: %q (call schedule.Register after opening the engine)", errNoStarter, name)
	}
	return st, nil
}

func (s *scheduler) startRun(ctx context.Context, r startReq) (bool, error) {
	st, err := s.starter(r.Workflow)
	if err != nil {
		return false, err
	}
	return st.start(ctx, r.ID, r.Args)
}

func (s *scheduler) running(ctx context.Context, id string) (bool, error) {
	info, err := s.eng.Describe(ctx, id)
	if errors.Is(err, chorus.ErrRunNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return info.Status == chorus.StatusRunning || info.Status == chorus.StatusBlocked, nil
}

func (s *scheduler) cancelRun(ctx context.Context, id string) (struct{}, error) {
	err := s.eng.Cancel(ctx, id)
	if errors.Is(err, chorus.ErrRunEnded) || errors.Is(err, chorus.ErrRunNotFound) {
		err = nil
	}
	return struct{}{}, err
}

func (s *scheduler) awaitRun(ctx context.Context, r awaitReq) (struct{}, error) {
	st, err := s.starter(r.Workflow)
	if err != nil {
		return struct{}{}, err
	}
	return struct{}{}, st.wait(ctx, r.ID)
}

// RunID returns the run ID of schedule id's workflow.
func RunID(id string) string { return RunIDPrefix + id }

// ActionRunID returns the run ID of the action a schedule starts for the
// tick at t: the schedule's ID, "@" and t in UTC (RFC 3339). Two processes,
// or one before and after a restart, derive the same ID for a tick, and
// the engine refuses a second run with it.
func ActionRunID(id string, t time.Time) string {
	return id + "@" + t.UTC().Format(time.RFC3339Nano)
}

func checkID(id string) error {
	if id == "" {
		return errors.New("schedule: empty ID")
	}
	if strings.ContainsRune(id, 0) || len(RunID(id)) > chorus.MaxRunIDLength-40 {
		return fmt.Errorf("schedule: ID %.40q is too long or holds a NUL byte", id)
	}
	return nil
}

// Create creates the schedule id, which starts wf with input in as spec
// says, and registers wf for schedules (see [Register]). The schedule is
// itself a run of [WorkflowName] under [RunID](id): durable, visible to the
// CLI and the dashboard, and driven by the engine's clock. It fails with
// [ErrExists] if a schedule with the ID is running, and with an error
// naming the bad field of spec.
func Create[In, Out any](ctx context.Context, eng *chorus.Engine, id string, spec Spec, wf *workflow.Definition[In, Out], in In) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	if wf == nil {
		return errors.New("schedule: nil workflow")
	}
	args, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("schedule: encode arguments of %q: %w", wf.Name(), err)
	}
	if err := Register(eng, wf); err != nil {
		return err
	}
	s, _ := enable(eng)
	st := state{ID: id, Workflow: wf.Name(), Args: args, Spec: spec, Paused: spec.Paused}
	_, err = chorus.Start(ctx, eng, s.wf, st, &chorus.StartOptions{ID: RunID(id), IDReusePolicy: chorus.IDReuseAllowDuplicate})
	if errors.Is(err, chorus.ErrRunExists) {
		return fmt.Errorf("%w: %q", ErrExists, id)
	}
	return err
}

// Send delivers a control command to schedule id.
func Send(ctx context.Context, eng *chorus.Engine, id string, c Control) error {
	if err := checkID(id); err != nil {
		return err
	}
	switch c.Op {
	case "pause", "resume", "trigger", "delete":
	case "backfill":
		if c.From.IsZero() || !c.To.After(c.From) {
			return fmt.Errorf("schedule: backfill needs From before To (got %v to %v)", c.From, c.To)
		}
	case "update":
		if c.Spec == nil {
			return errors.New("schedule: update needs a Spec")
		}
		if err := c.Spec.Validate(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("schedule: unknown op %q (want pause, resume, trigger, backfill, update or delete)", c.Op)
	}
	if c.Overlap != nil && int(*c.Overlap) >= len(overlapNames) {
		return fmt.Errorf("schedule: Control.Overlap has unknown value %d", uint8(*c.Overlap))
	}
	if _, err := enable(eng); err != nil {
		return err
	}
	err := chorus.Signal(ctx, eng, RunID(id), controlSig, c)
	if errors.Is(err, chorus.ErrRunNotFound) || errors.Is(err, chorus.ErrRunEnded) {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return err
}

// Pause stops schedule id from starting actions until [Resume]; note says
// why. Ticks that fall while it is paused are not caught up.
func Pause(ctx context.Context, eng *chorus.Engine, id, note string) error {
	return Send(ctx, eng, id, Control{Op: "pause", Note: note})
}

// Resume lets a paused schedule start actions again, from its next tick.
func Resume(ctx context.Context, eng *chorus.Engine, id, note string) error {
	return Send(ctx, eng, id, Control{Op: "resume", Note: note})
}

// Trigger starts schedule id's action now, under its overlap policy, paused
// or not.
func Trigger(ctx context.Context, eng *chorus.Engine, id string) error {
	return Send(ctx, eng, id, Control{Op: "trigger"})
}

// Backfill starts the actions of the ticks in [from, to) as if they had
// come on time, all of them (overlap allow-all); a tick whose action was
// started already is not started again.
func Backfill(ctx context.Context, eng *chorus.Engine, id string, from, to time.Time) error {
	return Send(ctx, eng, id, Control{Op: "backfill", From: from, To: to})
}

// Update replaces schedule id's spec; ticks already handled stay handled.
func Update(ctx context.Context, eng *chorus.Engine, id string, spec Spec) error {
	return Send(ctx, eng, id, Control{Op: "update", Spec: &spec})
}

// Delete ends schedule id; the actions it started are left alone.
func Delete(ctx context.Context, eng *chorus.Engine, id string) error {
	return Send(ctx, eng, id, Control{Op: "delete"})
}

// Describe returns schedule id's state, answered by its run.
func Describe(ctx context.Context, eng *chorus.Engine, id string) (Description, error) {
	if err := checkID(id); err != nil {
		return Description{}, err
	}
	if _, err := enable(eng); err != nil {
		return Description{}, err
	}
	info, err := eng.Describe(ctx, RunID(id))
	if errors.Is(err, chorus.ErrRunNotFound) || (err == nil && info.Status != chorus.StatusRunning) {
		return Description{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return Description{}, err
	}
	return chorus.Query(ctx, eng, RunID(id), describeQ, struct{}{})
}

// List returns the IDs of the schedules running on eng, sorted.
func List(ctx context.Context, eng *chorus.Engine) ([]string, error) {
	var ids []string
	opts := &chorus.ListOptions{Workflow: WorkflowName, Status: chorus.StatusRunning, Limit: 1000}
	for {
		runs, err := eng.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			ids = append(ids, strings.TrimPrefix(r.ID, RunIDPrefix))
		}
		if len(runs) < opts.Limit {
			return ids, nil
		}
		opts.AfterID = runs[len(runs)-1].ID
	}
}

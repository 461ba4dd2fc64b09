package human

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// TaskView is a task as the inbox shows it: its context, who holds it,
// its due time, its state and its audit trail.
type TaskView struct {
	RunID string `json:"run_id"`
	// ID names the task within its run: "<task name>-<n>", n counting the
	// run's tasks from 1.
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title"`
	State State  `json:"state"`
	// Assignee is the user the task is assigned to, if any; Group the
	// group whose members may take it, if any; ClaimedBy the user who
	// claimed it.
	Assignee  string `json:"assignee,omitempty"`
	Group     string `json:"group,omitempty"`
	ClaimedBy string `json:"claimed_by,omitempty"`
	Priority  int    `json:"priority"`
	// Created is when the task was asked; Due its deadline (zero: none).
	Created time.Time `json:"created"`
	Due     time.Time `json:"due,omitzero"`
	// Input is the task's context as JSON; decode it with [Task.Input].
	Input json.RawMessage `json:"input,omitempty"`
	// Outcome is the answer (or timeout default) as JSON, once closed.
	Outcome json.RawMessage `json:"outcome,omitempty"`
	// CompletedBy is the user who completed the task; Closed is when it
	// was completed, timed out, canceled or failed (zero while open).
	CompletedBy string    `json:"completed_by,omitempty"`
	Closed      time.Time `json:"closed,omitzero"`
	Comments    []Comment `json:"comments,omitempty"`
	// Audit is every action taken on the task, in order.
	Audit []AuditEntry `json:"audit"`
}

// Comment is a note a user left on a task.
type Comment struct {
	At   time.Time `json:"at"`
	User string    `json:"user"`
	Text string    `json:"text"`
}

// AuditEntry is one action on a task: created, fallback, assigned,
// notified, notify-failed, claimed, released, reassigned, escalated,
// escalation-failed, commented, completed, timed-out, canceled, failed.
// User is who acted ("" for the workflow itself); At is the run's time.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	User   string    `json:"user,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// TasksQuery is the query every run that called [Enable] answers with its
// tasks, open and closed, in the order they were asked.
var TasksQuery = workflow.NewQuery[struct{}, []TaskView]("human.tasks")

// action is the argument of every task update: the task, the acting user
// and the groups the directory gave them when they acted (journaled with
// the update, so the audit says why they were let in), and what the action
// needs.
type action struct {
	Task    string          `json:"task"`
	User    string          `json:"user"`
	Groups  []string        `json:"groups,omitempty"`
	Outcome json.RawMessage `json:"outcome,omitempty"`
	ToUser  string          `json:"to_user,omitempty"`
	ToGroup string          `json:"to_group,omitempty"`
	Text    string          `json:"text,omitempty"`
}

var (
	claimUpdate    = workflow.NewUpdate[action, TaskView]("human.claim")
	releaseUpdate  = workflow.NewUpdate[action, TaskView]("human.release")
	completeUpdate = workflow.NewUpdate[action, TaskView]("human.complete")
	reassignUpdate = workflow.NewUpdate[action, TaskView]("human.reassign")
	commentUpdate  = workflow.NewUpdate[action, TaskView]("human.comment")
)

// The search attributes that let [Inbox.List] find runs with open tasks.
// AttrAssignee holds the user holding the run's open task and AttrGroup
// its group ("-" for none); both hold "*" while the run has several open
// tasks.
var (
	AttrOpen     = chorus.NewBool("human.open")
	AttrAssignee = chorus.NewKeyword("human.assignee")
	AttrGroup    = chorus.NewKeyword("human.group")
)

// MaxCommentBytes is the longest comment [Inbox.Comment] takes.
const MaxCommentBytes = 4096

const taskClosedType = "human.task-closed"

type deskKey struct{}

// desk is a run's tasks.
type desk struct {
	runID   string
	seq     int
	tasks   []*taskState
	byID    map[string]*taskState
	indexed [3]string // the last upserted attributes
}

type taskState struct {
	TaskView
	done   workflow.Channel[struct{}]
	decode func([]byte) error
}

// AuditMarkerPrefix begins the name of the marker each audit entry is
// journaled as ("human.task.claimed"), with [AuditMarker] details, so that
// a tool reading the journal (chorus history, the dashboard) sees the
// trail without running the workflow's code.
const AuditMarkerPrefix = "human.task."

// AuditMarker is the details of an audit entry's marker. Its JSON fields
// are stable: tools (the KPIs, chorusotel's metrics) read them.
type AuditMarker struct {
	Task   string `json:"task"`
	User   string `json:"user,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Created is when the task was asked, and Group the group it is
	// assigned to after this entry (empty when a user holds it alone), so
	// that an entry is measured without the ones before it (a process that
	// restarted did not see them). Claims counts the task's "claimed"
	// entries up to this one. Journals written before they existed lack
	// them.
	Created time.Time `json:"created,omitzero"`
	Group   string    `json:"group,omitempty"`
	Claims  int       `json:"claims,omitempty"`
}

// record adds an audit entry and journals it as a marker.
func (ts *taskState) record(ctx workflow.Context, what, user, detail string) {
	ts.Audit = append(ts.Audit, AuditEntry{At: workflow.Now(ctx), Action: what, User: user, Detail: detail})
	claims := 0
	for _, e := range ts.Audit {
		if e.Action == "claimed" {
			claims++
		}
	}
	workflow.RecordMarker(ctx, AuditMarkerPrefix+what, AuditMarker{Task: ts.ID, User: user, Detail: detail,
		Created: ts.Created, Group: ts.Group, Claims: claims})
}

// close gives the task its final state, at the run's time.
func (ts *taskState) close(ctx workflow.Context, s State) {
	ts.State, ts.Closed = s, workflow.Now(ctx)
}

func (ts *taskState) view() TaskView {
	v := ts.TaskView
	v.Comments = slices.Clone(v.Comments)
	v.Audit = slices.Clone(v.Audit)
	return v
}

// summary is the task without its context, comments and audit: what an
// update returns, journaled as its result, which must stay small whatever
// the size of the task's context.
func (ts *taskState) summary() TaskView {
	v := ts.TaskView
	v.Input, v.Comments, v.Audit = nil, nil, nil
	return v
}

func (d *desk) add(ts *taskState) {
	d.tasks = append(d.tasks, ts)
	d.byID[ts.ID] = ts
}

// Enable sets the run up for human tasks now: it registers the query and
// the update handlers through which the [Inbox] reads and acts on the
// run's tasks, which the first [Ask] does otherwise. It returns ctx; calling
// it again, or after an Ask, changes nothing.
func Enable(ctx workflow.Context) workflow.Context {
	deskOf(ctx)
	return ctx
}

// deskOf returns the run's desk, setting it up (its query and update
// handlers) the first time.
func deskOf(ctx workflow.Context) *desk {
	if d, _ := workflow.RunValue(ctx, deskKey{}).(*desk); d != nil {
		return d
	}
	d := &desk{runID: workflow.GetInfo(ctx).RunID, byID: map[string]*taskState{}}
	workflow.SetRunValue(ctx, deskKey{}, d)
	workflow.SetQueryHandler(ctx, TasksQuery, func(struct{}) ([]TaskView, error) {
		out := make([]TaskView, 0, len(d.tasks))
		for _, ts := range d.tasks {
			out = append(out, ts.view())
		}
		return out, nil
	})
	for _, u := range []struct {
		upd *workflow.Update[action, TaskView]
		do  func(ctx workflow.Context, ts *taskState, a action)
	}{
		{claimUpdate, d.claim},
		{releaseUpdate, d.release},
		{completeUpdate, d.complete},
		{reassignUpdate, d.reassign},
		{commentUpdate, d.comment},
	} {
		name := u.upd.Name()[len("human."):]
		workflow.SetUpdateHandler(ctx, u.upd, func(ctx workflow.Context, a action) (TaskView, error) {
			ts := d.byID[a.Task]
			if ts == nil || ts.State.Closed() {
				// Validated when accepted; only an update accepted in
				// the same step as one that closed the task gets here.
				return TaskView{}, activity.NewError(taskClosedType, "task %q is closed", a.Task)
			}
			u.do(ctx, ts, a)
			d.index(ctx)
			return ts.summary(), nil
		}, &workflow.UpdateOptions[action]{Validator: func(a action) error {
			if err := d.check(name, a); err != nil {
				return &TaskError{Action: name, RunID: d.runID, Task: a.Task, User: a.User, Err: err}
			}
			return nil
		}})
	}
	return d
}

// may reports whether the user may act on the task: they are its
// assignee, its claimant, or a member of its group.
func (ts *taskState) may(user string, groups []string) bool {
	return user == ts.Assignee || user == ts.ClaimedBy || (ts.Group != "" && slices.Contains(groups, ts.Group))
}

// check is every update's validator: it refuses, before anything is
// written, an action the task's state does not allow.
func (d *desk) check(name string, a action) error {
	ts := d.byID[a.Task]
	switch {
	case ts == nil:
		return ErrUnknownTask
	case a.User == "":
		return fmt.Errorf("%w: no user", ErrBadRequest)
	case ts.State.Closed():
		return fmt.Errorf("%w: it is %s", ErrTaskClosed, ts.State)
	}
	if name == "release" {
		if ts.ClaimedBy != a.User {
			return ErrNotClaimed
		}
		return nil
	}
	if !ts.may(a.User, a.Groups) {
		return fmt.Errorf("%w: it is assigned to %s", ErrNotAuthorized, holder(ts.Assignee, ts.Group))
	}
	if name != "comment" && ts.ClaimedBy != "" && ts.ClaimedBy != a.User {
		return fmt.Errorf("%w: %s holds it", ErrAlreadyClaimed, ts.ClaimedBy)
	}
	switch name {
	case "complete":
		if err := ts.decode(a.Outcome); err != nil {
			return fmt.Errorf("%w for task %s: %v", ErrInvalidOutcome, ts.Name, err)
		}
	case "reassign":
		if a.ToUser == "" && a.ToGroup == "" {
			return fmt.Errorf("%w: reassignment to nobody", ErrBadRequest)
		}
	case "comment":
		if a.Text == "" || len(a.Text) > MaxCommentBytes {
			return fmt.Errorf("%w: a comment must have 1 to %d bytes, this one has %d", ErrBadRequest, MaxCommentBytes, len(a.Text))
		}
	}
	return nil
}

func (d *desk) claim(ctx workflow.Context, ts *taskState, a action) {
	if ts.ClaimedBy == a.User {
		return
	}
	ts.ClaimedBy, ts.State = a.User, StateClaimed
	ts.record(ctx, "claimed", a.User, "")
}

func (d *desk) release(ctx workflow.Context, ts *taskState, a action) {
	ts.ClaimedBy, ts.State = "", StateOpen
	ts.record(ctx, "released", a.User, "")
}

func (d *desk) complete(ctx workflow.Context, ts *taskState, a action) {
	ts.close(ctx, StateCompleted)
	ts.Outcome, ts.CompletedBy, ts.ClaimedBy = a.Outcome, a.User, a.User
	ts.record(ctx, "completed", a.User, string(a.Outcome))
	ts.done.SendAsync(struct{}{})
}

func (d *desk) reassign(ctx workflow.Context, ts *taskState, a action) {
	from := holder(ts.Assignee, ts.Group)
	ts.Assignee, ts.Group, ts.ClaimedBy, ts.State = a.ToUser, a.ToGroup, "", StateOpen
	ts.record(ctx, "reassigned", a.User, "from "+from+" to "+holder(a.ToUser, a.ToGroup))
	d.notify(ctx, ts, "reassigned")
}

func (d *desk) comment(ctx workflow.Context, ts *taskState, a action) {
	now := workflow.Now(ctx)
	ts.Comments = append(ts.Comments, Comment{At: now, User: a.User, Text: a.Text})
	ts.record(ctx, "commented", a.User, a.Text)
}

// index keeps the run's search attributes in step with its open tasks.
func (d *desk) index(ctx workflow.Context) {
	var open []*taskState
	for _, ts := range d.tasks {
		if !ts.State.Closed() {
			open = append(open, ts)
		}
	}
	attrs := [3]string{"false", "-", "-"}
	switch len(open) {
	case 0:
	case 1:
		attrs[0] = "true"
		if h := open[0].ClaimedBy; h != "" {
			attrs[1] = h
		} else if open[0].Assignee != "" {
			attrs[1] = open[0].Assignee
		}
		if open[0].Group != "" {
			attrs[2] = open[0].Group
		}
	default:
		attrs = [3]string{"true", "*", "*"}
	}
	if attrs == d.indexed {
		return
	}
	d.indexed = attrs
	if err := workflow.UpsertSearchAttributes(ctx, AttrOpen.Value(attrs[0] == "true"), AttrAssignee.Value(attrs[1]), AttrGroup.Value(attrs[2])); err != nil {
		workflow.Logger(ctx).Warn("human: cannot index the run's open tasks; the inbox will not list them", "error", err)
	}
}

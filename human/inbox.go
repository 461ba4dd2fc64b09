package human

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/workflow"
)

// Inbox is the application's side of human tasks, outside workflow code:
// it lists the open tasks a user may act on and carries out their actions
// as updates of the task's run, attributed to the user. The actions return
// the task as it is after the action, without its context, comments and
// audit (those are journaled as the update's result, kept small); read the
// whole task with [Inbox.Task].
//
// Every action is checked twice: the Inbox looks the user up in the
// [Directory] (an unknown user is refused), and the run's validator
// decides from the task's journaled state whether this user may do this
// now. A refusal is a [*TaskError] and writes nothing.
type Inbox struct {
	eng *chorus.Engine
	dir Directory
}

// NewInbox returns an inbox over the engine's runs and the directory.
func NewInbox(eng *chorus.Engine, dir Directory) *Inbox { return &Inbox{eng: eng, dir: dir} }

// List returns the open tasks the user may act on: assigned to them,
// claimed by them, or assigned to one of their groups and not claimed by
// someone else. Tasks come by priority (highest first), then due time
// (soonest first; no deadline last), then creation.
//
// It finds candidate runs through the search attributes [AttrOpen],
// [AttrAssignee] and [AttrGroup], then asks each run ([TasksQuery]) for its
// exact task state.
func (b *Inbox) List(ctx context.Context, user string) ([]TaskView, error) {
	u, err := b.dir.User(ctx, user)
	if err != nil {
		return nil, err
	}
	filters := []chorus.AttrFilter{AttrAssignee.Is(user), AttrAssignee.Is("*")}
	for _, g := range u.Groups {
		filters = append(filters, AttrGroup.Is(g))
	}
	return b.find(ctx, filters, func(v TaskView) bool {
		ts := taskState{TaskView: v}
		return ts.may(user, u.Groups) && (v.ClaimedBy == "" || v.ClaimedBy == user)
	})
}

// ListGroup returns the open tasks assigned to the group, claimed or not,
// in the order of [Inbox.List]: a team lead's view of the group's queue.
// It checks no user; the application decides who may see it.
func (b *Inbox) ListGroup(ctx context.Context, group string) ([]TaskView, error) {
	return b.find(ctx, []chorus.AttrFilter{AttrGroup.Is(group), AttrGroup.Is("*")}, func(v TaskView) bool {
		return v.Group == group
	})
}

// find lists the running runs with open tasks that match any of filters,
// queries each once, and returns their open tasks that keep accepts,
// sorted.
func (b *Inbox) find(ctx context.Context, filters []chorus.AttrFilter, keep func(TaskView) bool) ([]TaskView, error) {
	seen := map[string]bool{}
	var out []TaskView
	for _, f := range filters {
		opts := &chorus.ListOptions{
			Attrs:    []chorus.AttrFilter{AttrOpen.Is(true), f},
			Statuses: []chorus.RunStatus{chorus.StatusRunning},
			Limit:    200,
		}
		for {
			runs, next, err := b.eng.ListPage(ctx, opts)
			if err != nil {
				return nil, err
			}
			for _, r := range runs {
				if seen[r.ID] {
					continue
				}
				seen[r.ID] = true
				views, err := chorus.Query(ctx, b.eng, r.ID, TasksQuery, struct{}{})
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					continue // ended or blocked meanwhile: nothing to act on
				}
				for _, v := range views {
					if !v.State.Closed() && keep(v) {
						out = append(out, v)
					}
				}
			}
			if next == "" {
				break
			}
			opts.Cursor = next
		}
	}
	slices.SortStableFunc(out, func(a, b TaskView) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		switch {
		case a.Due.IsZero() && !b.Due.IsZero():
			return 1
		case !a.Due.IsZero() && b.Due.IsZero():
			return -1
		}
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return a.Created.Compare(b.Created)
	})
	return out, nil
}

// Task returns one task of a run, open or closed.
func (b *Inbox) Task(ctx context.Context, runID, taskID string) (TaskView, error) {
	views, err := chorus.Query(ctx, b.eng, runID, TasksQuery, struct{}{})
	if err != nil {
		if errors.Is(err, chorus.ErrUnknownQuery) || errors.Is(err, chorus.ErrRunNotFound) {
			return TaskView{}, &TaskError{Action: "read", RunID: runID, Task: taskID, Err: fmt.Errorf("%w: %v", ErrUnknownTask, err)}
		}
		return TaskView{}, err
	}
	for _, v := range views {
		if v.ID == taskID {
			return v, nil
		}
	}
	return TaskView{}, &TaskError{Action: "read", RunID: runID, Task: taskID, Err: ErrUnknownTask}
}

// Audit returns the task's audit trail: every action, who took it and
// when, in order. The same entries are in [TaskView].Audit.
func (b *Inbox) Audit(ctx context.Context, runID, taskID string) ([]AuditEntry, error) {
	v, err := b.Task(ctx, runID, taskID)
	return v.Audit, err
}

// Claim makes the user the task's holder: others of its group can no
// longer claim or complete it until they release it.
func (b *Inbox) Claim(ctx context.Context, user, runID, taskID string) (TaskView, error) {
	return b.act(ctx, claimUpdate, user, runID, action{Task: taskID})
}

// Release gives a claimed task back to its assignee or group. Only its
// holder may release it.
func (b *Inbox) Release(ctx context.Context, user, runID, taskID string) (TaskView, error) {
	return b.act(ctx, releaseUpdate, user, runID, action{Task: taskID})
}

// Complete answers the task with outcome, which must encode (as JSON) to a
// value that decodes into the task's outcome type without unknown fields;
// a json.RawMessage is taken as it is. Anything else is refused with
// [ErrInvalidOutcome] and the task stays open. An unclaimed task may be
// completed directly by whoever may claim it. The workflow's [Ask]
// returns the outcome; a second completion is refused with
// [ErrTaskClosed].
func (b *Inbox) Complete(ctx context.Context, user, runID, taskID string, outcome any) (TaskView, error) {
	raw, err := json.Marshal(outcome)
	if err != nil {
		return TaskView{}, &TaskError{Action: "complete", RunID: runID, Task: taskID, User: user, Err: fmt.Errorf("%w: %v", ErrInvalidOutcome, err)}
	}
	return b.act(ctx, completeUpdate, user, runID, action{Task: taskID, Outcome: raw})
}

// Complete is [Inbox.Complete] with the outcome typed by the task kind, so
// that a wrong outcome type does not compile.
func Complete[In, Out any](ctx context.Context, b *Inbox, t *Task[In, Out], user, runID, taskID string, outcome Out) (TaskView, error) {
	return b.Complete(ctx, user, runID, taskID, outcome)
}

// Reassign gives the task to another user or group (either may be empty,
// not both); a claim is dropped and the new holder is notified. The user
// must be allowed to act on the task, and a new assignee must be known to
// the directory and not absent.
func (b *Inbox) Reassign(ctx context.Context, user, runID, taskID, toUser, toGroup string) (TaskView, error) {
	fail := func(err error) (TaskView, error) {
		return TaskView{}, &TaskError{Action: "reassign", RunID: runID, Task: taskID, User: user, Err: err}
	}
	if toUser != "" {
		u, err := b.dir.User(ctx, toUser)
		if err != nil {
			return fail(err)
		}
		if u.Absent {
			return fail(fmt.Errorf("%w: %s", ErrUnavailable, toUser))
		}
	}
	if toGroup != "" {
		if _, err := b.dir.Members(ctx, toGroup); err != nil {
			return fail(err)
		}
	}
	return b.act(ctx, reassignUpdate, user, runID, action{Task: taskID, ToUser: toUser, ToGroup: toGroup})
}

// Comment adds a note (1 to [MaxCommentBytes] bytes) to the task, visible
// to whoever handles it next. Whoever may claim the task may comment, also
// while someone else holds it.
func (b *Inbox) Comment(ctx context.Context, user, runID, taskID, text string) (TaskView, error) {
	return b.act(ctx, commentUpdate, user, runID, action{Task: taskID, Text: text})
}

// act sends one action to the task's run as an update, made with the
// user's identity.
func (b *Inbox) act(ctx context.Context, upd *workflow.Update[action, TaskView], user, runID string, a action) (TaskView, error) {
	name := upd.Name()[len("human."):]
	fail := func(err error) (TaskView, error) {
		return TaskView{}, &TaskError{Action: name, RunID: runID, Task: a.Task, User: user, Err: err}
	}
	if user == "" {
		return fail(fmt.Errorf("%w: no user", ErrBadRequest))
	}
	u, err := b.dir.User(ctx, user)
	if err != nil {
		return fail(err)
	}
	a.User, a.Groups = user, u.Groups
	v, err := chorus.Update(chorus.WithIdentity(ctx, user), b.eng, runID, upd, a)
	if err == nil {
		return v, nil
	}
	var te *TaskError
	var ue *chorus.UpdateError
	switch {
	case errors.As(err, &te):
		return TaskView{}, te
	case errors.Is(err, chorus.ErrRunEnded):
		return fail(fmt.Errorf("%w: run %q has ended", ErrTaskClosed, runID))
	case errors.Is(err, chorus.ErrUnknownUpdate), errors.Is(err, chorus.ErrRunNotFound):
		return fail(fmt.Errorf("%w: %v", ErrUnknownTask, err))
	case errors.As(err, &ue) && ue.Type == taskClosedType:
		return fail(fmt.Errorf("%w: %s", ErrTaskClosed, ue.Message))
	}
	return fail(err)
}

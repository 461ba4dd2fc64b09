package human

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
)

// Notice is what a [Notifier] is told when a task is assigned, reassigned
// or escalated.
type Notice struct {
	// Event is "assigned", "reassigned" or "escalated".
	Event string `json:"event"`
	// RunID and TaskID name the task; Task is its name ([NewTask]).
	RunID  string `json:"run_id"`
	TaskID string `json:"task_id"`
	Task   string `json:"task"`
	// Assignee and Group say who holds the task now.
	Assignee string `json:"assignee,omitempty"`
	Group    string `json:"group,omitempty"`
	// Priority and Due are the task's (Due is zero without a deadline).
	Priority int       `json:"priority,omitempty"`
	Due      time.Time `json:"due,omitzero"`
	// Users are the directory entries of who should hear of it: the
	// assignee, or the members of the group.
	Users []User `json:"users,omitempty"`
}

// Notifier tells people about tasks (email, chat, a webhook). It is called
// from an activity, with a bounded number of attempts: a notifier that
// keeps failing never blocks or fails the workflow; the failure is
// recorded in the task's audit ("notify-failed") and the task goes on.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// NotifierFunc adapts a function to [Notifier].
type NotifierFunc func(ctx context.Context, n Notice) error

// Notify implements [Notifier].
func (f NotifierFunc) Notify(ctx context.Context, n Notice) error { return f(ctx, n) }

// Activity names. Definitions returns their implementations; a workflow
// that calls [Ask] runs on an engine where they are registered.
const (
	AssignActivity = "human.assign"
	NotifyActivity = "human.notify"
)

// The workflow side of the activities: name and types only. Definitions
// builds the implementations under the same names.
var (
	assignAct = activity.New(AssignActivity, func(context.Context, assignIn) (assignOut, error) {
		return assignOut{}, activity.NonRetryable(errNotRegistered)
	})
	notifyAct = activity.New(NotifyActivity, func(context.Context, Notice) (struct{}, error) {
		return struct{}{}, activity.NonRetryable(errNotRegistered)
	})
)

const noAssigneeType = "human.no-assignee"

var errNotRegistered = activity.NewError("human.not-registered", "register human.Definitions(dir, notifier) with the engine")

// NotifyAttempts is how many times the notify activity tries a failing
// [Notifier] (one second apart, then doubling, on the engine's clock)
// before it records the failure and gives up.
const NotifyAttempts = 3

var (
	assignOpts = activity.Options{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &activity.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	}
	notifyOpts = activity.Options{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &activity.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: NotifyAttempts},
	}
)

// Definitions returns the package's activities, bound to the application's
// directory and notifier, to register with the engine
// (chorus.Options.Definitions or Engine.Register) next to the workflows
// that call [Ask]. A nil notifier notifies nobody.
func Definitions(dir Directory, n Notifier) []chorus.Definition {
	return []chorus.Definition{
		activity.New(AssignActivity, func(ctx context.Context, in assignIn) (assignOut, error) {
			if err := in.Assign.check(); err != nil {
				return assignOut{}, activity.NonRetryable(err)
			}
			if in.Fallback != nil {
				if err := in.Fallback.check(); err != nil {
					return assignOut{}, activity.NonRetryable(err)
				}
			}
			out, err := resolve(ctx, dir, in)
			if errors.Is(err, ErrNoAssignee) {
				// Final: retrying would only delay the workflow's answer.
				e := activity.NewError(noAssigneeType, "%s", strings.TrimPrefix(err.Error(), ErrNoAssignee.Error()+": "))
				e.NonRetryable = true
				return out, e
			}
			return out, err
		}),
		activity.New(NotifyActivity, func(ctx context.Context, nt Notice) (struct{}, error) {
			if n == nil {
				return struct{}{}, nil
			}
			switch {
			case nt.Assignee != "":
				if u, err := dir.User(ctx, nt.Assignee); err == nil {
					nt.Users = []User{u}
				}
			case nt.Group != "":
				if ms, err := dir.Members(ctx, nt.Group); err == nil {
					nt.Users = available(ms)
				}
			}
			return struct{}{}, n.Notify(ctx, nt)
		}),
	}
}

// Package human asks people for decisions from workflow code: durable,
// typed human tasks with assignment, deadlines, escalation, an inbox and
// an audit trail, built on the public workflow API alone.
//
// Declare a task kind with the type of its context and of its answer, and
// ask it from a workflow:
//
//	var Review = human.NewTask[ClaimContext, Decision]("claim-review")
//
//	var ClaimFlow = workflow.New("claim", func(ctx workflow.Context, c Claim) (Decision, error) {
//		return human.Ask(ctx, Review, ClaimContext{Claim: c}, &human.Options{
//			Assign:    human.ToGroup("adjusters"),
//			Priority:  2,
//			Deadline:  48 * time.Hour,
//			Escalate:  []human.Step{{After: 24 * time.Hour, Assign: human.ToGroup("senior-adjusters")}},
//			OnTimeout: human.Default(Decision{Outcome: "refer"}),
//		})
//	})
//
// Register the package's activities next to the workflow, bound to the
// application's people and notifier, and serve the inbox:
//
//	eng, err := chorus.Open(ctx, "app.db", &chorus.Options{
//		Definitions: append(human.Definitions(dir, human.Webhook(url, secret)), ClaimFlow),
//	})
//	inbox := human.NewInbox(eng, dir)
//	tasks, err := inbox.List(ctx, "ann")
//	_, err = inbox.Complete(ctx, "ann", tasks[0].RunID, tasks[0].ID, Decision{Outcome: "approve"})
//
// # State lives in the run
//
// A task is workflow state. [Enable] registers, for the run, the query
// [TasksQuery] (every task with its context, holder, due time, state,
// comments and audit) and one update per action: human.claim,
// human.release, human.complete, human.reassign and human.comment. Each
// update's validator decides from the task's state whether the acting user
// may do this now; a refusal writes nothing. An accepted action is
// journaled (the update's argument names the user and the groups the
// directory gave them), so the task replays exactly after a crash, a
// SIGKILL or a restart, and the journal is its audit. The deadline and the
// escalations are durable timers raced in a selector against the answer;
// they fire after a restart and skip ahead on chorustest's fake clock.
//
// The first [Ask] of a run sets the run up: it registers the query and the
// update handlers through which the [Inbox] reads and acts on the run's
// tasks, and keeps the run's tasks with workflow.SetRunValue, so several
// tasks (also open at the same time, from workflow.Go) share them. [Enable]
// does the same earlier, for a run whose task list should answer (empty)
// before its first task.
//
// Each task's ID is its name and its rank among the run's tasks
// ("claim-review-1"), stable on replay.
//
// # Who answered
//
// [Ask] returns the answer only. [AskFor] returns a [Result]: the answer
// (Value), the user who completed the task (By: the user the [Inbox]
// authorized and journaled with the completion, not a name written into
// the answer), the task's ID, whether its deadline passed (TimedOut, By
// empty), how many escalation steps it took, and when it was asked and
// answered (the run's time). All of it is the run's own state, rebuilt
// from its journal on replay, so workflow code can record who decided
// without an activity:
//
//	r, err := human.AskFor(ctx, Review, claimCtx, opts)
//	if err != nil {
//		return err
//	}
//	log := Approval{Outcome: r.Value.Outcome, By: r.By, After: r.DecidedAt.Sub(r.CreatedAt)}
//
// [TaskView].Closed is when a task was completed, timed out, canceled or
// failed.
//
// # Assignment
//
// Who takes a task is resolved in an activity (human.assign), against the
// application's [Directory] (users, groups, skills, absence), so the
// answer is journaled and replay never asks again:
//
//   - [ToUser]: one user.
//   - [ToGroup]: any member of the group may claim and complete it;
//     membership is read from the directory when the member acts.
//   - [RoundRobin]: one available member of the group, taking turns.
//   - [BySkill]: one available user with every skill, taking turns.
//
// The turns are a counter the directory keeps ([Directory].NextTurn):
// shared by every run and kept across restarts by the application's
// store, while the pick itself is journaled as the activity's result (a
// retried activity may skip a turn, never repeat a pick in one run).
//
// An absent user (or a group with nobody available) is replaced by
// [Options].Fallback, or else by the user's first group (ToUser) or the
// group itself (RoundRobin); the audit records a "fallback" entry with the
// reason. When nobody at all can take the task, Ask fails with an error
// wrapping [ErrNoAssignee] and the task ends as failed.
//
// # Deadlines and escalation
//
// [Options].Deadline is the SLA from the task's creation. Each
// [Options].Escalate step fires at its After while the task is still open:
// it raises the priority, reassigns (dropping a claim) when it has an
// Assign, and notifies. When the deadline passes, Ask returns the value of
// [Default] (recorded as the outcome, state timed-out), or with [Fail] an
// error wrapping [ErrTimedOut]. A canceled run closes its open tasks as
// canceled. The timers of an answered task are canceled.
//
// # Inbox and authorization
//
// [Inbox] works outside workflow code. [Inbox.List] finds candidate runs
// through the search attributes [AttrOpen], [AttrAssignee] and [AttrGroup]
// (one indexed lookup per group of the user), then queries each run for
// its exact task state and keeps the tasks the user may act on. A run with
// several open tasks indexes "*" and is queried by every List.
// [Inbox.ListGroup] lists a group's open tasks, claimed or not.
//
// Only the task's assignee, its claimant, or a member of its assigned
// group may claim, complete, reassign or comment on it; only the claimant
// may release it. A claimed task is closed to the rest of its group. A
// refused action returns a [*TaskError] wrapping [ErrNotAuthorized],
// [ErrAlreadyClaimed], [ErrNotClaimed], [ErrTaskClosed],
// [ErrInvalidOutcome], [ErrUnknownTask], [ErrUnknownUser] or
// [ErrBadRequest], and nothing is written. An outcome must decode, as
// JSON without unknown fields, into the task's outcome type; the first
// completion closes the task and every later one is refused with
// [ErrTaskClosed], so the workflow sees exactly one answer.
//
// The acting user is journaled in each update's argument and in the audit.
// The inbox also passes chorus.WithIdentity(ctx, user) with each update.
//
// # Audit
//
// Every task keeps its audit trail ([TaskView].Audit, [Inbox.Audit]):
// created, fallback, assigned, notified, notify-failed, claimed, released,
// reassigned, escalated, escalation-failed, commented, completed,
// timed-out, canceled, failed; each with the run's time, the user ("" for
// the workflow itself) and a detail. Each entry is also journaled as a
// marker named [AuditMarkerPrefix] and the action ("human.task.claimed"),
// with [AuditMarker] details, so tools that read the journal (chorus
// history, the dashboard) show the trail without running workflow code.
// The trail is rebuilt from the journal, so it is the same after a
// restart and for ended runs.
//
// # Notifications
//
// A [Notifier] is told of each assignment, reassignment and escalation
// from an activity (human.notify) that runs beside the task: Ask never
// waits for it. A notifier that fails is tried [NotifyAttempts] times on
// the engine's clock, then the failure is recorded ("notify-failed") and
// the task goes on; a notification still running when the run ends is
// dropped. [Webhook] posts signed JSON ([SignatureHeader],
// [VerifyWebhook]).
//
// # Registration
//
// [Definitions] returns the activities human.assign and human.notify bound
// to a directory and a notifier; register them with every engine that
// runs workflows calling Ask.
package human

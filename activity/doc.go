// Package activity is what activity code imports.
//
// An activity is an ordinary Go function that does the work a workflow
// orchestrates: calls an API, writes to a database, sends an email. Define it
// once, under a stable name that the journal records:
//
//	var Charge = activity.New("charge-card", func(ctx context.Context, in ChargeReq) (Receipt, error) {
//		info := activity.GetInfo(ctx)
//		return payments.Charge(ctx, in, info.IdempotencyKey)
//	})
//
// An activity with nothing to return is defined with [NewVoid] and returns
// only an error.
//
// # Execution guarantees
//
// The engine runs an activity at least once and records its outcome exactly
// once. If the process dies while an activity runs, the activity runs again
// after the engine reopens the database, so activities that touch other
// systems should be idempotent; [Info.IdempotencyKey] is stable across
// retries and crashes and is meant to be handed to external APIs.
//
// # Failures and retries
//
// A returned error is retried according to the [RetryPolicy] in force
// (exponential backoff with jitter). Mark an error as final with
// [NonRetryable], or give it a type with [NewError] and list that type in
// [RetryPolicy.NonRetryableErrorTypes]. A panic inside an activity is
// recovered and treated as a retryable failure; it never crashes the engine.
//
// # Completion from outside
//
// An activity whose result comes from elsewhere (a webhook, a callback, a
// person) hands its [Info.IdempotencyKey] over and returns
// [ErrResultPending]. The engine journals that the attempt is pending, so
// it is neither retried nor run again after a restart, until
// chorus.CompleteActivity or chorus.FailActivity gives its outcome by that
// key (from any goroutine, even before the attempt has returned). A
// start-to-close timeout still bounds the attempt.
//
// # Heartbeats and cancellation
//
// A long activity calls [Heartbeat] with its progress; the details are
// journaled at a bounded rate, so the next attempt, even after a crash,
// resumes from [HeartbeatDetails]. When the workflow cancels an activity,
// its attempt's context is canceled and the workflow goes on at once;
// with [Options].WaitForCancellation the workflow waits until the attempt
// has returned (its cleanup done).
package activity

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
package activity

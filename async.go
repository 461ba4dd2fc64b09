package chorus

import (
	"context"
	"fmt"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/internal/engine"
)

// Errors of asynchronous activity completion ([CompleteActivity],
// [FailActivity]); test for them with errors.Is.
var (
	// ErrActivityNotFound: the key names no activity of its run, names an
	// activity of another name than the definition given, or is not an
	// activity key at all.
	ErrActivityNotFound = engine.ErrActivityNotFound
	// ErrActivityCompleted: the activity already has an outcome. An
	// activity is completed once; a second completion changes nothing and
	// returns this error.
	ErrActivityCompleted = engine.ErrActivityCompleted
)

// CompleteActivity completes, from outside the engine, the activity whose
// idempotency key is key, with result: the result its future in the
// workflow gets. It is for activities that returned
// [activity.ErrResultPending] and handed their key
// ([activity.Info].IdempotencyKey) to a webhook, a callback or a person. It
// returns once the result is journaled, so it survives a crash; it may be
// called from any goroutine or process that has the engine open, and
// before the attempt has even returned (the attempt's own outcome is then
// ignored).
//
// def is the activity's definition: it types result, and the key must
// belong to an activity of its name. Errors: a malformed key, or one that
// names no activity of def's name in its run, is [ErrActivityNotFound]; an
// unknown run is [ErrRunNotFound]; an activity completed (or failed) before
// is [ErrActivityCompleted]; an activity whose scope was canceled before the
// completion is [ErrCanceled]; a run that has ended is [ErrRunEnded]; a
// blocked run is a [*BlockedError]; a result over the payload limit is a
// [*LimitError].
func CompleteActivity[In, Out any](ctx context.Context, e *Engine, def *activity.Definition[In, Out], key string, result Out) error {
	if def == nil {
		return fmt.Errorf("chorus: CompleteActivity: nil activity definition")
	}
	b, err := e.codec.Marshal(result)
	if err != nil {
		return &PayloadError{What: fmt.Sprintf("result of activity %q", def.Name()), Err: err}
	}
	return publicErr(e.core.CompleteActivity(ctx, key, def.Name(), b, nil))
}

// FailActivity fails, from outside the engine, the activity whose
// idempotency key is key, with err, as if its attempt had returned err:
// while the attempt is pending, the activity's retry policy decides
// whether the failure is final (an [*activity.Error] marked non-retryable,
// a type listed in NonRetryableErrorTypes, the last allowed attempt) or the
// activity is retried, running its function again (which may return
// [activity.ErrResultPending] again, under the same key). A failure given
// before the attempt has returned is final. It returns once the outcome is
// journaled. Its errors are those of [CompleteActivity]; a nil err is an
// error.
func FailActivity(ctx context.Context, e *Engine, key string, err error) error {
	return publicErr(e.core.FailActivity(ctx, key, "", err))
}

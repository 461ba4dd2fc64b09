package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// FuzzDecodeFailure feeds arbitrary bytes to the engine's decoding of a
// stored failure (what RunFailed, ActivityFailed, ChildFailed and blocked
// runs hold) and to BlockedCause, which rebuilds a blocked run's error
// from the failure's details. Neither may panic; a failure that decodes
// must encode and decode to itself, and the error BlockedCause rebuilds
// must print.
//
//	go test -run '^$' -fuzz '^FuzzDecodeFailure$' -fuzztime 60s ./internal/engine
func FuzzDecodeFailure(f *testing.F) {
	e := &Engine{codec: history.JSONCodec{}}
	nde, _ := json.Marshal(&NonDeterminismError{RunID: "r", Workflow: "w", Step: 3, Recorded: "ActivityScheduled \"a\"", Issued: "issues ActivityScheduled \"b\""})
	pd, _ := json.Marshal(panicDetails{Value: "boom", Stack: "goroutine 1"})
	for _, fl := range []*history.Failure{
		{Message: "card declined", Type: "declined", NonRetryable: true, Attempt: 3},
		{Message: "canceled", Type: FailureTypeCanceled, Cause: &history.Failure{Message: "inner", Details: []byte(`{"x":1}`)}},
		{Message: "nd", Type: FailureTypeNonDeterminism, Details: nde},
		{Message: "panic", Type: FailureTypeWorkflowPanic, Details: pd},
		{Message: "bad details", Type: FailureTypeNonDeterminism, Details: []byte(`[1,2`)},
	} {
		f.Add(e.encodeFailure(fl))
	}
	f.Add([]byte(`{"message":"x","cause":{"cause":{"cause":{"message":"deep"}}}}`))
	f.Add([]byte(`{"type":"NonDeterminism","details":"eyJTdGVwIjoiYSJ9"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"attempt":1e400}`))
	f.Add([]byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := e.decodeFailure(data)
		if err != nil {
			require.Nil(t, fl)
			require.NotEmpty(t, err.Error())
			return
		}
		if cause := BlockedCause(fl); cause != nil {
			require.NotEmpty(t, cause.Error())
			var nd *NonDeterminismError
			var pe *PanicError
			require.True(t, errors.As(cause, &nd) || errors.As(cause, &pe), "BlockedCause returns %T", cause)
		}
		b := e.encodeFailure(fl)
		again, err := e.decodeFailure(b)
		require.NoError(t, err, "an encoded failure decodes: %s", b)
		require.True(t, sameFailure(fl, again), "round trip:\n%#v\n%#v", fl, again)
		// Recording the rebuilt failure again keeps it as it was.
		require.True(t, sameFailure(fl, FailureOf(failurer{fl})))
	})
}

// failurer is an error rebuilt from a stored failure.
type failurer struct{ f *history.Failure }

func (f failurer) Error() string             { return f.f.Message }
func (f failurer) Failure() *history.Failure { return f.f }

// sameFailure compares failures, an empty Details being the same as none.
func sameFailure(a, b *history.Failure) bool {
	for a != nil && b != nil {
		if a.Message != b.Message || a.Type != b.Type || a.NonRetryable != b.NonRetryable || a.Attempt != b.Attempt ||
			!bytes.Equal(a.Details, b.Details) {
			return false
		}
		a, b = a.Cause, b.Cause
	}
	return a == nil && b == nil
}

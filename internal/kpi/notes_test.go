package kpi_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/kpi"
)

// retried journals the ActivityRetried note of step ref, as the engine does
// right before the step's outcome.
func (b *jb) retried(ref int64, attempts int, first time.Time, tm time.Time) {
	p, err := history.EncodeActivityRetried(history.ActivityRetried{Attempts: attempts, FirstFailureAt: first,
		LastFailure: &history.Failure{Message: "busy", Attempt: attempts - 1}})
	if err != nil {
		panic(err)
	}
	b.add(history.EventActivityRetried, b.evs[ref-1].Name, ref, p, tm)
}

// TestComputeRetriedNotes: the ActivityRetried note gives a step's attempts
// and when its first attempt failed, which time to detect and time to
// recover start from.
func TestComputeRetriedNotes(t *testing.T) {
	st, _ := openStore(t)

	// Attempts fail at 1 s and 2 s, the third succeeds at 4 s.
	b := newRun("n-recovered", "pay", at(0))
	s := b.sched("charge", at(0))
	b.retried(s, 3, at(1), at(4))
	b.done(s, at(4))
	b.add(history.EventRunCompleted, "", 0, nil, at(5))
	b.commit(t, st, history.StatusCompleted, at(5))

	// The first of 2 attempts fails at 11 s; the run fails at 20 s.
	b = newRun("n-failed", "pay", at(10))
	s = b.sched("charge", at(10))
	b.retried(s, 2, at(11), at(13))
	b.fail(s, 2, "", at(13))
	b.add(history.EventRunFailed, "", 0, []byte(`{"message":"boom"}`), at(20))
	b.commit(t, st, history.StatusFailed, at(20))

	// charge first fails at 21 s, for good at 23 s; scheduled again, it
	// fails once more and succeeds at 30 s: one incident of 9 s.
	b = newRun("n-fallback", "pay", at(20))
	s = b.sched("charge", at(20))
	b.retried(s, 2, at(21), at(23))
	b.fail(s, 2, "", at(23))
	s = b.sched("charge", at(23))
	b.retried(s, 2, at(25), at(30))
	b.done(s, at(30))
	b.add(history.EventRunCompleted, "", 0, nil, at(31))
	b.commit(t, st, history.StatusCompleted, at(31))

	// A note without the first failure's time (written by a version that
	// did not record it): the retries count, the recovery is not timed.
	b = newRun("n-untimed", "pay", at(40))
	s = b.sched("charge", at(40))
	b.retried(s, 4, time.Time{}, at(45))
	b.done(s, at(45))
	b.commit(t, st, history.StatusRunning, at(45))

	// A note that does not decode, and one about a step that has its
	// outcome: damaged journals.
	b = newRun("n-bad-note", "pay", at(50))
	s = b.sched("charge", at(50))
	b.add(history.EventActivityRetried, "charge", s, []byte(`{"attempts":1}`), at(51))
	b.done(s, at(51))
	b.commit(t, st, history.StatusRunning, at(51))
	b = newRun("n-late-note", "pay", at(60))
	s = b.sched("charge", at(60))
	b.done(s, at(61))
	b.retried(s, 2, at(60), at(61))
	b.commit(t, st, history.StatusRunning, at(61))

	ws, err := kpi.Compute(t.Context(), st, kpi.Filter{})
	require.NoError(t, err)
	p := func(ds ...int) kpi.Percentiles { // ds sorted
		d := make([]time.Duration, len(ds))
		for i, s := range ds {
			d[i] = sec(s)
		}
		return kpi.Percentiles{N: len(d), P50: kpi.Percentile(d, 50), P90: kpi.Percentile(d, 90), P95: kpi.Percentile(d, 95),
			P99: kpi.Percentile(d, 99), Max: d[len(d)-1]}
	}
	require.Equal(t, []kpi.Workflow{{
		Name: "pay", Runs: 6, Running: 3, Completed: 2, Failed: 1,
		Duration: p(5, 10, 11),
		// n-recovered 1, n-failed 1, n-fallback 2, n-untimed 1.
		Steps: 5, FailedSteps: 2,
		// 2 + 1 + (1 + 1) + 3.
		RetriedSteps: 5, Retries: 8,
		TimeToDetect:    p(9),
		TimeToRecover:   p(3, 9),
		DamagedJournals: 2,
	}}, ws)
}

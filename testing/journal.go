package chorustest

import (
	"context"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// History returns the run's journal, every generation of it, as the engine
// committed it to the SQLite file, once the env has settled at the current
// fake time (see [Env.Settle]). It fails the test on error.
func (e *Env) History(runID string) []history.Event {
	e.t.Helper()
	e.Settle()
	var events []history.Event
	err := e.call(func(ctx context.Context) (err error) {
		events, err = e.core.Store().Events(ctx, runID, 0)
		return err
	})
	if err != nil {
		e.t.Fatalf("chorustest: read the journal of run %q: %v", runID, err)
	}
	return events
}

// ActivitiesRun returns the names of the activities whose outcome the run's
// journal records (ActivityCompleted and ActivityFailed events), in the
// order they were recorded. Attempts that failed and were retried are not
// outcomes; a mock's [ActivityMock.Calls] counts them.
func (e *Env) ActivitiesRun(runID string) []string {
	e.t.Helper()
	var names []string
	for _, ev := range e.History(runID) {
		if ev.Type == history.EventActivityCompleted || ev.Type == history.EventActivityFailed {
			names = append(names, ev.Name)
		}
	}
	return names
}

// Markers returns the names of the markers the run recorded with
// workflow.RecordMarker (the saga package marks each compensation), in
// order. Their details are the Payload of the EventMarker events of
// [Env.History], where the marker that journals the run's propagated
// context (chorus.ContextPropagator) is also found.
func (e *Env) Markers(runID string) []string {
	e.t.Helper()
	var names []string
	for _, ev := range e.History(runID) {
		if ev.Type == history.EventMarker && ev.Name != engine.HeaderMarker {
			names = append(names, ev.Name)
		}
	}
	return names
}

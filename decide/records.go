package decide

import (
	"context"
	"fmt"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
)

// Records returns the decisions the run's journal records (every
// generation), in journal order, read from its [DecisionMarker] markers.
func Records(ctx context.Context, eng *chorus.Engine, runID string) ([]Decision, error) {
	h, err := chorus.History(ctx, eng, runID)
	if err != nil {
		return nil, fmt.Errorf("decide: records of run %q: %w", runID, err)
	}
	return FromEvents(eng, h.Events)
}

// FromEvents returns the decisions recorded among events, decoded with
// eng's codec. Use it on an exported history (history.Export.Events).
func FromEvents(eng *chorus.Engine, events []history.Event) ([]Decision, error) {
	var out []Decision
	for _, ev := range events {
		if ev.Type != history.EventMarker || ev.Name != DecisionMarker {
			continue
		}
		var d Decision
		if err := eng.DecodeMemo(ev.Payload, &d); err != nil {
			return nil, fmt.Errorf("decide: decision marker at seq %d: %w", ev.Seq, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Summarize counts decisions: automated and manual shares, fallbacks and
// the agreement between the model's suggestions and people.
func Summarize(ds []Decision) Counters {
	var c Counters
	for _, d := range ds {
		c.Add(d)
	}
	return c
}

// Count reads the decisions of the runs opts selects (every run when nil)
// and counts them per model name. It reads each selected run's journal, so
// narrow opts (a workflow, a time range) on a large database.
func Count(ctx context.Context, eng *chorus.Engine, opts *chorus.ListOptions) (map[string]Counters, error) {
	var o chorus.ListOptions
	if opts != nil {
		o = *opts
	}
	out := map[string]Counters{}
	for {
		runs, next, err := eng.ListPage(ctx, &o)
		if err != nil {
			return nil, fmt.Errorf("decide: count: %w", err)
		}
		for _, r := range runs {
			ds, err := Records(ctx, eng, r.ID)
			if err != nil {
				return nil, err
			}
			for _, d := range ds {
				c := out[d.Model]
				c.Add(d)
				out[d.Model] = c
			}
		}
		if next == "" {
			return out, nil
		}
		o.Cursor = next
	}
}

package chorustest

import (
	stdtesting "testing"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// RunActivity runs one attempt of the activity act with input in, outside
// any workflow and engine, and returns its result. The attempt sees info
// through activity.GetInfo (nil means attempt 1; an empty Activity is set to
// act's name and a zero Attempt to 1), and, when prevDetails holds one
// value, that value as the heartbeat details of an earlier attempt
// (activity.HeartbeatDetails). Input and result go through the engine's
// default codec (JSON) as they would in a run, so a payload that does not
// encode fails the test. The error is the activity's own error value.
// The attempt's context is t.Context(); its heartbeats are logged with
// t.Log.
func RunActivity[In, Out any](t stdtesting.TB, act *activity.Definition[In, Out], in In, info *activity.Info, prevDetails ...any) (Out, error) {
	t.Helper()
	var out Out
	var inf activity.Info
	if info != nil {
		inf = *info
	}
	if inf.Activity == "" {
		inf.Activity = act.Name()
	}
	if inf.Attempt == 0 {
		inf.Attempt = 1
	}
	codec := history.JSONCodec{}
	hb := &heartbeats{t: t, name: act.Name(), codec: codec}
	switch len(prevDetails) {
	case 0:
	case 1:
		b, err := codec.Marshal(prevDetails[0])
		if err != nil {
			t.Fatalf("chorustest: RunActivity(%q): encode the previous heartbeat details: %v", act.Name(), err)
		}
		hb.prev = b
	default:
		t.Fatalf("chorustest: RunActivity(%q): %d previous heartbeat details given; at most one", act.Name(), len(prevDetails))
	}
	input, err := codec.Marshal(in)
	if err != nil {
		t.Fatalf("chorustest: RunActivity(%q): encode the input: %v", act.Name(), err)
	}
	ctx := activity.WithHeartbeater(activity.WithInfo(t.Context(), inf), hb)
	b, err := act.Invoke(ctx, codec, input)
	if err != nil {
		return out, err
	}
	if err := codec.Unmarshal(b, &out); err != nil {
		t.Fatalf("chorustest: RunActivity(%q): decode the result: %v", act.Name(), err)
	}
	return out, nil
}

// heartbeats is the activity.Heartbeater of RunActivity: it logs each
// heartbeat with t.Log.
type heartbeats struct {
	t     stdtesting.TB
	name  string
	codec history.Codec
	prev  []byte
}

func (h *heartbeats) RecordHeartbeat(details any) {
	h.t.Logf("chorustest: activity %q heartbeat: %+v", h.name, details)
}

func (h *heartbeats) PreviousDetails(v any) bool {
	return h.prev != nil && h.codec.Unmarshal(h.prev, v) == nil
}

package decide

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// MaxWindow caps Watch.Window.
const MaxWindow = 10_000

// SwitchMarker names the journal marker the drift watch records each time
// the model is switched off or on; its details are a [Switch].
const SwitchMarker = "decide.switch"

// WatchPrefix starts the run ID of a model's drift watch: the watch of the
// model "credit-score" is the run "decide-watch:credit-score".
const WatchPrefix = "decide-watch:"

// Names the package registers (see [Definitions]).
const (
	WatchWorkflowName  = "decide.watch"
	StatusActivityName = "decide.watch-status"
	ReportActivityName = "decide.watch-report"
)

// Search attributes the drift watch keeps on its run, so that a listing
// finds switched-off models (chorus runs list --attr decide.enabled:bool=false).
var (
	AttrModel   = chorus.NewKeyword("decide.model")
	AttrEnabled = chorus.NewBool("decide.enabled")
)

// continueEvery is how many reports a watch generation takes before it
// continues as new, keeping its journal short.
var continueEvery = 500

// maxSwitches is how many switches the watch's state keeps (the journal
// keeps them all as markers).
const maxSwitches = 50

// WatchID returns the run ID of the model's drift watch.
func WatchID(model string) string { return WatchPrefix + model }

// Switch is one change of a model's state: by the watch (By "watch") when
// agreement dropped, or by an operator through [Enable] or [Disable].
type Switch struct {
	Enabled bool      `json:"enabled"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
	// Agreement and Cases are the window's at the time.
	Agreement float64 `json:"agreement"`
	Cases     int     `json:"cases"`
}

// Counters are a model's decision counters: the automated and manual
// shares and the agreement between the model's suggestions and people.
type Counters struct {
	// Decisions counts every decision.
	Decisions int `json:"decisions"`
	// Automated counts decisions the model made; Manual those people made.
	Automated int `json:"automated"`
	Manual    int `json:"manual"`
	// Fallbacks counts manual decisions by their Fallback reason.
	Fallbacks map[Fallback]int `json:"fallbacks,omitempty"`
	// Compared counts people's decisions on cases the model had a
	// suggestion for; Agreed those where they matched.
	Compared int `json:"compared"`
	Agreed   int `json:"agreed"`
}

// AutomatedShare is Automated/Decisions, 0 without decisions.
func (c Counters) AutomatedShare() float64 { return ratio(c.Automated, c.Decisions) }

// ManualShare is Manual/Decisions, 0 without decisions.
func (c Counters) ManualShare() float64 { return ratio(c.Manual, c.Decisions) }

// AgreementRate is Agreed/Compared, 0 without comparisons.
func (c Counters) AgreementRate() float64 { return ratio(c.Agreed, c.Compared) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Add counts one decision.
func (c *Counters) Add(d Decision) {
	c.Decisions++
	if d.DecidedBy == ByModel {
		c.Automated++
	} else {
		c.Manual++
		if d.Fallback != FallbackNone {
			if c.Fallbacks == nil {
				c.Fallbacks = map[Fallback]int{}
			}
			c.Fallbacks[d.Fallback]++
		}
	}
	if d.Compared {
		c.Compared++
		if d.Agreed {
			c.Agreed++
		}
	}
}

// Status is a model's drift watch as it stands.
type Status struct {
	Model string `json:"model"`
	// Enabled says the model may decide.
	Enabled bool `json:"enabled"`
	// Watch is the configuration the last decision reported.
	Watch Watch `json:"watch"`
	// Cases is how many comparisons the window holds, Agreement the share
	// of them that agreed (0 when empty).
	Cases     int     `json:"cases"`
	Agreement float64 `json:"agreement"`
	// Counters count every decision reported to the watch.
	Counters Counters `json:"counters"`
	// Switches are the latest switches, oldest first.
	Switches []Switch `json:"switches,omitempty"`
}

// sample is one comparison in the window.
type sample struct {
	Key     string `json:"key"`
	Version string `json:"version,omitempty"`
	Agreed  bool   `json:"agreed"`
}

// watchState is the watch's whole state, carried across continue-as-new.
type watchState struct {
	Model    string   `json:"model"`
	Enabled  bool     `json:"enabled"`
	Watch    Watch    `json:"watch"`
	Window   []sample `json:"window,omitempty"`
	Seen     []string `json:"seen,omitempty"` // keys of recent reports, to drop a report sent twice
	Counters Counters `json:"counters"`
	Switches []Switch `json:"switches,omitempty"`
}

func (s *watchState) agreement() float64 {
	n := 0
	for _, x := range s.Window {
		if x.Agreed {
			n++
		}
	}
	return ratio(n, len(s.Window))
}

func (s *watchState) status() Status {
	return Status{Model: s.Model, Enabled: s.Enabled, Watch: s.Watch, Cases: len(s.Window),
		Agreement: s.agreement(), Counters: s.Counters, Switches: append([]Switch(nil), s.Switches...)}
}

// observation is what a decision reports to its model's watch.
type observation struct {
	Decision Decision `json:"decision"`
	Watch    Watch    `json:"watch"`
}

// switchRequest is an operator's Enable or Disable.
type switchRequest struct {
	Enabled bool   `json:"enabled"`
	By      string `json:"by"`
	Reason  string `json:"reason,omitempty"`
}

var (
	reportSignal = workflow.NewSignal[observation]("decide.report")
	statusQuery  = workflow.NewQuery[struct{}, Status]("decide.status")
	switchUpdate = workflow.NewUpdate[switchRequest, Status]("decide.switch")
)

// watchWorkflow is the drift watch of one model: it receives every
// decision by signal, keeps the sliding window, switches the model off when
// agreement drops and takes operators' switches by update.
var watchWorkflow = workflow.New(WatchWorkflowName, func(ctx workflow.Context, st watchState) (struct{}, error) {
	workflow.SetQueryHandler(ctx, statusQuery, func(struct{}) (Status, error) { return st.status(), nil })
	workflow.SetUpdateHandler(ctx, switchUpdate, func(ctx workflow.Context, r switchRequest) (Status, error) {
		if r.Enabled != st.Enabled {
			if r.Enabled {
				st.Window = nil // judge the model afresh
			}
			st.flip(ctx, r.Enabled, r.By, r.Reason)
		}
		return st.status(), nil
	}, &workflow.UpdateOptions[switchRequest]{Validator: func(r switchRequest) error {
		if r.By == "" {
			return errors.New("decide: who switches the model must be named")
		}
		return nil
	}})
	if err := workflow.UpsertSearchAttributes(ctx, AttrModel.Value(st.Model), AttrEnabled.Value(st.Enabled)); err != nil {
		return struct{}{}, err
	}
	ch := workflow.GetSignalChannel(ctx, reportSignal)
	for n := 0; n < continueEvery; n++ {
		obs, _ := ch.Receive(ctx)
		st.observe(ctx, obs)
	}
	for {
		obs, ok := ch.ReceiveAsync()
		if !ok {
			break
		}
		st.observe(ctx, obs)
	}
	workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return struct{}{}, workflow.ContinueAsNewWith(ctx, st)
})

func (s *watchState) observe(ctx workflow.Context, obs observation) {
	d := obs.Decision
	for _, k := range s.Seen {
		if k == d.Key {
			return // the report activity ran twice
		}
	}
	s.Seen = append(s.Seen, d.Key)
	if over := len(s.Seen) - 2*max(s.Watch.Window, obs.Watch.Window, 100); over > 0 {
		s.Seen = s.Seen[over:]
	}
	if obs.Watch.Window > 0 {
		s.Watch = obs.Watch
	}
	s.Counters.Add(d)
	if !d.Compared {
		return
	}
	s.Window = append(s.Window, sample{Key: d.Key, Version: d.ModelVersion, Agreed: d.Agreed})
	if over := len(s.Window) - s.Watch.Window; over > 0 {
		s.Window = s.Window[over:]
	}
	if s.Enabled && s.Watch.Window > 0 && len(s.Window) >= s.Watch.Window && s.agreement() < s.Watch.MinAgreement {
		s.flip(ctx, false, "watch", fmt.Sprintf("agreement %.3f below %.3f over the last %d cases", s.agreement(), s.Watch.MinAgreement, len(s.Window)))
	}
}

// flip switches the model and journals it: a marker, the memo and the
// search attribute.
func (s *watchState) flip(ctx workflow.Context, on bool, by, reason string) {
	sw := Switch{Enabled: on, By: by, At: workflow.Now(ctx), Reason: reason, Agreement: s.agreement(), Cases: len(s.Window)}
	s.Enabled = on
	s.Switches = append(s.Switches, sw)
	if over := len(s.Switches) - maxSwitches; over > 0 {
		s.Switches = s.Switches[over:]
	}
	workflow.RecordMarker(ctx, SwitchMarker, sw)
	if err := workflow.UpsertSearchAttributes(ctx, AttrEnabled.Value(on)); err != nil {
		workflow.Logger(ctx).Warn("decide: search attribute not updated", "error", err)
	}
	if err := workflow.UpsertMemo(ctx, "decide.switch", sw); err != nil {
		workflow.Logger(ctx).Warn("decide: memo not updated", "error", err)
	}
}

// The definitions workflow code schedules by name; Definitions registers
// engine-bound ones under the same names.
var (
	statusActivity = activity.New(StatusActivityName, func(context.Context, string) (Status, error) {
		return Status{}, activity.NonRetryable(errNotRegistered)
	}).WithOptions(activity.Options{StartToCloseTimeout: 30 * time.Second, RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 3}})
	reportActivity = activity.NewVoid(ReportActivityName, func(context.Context, observation) error {
		return activity.NonRetryable(errNotRegistered)
	}).WithOptions(activity.Options{StartToCloseTimeout: 30 * time.Second, RetryPolicy: &activity.RetryPolicy{MaximumAttempts: 10}})
	errNotRegistered = errors.New("decide: register decide.Definitions(eng) with the engine")
)

// Definitions returns what the drift watch needs registered on eng: the
// watch workflow and the two activities through which decisions read the
// model's state and report to it (they reach eng itself).
//
//	if err := eng.Register(decide.Definitions(eng)...); err != nil { ... }
//
// To replay histories (package replay), which runs no activity, pass the
// definitions of Definitions(nil).
func Definitions(eng *chorus.Engine) []chorus.Definition {
	status := activity.New(StatusActivityName, func(ctx context.Context, model string) (Status, error) {
		return readStatus(ctx, eng, model)
	})
	report := activity.NewVoid(ReportActivityName, func(ctx context.Context, obs observation) error {
		_, err := chorus.SignalWithStart(ctx, eng, watchWorkflow, newState(obs.Decision.Model),
			&chorus.StartOptions{ID: WatchID(obs.Decision.Model)}, reportSignal, obs)
		return err
	})
	return []chorus.Definition{watchWorkflow, status, report}
}

func newState(model string) watchState { return watchState{Model: model, Enabled: true} }

func readStatus(ctx context.Context, eng *chorus.Engine, model string) (Status, error) {
	st, err := chorus.Query(ctx, eng, WatchID(model), statusQuery, struct{}{})
	if errors.Is(err, chorus.ErrRunNotFound) {
		return Status{Model: model, Enabled: true}, nil
	}
	return st, err
}

// WatchStatus returns the model's drift watch as it stands. A model that
// has no watch yet (no decision with Policy.Watch reported to it) is
// enabled, with nothing counted.
func WatchStatus(ctx context.Context, eng *chorus.Engine, model string) (Status, error) {
	st, err := readStatus(ctx, eng, model)
	if err != nil {
		return Status{}, fmt.Errorf("decide: status of model %q: %w", model, err)
	}
	return st, nil
}

// Enable switches the model back on after its drift watch (or [Disable])
// switched it off, and empties the watch's window so that the model is
// judged afresh. who names the operator; the switch is journaled in the
// watch's run with who and when (a [SwitchMarker] marker). Enabling an
// enabled model changes nothing. It returns the watch's new status.
func Enable(ctx context.Context, eng *chorus.Engine, model, who string) (Status, error) {
	return setEnabled(ctx, eng, model, switchRequest{Enabled: true, By: who})
}

// Disable switches the model off: every case goes to people until
// [Enable]. It is journaled like Enable, with the reason.
func Disable(ctx context.Context, eng *chorus.Engine, model, who, reason string) (Status, error) {
	return setEnabled(ctx, eng, model, switchRequest{Enabled: false, By: who, Reason: reason})
}

func setEnabled(ctx context.Context, eng *chorus.Engine, model string, r switchRequest) (Status, error) {
	if model == "" {
		return Status{}, errors.New("decide: empty model name")
	}
	if r.By == "" {
		return Status{}, fmt.Errorf("decide: switching model %q: who switches it must be named", model)
	}
	if _, err := chorus.Start(ctx, eng, watchWorkflow, newState(model),
		&chorus.StartOptions{ID: WatchID(model), IfExists: chorus.AttachIfExists}); err != nil {
		return Status{}, fmt.Errorf("decide: switching model %q: %w", model, err)
	}
	st, err := chorus.Update(ctx, eng, WatchID(model), switchUpdate, r)
	if err != nil {
		return Status{}, fmt.Errorf("decide: switching model %q: %w", model, err)
	}
	return st, nil
}

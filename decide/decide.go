package decide

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// DefaultTimeout bounds a model call when [Policy.Timeout] is zero.
const DefaultTimeout = 10 * time.Second

// DecisionMarker names the journal marker that records each decision; its
// details are a [Decision] encoded by the engine's codec.
const DecisionMarker = "decide.decision"

// ErrInvalidPolicy is wrapped by every [*PolicyError].
var ErrInvalidPolicy = errors.New("decide: invalid policy")

// ErrNoOutcome is returned by [Decide] when the person's [Answer] has no
// outcome.
var ErrNoOutcome = errors.New("decide: the person's answer has no outcome")

// PolicyError names the field of a [Policy] that is wrong. It wraps
// [ErrInvalidPolicy].
type PolicyError struct {
	// Field is the policy field, such as "Bands[1].Below".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("decide: invalid policy: %s: %s", e.Field, e.Reason)
}

// Unwrap returns [ErrInvalidPolicy].
func (e *PolicyError) Unwrap() error { return ErrInvalidPolicy }

// Score is what a model returns: a value placed in the policy's bands, how
// sure the model is of it, and which model and version produced it. The
// decision records Model and Version from here, so that the implementation
// can change (a new version, another vendor) without a workflow change.
type Score struct {
	// Value is the score the bands are laid over. It must be finite.
	Value float64 `json:"value"`
	// Confidence is the model's confidence, from 0 to 1.
	Confidence float64 `json:"confidence"`
	// Model names the model that scored (for example "gbm-credit").
	Model string `json:"model,omitempty"`
	// Version is that model's version (for example "2026-11-03").
	Version string `json:"version,omitempty"`
}

// Model is a decision point backed by a model: an activity, named once,
// that returns a [Score]. Workflow code refers to the Model; the process
// registers its implementation with [Model.Activity], so swapping the
// model is a change of what is registered, not of workflow code.
type Model[In any] struct {
	name string
	def  *activity.Definition[In, Score]
}

// NewModel declares a model under a stable name, which is the activity's
// name in the journal and the name its drift watch is kept under. It panics
// if name is empty, as activity.New does.
func NewModel[In any](name string) *Model[In] {
	def := activity.New(name, func(context.Context, In) (Score, error) {
		return Score{}, activity.NonRetryable(fmt.Errorf("decide: model %q has no implementation: register Model.Activity(fn)", name))
	})
	return &Model[In]{name: name, def: def}
}

// Name returns the model's name.
func (m *Model[In]) Name() string { return m.name }

// Definition returns the activity the workflow schedules for the model. Its
// own function only fails (the model has no implementation); mock it in
// tests (chorustest.OnActivity) or register [Model.Activity] instead.
func (m *Model[In]) Definition() *activity.Definition[In, Score] { return m.def }

// Activity returns the model's activity with fn as its implementation,
// under the model's name, to register with the engine.
func (m *Model[In]) Activity(fn func(ctx context.Context, in In) (Score, error)) *activity.Definition[In, Score] {
	return activity.New(m.name, fn)
}

// RouteKind says who decides in a band.
type RouteKind string

// Route kinds.
const (
	// RouteAuto: the model's band decides, with the route's outcome.
	RouteAuto RouteKind = "auto"
	// RoutePerson: a person decides.
	RoutePerson RouteKind = "person"
)

// Route says who decides a case: the band itself ([Auto]) or a person of a
// queue ([Human]).
type Route struct {
	// Kind is RouteAuto or RoutePerson.
	Kind RouteKind `json:"kind"`
	// Outcome is the outcome of an automatic route.
	Outcome string `json:"outcome,omitempty"`
	// Queue names the people of a person route (a group, a role); the
	// application's ask function interprets it.
	Queue string `json:"queue,omitempty"`
}

// Auto routes the band's cases to the outcome, decided by the model.
func Auto(outcome string) Route { return Route{Kind: RouteAuto, Outcome: outcome} }

// Human routes the band's cases to a person of the queue.
func Human(queue string) Route { return Route{Kind: RoutePerson, Queue: queue} }

// Band is a range of scores and the route for it. Bands are listed in
// ascending order of Below; a case falls in the first band whose Below is
// above its score, and the last band, which has no Below, takes the rest.
type Band struct {
	// Name labels the band in the decision record ("low", "medium");
	// defaults to "band-<index>".
	Name string `json:"name,omitempty"`
	// Below is the band's exclusive upper bound. It is left zero on the
	// last band only, which takes every score the others do not.
	Below float64 `json:"below,omitempty"`
	// Route says who decides the band's cases.
	Route Route `json:"route"`
	// Suggest is the outcome the model suggests for the band's cases when a
	// person decides; an [Auto] band suggests its outcome. The drift watch
	// compares it with the person's outcome. Empty: no suggestion.
	Suggest string `json:"suggest,omitempty"`
}

// Watch configures the drift watch of a model: over the last Window
// referred cases where a person decided and the model had a suggestion,
// the share where the person's outcome equals the suggestion must stay at
// least MinAgreement, or the model is switched off and every case goes to
// people until an operator calls [Enable].
type Watch struct {
	// Window is the number of cases compared; the watch judges once the
	// window is full. Must be positive.
	Window int `json:"window"`
	// MinAgreement is the lowest agreement (0 to 1) that keeps the model on.
	MinAgreement float64 `json:"min_agreement"`
}

// Policy states, as data, how a model's score turns into a decision.
type Policy struct {
	// Bands map scores to routes, in ascending order of Below; at least one,
	// and the last has no Below.
	Bands []Band `json:"bands"`
	// MinConfidence (0 to 1): a score whose confidence is below it is not
	// trusted to decide, and a case of an automatic band goes to a person.
	MinConfidence float64 `json:"min_confidence,omitempty"`
	// Timeout bounds the model call, from the moment it is scheduled; when
	// it passes, or the model fails, a person decides. Zero means
	// [DefaultTimeout]. The call is made once, without retries.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Fallback is the queue of the person who decides when the model gives
	// no usable score, is not trusted or is switched off and the case's band
	// is automatic. Defaults to the queue of the first band routed to a
	// person; a policy with neither is invalid.
	Fallback string `json:"fallback,omitempty"`
	// Watch, when set, keeps a drift watch on the model (see [Watch]).
	// It needs the package's definitions registered ([Definitions]).
	Watch *Watch `json:"watch,omitempty"`
}

// Validate returns a [*PolicyError] naming the first wrong field, or nil.
func (p *Policy) Validate() error {
	if len(p.Bands) == 0 {
		return &PolicyError{Field: "Bands", Reason: "no band"}
	}
	hasPerson := p.Fallback != ""
	for i, b := range p.Bands {
		field := fmt.Sprintf("Bands[%d]", i)
		last := i == len(p.Bands)-1
		switch {
		case last && b.Below != 0:
			return &PolicyError{Field: field + ".Below", Reason: "the last band takes every remaining score and has no Below"}
		case !last && (math.IsNaN(b.Below) || math.IsInf(b.Below, 0)):
			return &PolicyError{Field: field + ".Below", Reason: fmt.Sprintf("must be finite, got %v", b.Below)}
		case !last && i > 0 && b.Below <= p.Bands[i-1].Below:
			return &PolicyError{Field: field + ".Below", Reason: fmt.Sprintf("%v is not above the previous band's %v", b.Below, p.Bands[i-1].Below)}
		}
		switch b.Route.Kind {
		case RouteAuto:
			if b.Route.Outcome == "" {
				return &PolicyError{Field: field + ".Route", Reason: "an automatic route needs an outcome (Auto(outcome))"}
			}
			if b.Suggest != "" && b.Suggest != b.Route.Outcome {
				return &PolicyError{Field: field + ".Suggest", Reason: fmt.Sprintf("an automatic band suggests its outcome %q, not %q", b.Route.Outcome, b.Suggest)}
			}
		case RoutePerson:
			if b.Route.Queue == "" {
				return &PolicyError{Field: field + ".Route", Reason: "a person route needs a queue (Human(queue))"}
			}
			hasPerson = true
		default:
			return &PolicyError{Field: field + ".Route", Reason: fmt.Sprintf("unknown route kind %q (use Auto or Human)", b.Route.Kind)}
		}
	}
	switch {
	case !hasPerson:
		return &PolicyError{Field: "Fallback", Reason: "no queue for a person to decide when the model cannot (set Fallback or route a band to Human)"}
	case math.IsNaN(p.MinConfidence) || p.MinConfidence < 0 || p.MinConfidence > 1:
		return &PolicyError{Field: "MinConfidence", Reason: fmt.Sprintf("must be from 0 to 1, got %v", p.MinConfidence)}
	case p.Timeout < 0:
		return &PolicyError{Field: "Timeout", Reason: fmt.Sprintf("is negative (%v)", p.Timeout)}
	}
	if w := p.Watch; w != nil {
		switch {
		case w.Window <= 0:
			return &PolicyError{Field: "Watch.Window", Reason: fmt.Sprintf("must be positive, got %d", w.Window)}
		case w.Window > MaxWindow:
			return &PolicyError{Field: "Watch.Window", Reason: fmt.Sprintf("%d is over the maximum %d", w.Window, MaxWindow)}
		case math.IsNaN(w.MinAgreement) || w.MinAgreement < 0 || w.MinAgreement > 1:
			return &PolicyError{Field: "Watch.MinAgreement", Reason: fmt.Sprintf("must be from 0 to 1, got %v", w.MinAgreement)}
		}
	}
	return nil
}

func (p *Policy) fallbackQueue() string {
	if p.Fallback != "" {
		return p.Fallback
	}
	for _, b := range p.Bands {
		if b.Route.Kind == RoutePerson {
			return b.Route.Queue
		}
	}
	return ""
}

// band returns the index of the band v falls in.
func (p *Policy) band(v float64) int {
	for i, b := range p.Bands[:len(p.Bands)-1] {
		if v < b.Below {
			return i
		}
	}
	return len(p.Bands) - 1
}

func bandName(b Band, i int) string {
	if b.Name != "" {
		return b.Name
	}
	return fmt.Sprintf("band-%d", i)
}

// Fallback says why a case went to a person although its band, had the
// model's score been usable, trusted and the model on, would have decided
// it automatically, or why there was no score at all.
type Fallback string

// Fallback reasons.
const (
	// FallbackNone: no fallback; the band's route applied.
	FallbackNone Fallback = ""
	// FallbackTimeout: the model call outlived Policy.Timeout.
	FallbackTimeout Fallback = "timeout"
	// FallbackError: the model call failed.
	FallbackError Fallback = "error"
	// FallbackInvalidScore: the score was not finite, or its confidence
	// was outside 0 to 1.
	FallbackInvalidScore Fallback = "invalid-score"
	// FallbackLowConfidence: the confidence was below Policy.MinConfidence
	// in an automatic band.
	FallbackLowConfidence Fallback = "low-confidence"
	// FallbackModelOff: the drift watch (or an operator) switched the
	// model off, and the band was automatic.
	FallbackModelOff Fallback = "model-off"
)

// Who decided a case.
const (
	ByModel  = "model"
	ByPerson = "person"
)

// Referral is what the person who decides a case is given.
type Referral[In any] struct {
	// Model is the model's name ([Model.Name]).
	Model string
	// Input is the case.
	Input In
	// Queue is who should decide (the band's, or Policy.Fallback).
	Queue string
	// Band is the band's name, empty when the model gave no usable score.
	Band string
	// Score is the model's score, nil when it gave no usable one.
	Score *Score
	// Suggestion is the model's suggested outcome, empty when there is
	// none or the model is switched off (a person then decides without
	// the model's opinion).
	Suggestion string
	// Fallback says why the case came to a person against its band, or
	// without a score.
	Fallback Fallback
	// Key identifies the decision; stable across replays.
	Key string
}

// Answer is a person's decision.
type Answer struct {
	// Outcome is the decision ("approve"); required.
	Outcome string
	// By is who decided (a user ID), recorded with the decision.
	By string
}

// Asker reaches a person from workflow code and returns their answer. The
// application writes it: a human task, a signal wait, a child workflow. It
// runs as workflow code, so it must be deterministic like any.
type Asker[In any] func(ctx workflow.Context, r Referral[In]) (Answer, error)

// Decision is the record of one decision, journaled as a [DecisionMarker]
// marker, kept in the run's memo under "decide:<model>" (the latest one
// for that model) and returned by [Decide].
type Decision struct {
	// Key identifies the decision (unique, recorded once).
	Key string `json:"key"`
	// Model is the model's name ([Model.Name]).
	Model string `json:"model"`
	// ModelName and ModelVersion come from the model's [Score].
	ModelName    string `json:"model_name,omitempty"`
	ModelVersion string `json:"model_version,omitempty"`
	// Scored says the model returned a usable score (Score, Confidence).
	Scored     bool    `json:"scored"`
	Score      float64 `json:"score"`
	Confidence float64 `json:"confidence"`
	// Band is the band's name, empty when there was no usable score.
	Band string `json:"band,omitempty"`
	// Route is the band's route kind ("auto" or "person"); the decision
	// may still have gone to a person (see Fallback).
	Route RouteKind `json:"route,omitempty"`
	// Queue is the queue of the person asked, empty when the model decided.
	Queue string `json:"queue,omitempty"`
	// Suggestion is the model's suggested outcome, if any.
	Suggestion string `json:"suggestion,omitempty"`
	// ModelEnabled says the model was on (its drift watch let it decide).
	ModelEnabled bool `json:"model_enabled"`
	// Fallback says why a person decided against the band, or without a
	// score.
	Fallback Fallback `json:"fallback,omitempty"`
	// ModelError says what was wrong with the model call, for Fallback
	// "timeout", "error" and "invalid-score".
	ModelError string `json:"model_error,omitempty"`
	// Outcome is the final outcome.
	Outcome string `json:"outcome"`
	// DecidedBy is ByModel or ByPerson.
	DecidedBy string `json:"decided_by"`
	// Person is who decided, for ByPerson (Answer.By).
	Person string `json:"person,omitempty"`
	// Compared says a person decided a case the model had a suggestion
	// for; Agreed then says whether the outcome equals it.
	Compared bool `json:"compared"`
	Agreed   bool `json:"agreed"`
	// At is when the decision was made (workflow time).
	At time.Time `json:"at"`
}

// Decide scores in with the model and decides the case as p says: the
// band's automatic outcome, or a person reached through ask (given the
// model's suggestion), or, when the model fails, times out, gives an
// unusable or untrusted score or is switched off, a person of the band or
// of p.Fallback. The decision is journaled (see [Decision]) and, with
// p.Watch, reported to the model's drift watch.
//
// An invalid policy returns a [*PolicyError] before anything is journaled.
// An error from ask, or an answer without an outcome ([ErrNoOutcome]), is
// returned as is (wrapped) and nothing is recorded.
func Decide[In any](ctx workflow.Context, m *Model[In], in In, p Policy, ask Asker[In]) (Decision, error) {
	if m == nil {
		return Decision{}, &PolicyError{Field: "model", Reason: "nil *Model"}
	}
	if ask == nil {
		return Decision{}, &PolicyError{Field: "ask", Reason: "nil Asker: a person must be reachable for fallbacks"}
	}
	if err := p.Validate(); err != nil {
		return Decision{}, err
	}
	enabled := true
	if p.Watch != nil {
		st, err := workflow.ExecuteActivity(ctx, statusActivity, m.name).Get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return Decision{}, fmt.Errorf("decide: model %q: %w", m.name, ctx.Err())
			}
			// The watch cannot be read: be safe and let people decide.
			workflow.Logger(ctx).Warn("decide: reading the drift watch failed; people decide", "model", m.name, "error", err)
			st.Enabled = false
		}
		enabled = st.Enabled
	}

	score, reason, mErr := callModel(ctx, m, in, p.Timeout)
	if ctx.Err() != nil {
		return Decision{}, fmt.Errorf("decide: model %q: %w", m.name, ctx.Err())
	}
	// The route is computed once and journaled: a replay takes the recorded
	// one, so a run in flight keeps its route when the policy changes.
	d := workflow.SideEffect(ctx, func() Decision {
		return route(m.name, p, enabled, score, reason, mErr)
	})
	if d.DecidedBy == "" {
		r := Referral[In]{Model: m.name, Input: in, Queue: d.Queue, Band: d.Band, Fallback: d.Fallback, Key: d.Key}
		if d.Scored {
			r.Score = &Score{Value: d.Score, Confidence: d.Confidence, Model: d.ModelName, Version: d.ModelVersion}
		}
		if d.ModelEnabled {
			r.Suggestion = d.Suggestion
		}
		a, err := ask(ctx, r)
		if err != nil {
			return Decision{}, fmt.Errorf("decide: model %q: asking a person (queue %q): %w", m.name, d.Queue, err)
		}
		if a.Outcome == "" {
			return Decision{}, fmt.Errorf("decide: model %q: queue %q: %w", m.name, d.Queue, ErrNoOutcome)
		}
		d.Outcome, d.DecidedBy, d.Person = a.Outcome, ByPerson, a.By
		if d.Suggestion != "" {
			d.Compared, d.Agreed = true, a.Outcome == d.Suggestion
		}
	}
	d.At = workflow.Now(ctx)

	workflow.RecordMarker(ctx, DecisionMarker, d)
	if err := workflow.UpsertMemo(ctx, "decide:"+m.name, d); err != nil {
		workflow.Logger(ctx).Warn("decide: the decision could not be kept in the memo", "model", m.name, "error", err)
	}
	if p.Watch != nil {
		obs := observation{Decision: d, Watch: *p.Watch}
		if err := workflow.Wait(ctx, workflow.ExecuteActivity(ctx, reportActivity, obs)); err != nil {
			workflow.Logger(ctx).Warn("decide: the decision could not be reported to the drift watch", "model", m.name, "error", err)
		}
	}
	return d, nil
}

// route decides who decides: the band's route, or a person when the model
// gave no usable score, is not trusted or is switched off.
func route(model string, p Policy, enabled bool, score Score, reason Fallback, mErr error) Decision {
	d := Decision{Key: uuid.NewString(), Model: model, ModelEnabled: enabled}
	if mErr != nil {
		d.ModelError = mErr.Error()
	}
	if reason != FallbackNone {
		d.Fallback, d.Queue = reason, p.fallbackQueue()
		return d
	}
	d.Scored = true
	d.ModelName, d.ModelVersion = score.Model, score.Version
	d.Score, d.Confidence = score.Value, score.Confidence
	i := p.band(score.Value)
	b := p.Bands[i]
	d.Band, d.Route, d.Suggestion = bandName(b, i), b.Route.Kind, b.Suggest
	if b.Route.Kind == RoutePerson {
		d.Queue = b.Route.Queue // a person decides anyway
		return d
	}
	d.Suggestion = b.Route.Outcome
	switch {
	case !enabled:
		d.Fallback = FallbackModelOff
	case score.Confidence < p.MinConfidence:
		d.Fallback = FallbackLowConfidence
	default:
		d.Outcome, d.DecidedBy = b.Route.Outcome, ByModel
		return d
	}
	d.Queue = p.fallbackQueue()
	return d
}

// callModel runs the model once, bounded by timeout from the moment it is
// scheduled: the attempt's own start-to-close timeout gives the model's
// code a deadline, and a timer covers a model that never starts (no
// implementation registered, a full queue).
func callModel[In any](ctx workflow.Context, m *Model[In], in In, timeout time.Duration) (Score, Fallback, error) {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	cctx = workflow.WithActivityOptions(cctx, activity.Options{
		StartToCloseTimeout: timeout,
		RetryPolicy:         &activity.RetryPolicy{MaximumAttempts: 1},
	})
	f := workflow.ExecuteActivity(cctx, m.def, in)
	timer := workflow.NewTimer(cctx, timeout)
	var (
		score    Score
		err      error
		timedOut bool
	)
	workflow.NewSelector(ctx).
		AddFuture(f, func() { score, err = f.Get(ctx) }).
		AddFuture(timer, func() { timedOut = true }).
		Select(ctx)
	cancel()
	switch {
	case timedOut:
		return Score{}, FallbackTimeout, fmt.Errorf("decide: model %q gave no score within %v", m.name, timeout)
	case err != nil:
		if activity.TypeOf(errors.Unwrap(err)) == activity.TypeStartToCloseTimeout || isTimeout(err) {
			return Score{}, FallbackTimeout, err
		}
		return Score{}, FallbackError, err
	case math.IsNaN(score.Value) || math.IsInf(score.Value, 0) ||
		math.IsNaN(score.Confidence) || score.Confidence < 0 || score.Confidence > 1:
		return Score{}, FallbackInvalidScore, fmt.Errorf("decide: model %q returned an unusable score (value %v, confidence %v)", m.name, score.Value, score.Confidence)
	}
	return score, FallbackNone, nil
}

func isTimeout(err error) bool {
	var ae *activity.Error
	return errors.As(err, &ae) && ae.Type == activity.TypeStartToCloseTimeout
}

package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
)

// Reset and batch operations through the API: they need the workflow code,
// so only a dashboard mounted by the process that runs the engine serves
// them.

// ResetActions is implemented by [Actions] that also reset runs and act on
// many runs at once (the engine's, which [Handler] sets, does). A
// dashboard whose Actions lack it answers 403 actions_disabled to
// POST /api/runs/{id}/reset and POST /api/batch.
type ResetActions interface {
	Reset(ctx context.Context, runID string, opts chorus.ResetOptions) (chorus.ResetResult, error)
	Retry(ctx context.Context, runID string, opts *chorus.RetryOptions) (chorus.ResetResult, error)
	PlanReset(ctx context.Context, runID string, opts chorus.ResetOptions) (chorus.ResetResult, error)
	Batch(ctx context.Context, opts chorus.BatchOptions) (chorus.BatchResult, error)
}

var _ ResetActions = engineActions{}

func (a engineActions) Reset(ctx context.Context, id string, o chorus.ResetOptions) (chorus.ResetResult, error) {
	return a.eng.Reset(ctx, id, o)
}

func (a engineActions) Retry(ctx context.Context, id string, o *chorus.RetryOptions) (chorus.ResetResult, error) {
	return a.eng.Retry(ctx, id, o)
}

func (a engineActions) PlanReset(ctx context.Context, id string, o chorus.ResetOptions) (chorus.ResetResult, error) {
	return a.eng.PlanReset(ctx, id, o)
}

func (a engineActions) Batch(ctx context.Context, o chorus.BatchOptions) (chorus.BatchResult, error) {
	return a.eng.Batch(ctx, o)
}

// resetBody is the body of POST /api/runs/{id}/reset, and the reset part
// of POST /api/batch.
type resetBody struct {
	ToStep         int64  `json:"to_step"`
	ToLastGoodStep bool   `json:"to_last_good_step"`
	ToFirstFailure bool   `json:"to_first_failure"`
	Retry          bool   `json:"retry"`
	Reason         string `json:"reason"`
	DropSignals    bool   `json:"drop_signals"`
	Force          bool   `json:"force"`
	DryRun         bool   `json:"dry_run"`
}

func (b resetBody) options() chorus.ResetOptions {
	o := chorus.ResetOptions{ToStep: b.ToStep, ToLastGoodStep: b.ToLastGoodStep, ToFirstFailure: b.ToFirstFailure,
		Reason: b.Reason, Force: b.Force}
	if b.DropSignals {
		o.Signals = chorus.ResetDropSignals
	}
	return o
}

// batchBody is the body of POST /api/batch.
type batchBody struct {
	ID       string    `json:"id"`
	Action   string    `json:"action"`
	Workflow string    `json:"workflow"`
	Statuses []string  `json:"statuses"`
	Since    string    `json:"since"` // a Go duration: runs created in the last...
	Reset    resetBody `json:"reset"`
	Signal   string    `json:"signal"`
	Payload  any       `json:"payload"`
	Reason   string    `json:"reason"`
	DryRun   bool      `json:"dry_run"`
	RPS      float64   `json:"rps"`
}

func (s *server) resetActions(w http.ResponseWriter, r *http.Request) (ResetActions, caller, bool) {
	ra, ok := s.opts.Actions.(ResetActions)
	if s.opts.Actions == nil || !ok {
		s.fail(w, r, http.StatusForbidden, "actions_disabled", "", s.noActionsReason())
		return nil, caller{}, false
	}
	c, ok := s.admitPost(w, r, false)
	return ra, c, ok
}

// failReset answers a reset's error: 409 reset_refused for a refusal.
func (s *server) failReset(w http.ResponseWriter, r *http.Request, err error, id string) {
	if errors.Is(err, chorus.ErrResetRefused) {
		s.fail(w, r, http.StatusConflict, "reset_refused", "", err.Error())
		return
	}
	s.failErr(w, r, notFound(err, id))
}

// apiReset is POST /api/runs/{id}/reset.
func (s *server) apiReset(w http.ResponseWriter, r *http.Request) {
	ra, c, ok := s.resetActions(w, r)
	if !ok {
		return
	}
	id, err := runID(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	var body resetBody
	if err := decodeBody(r, &body); err != nil {
		s.bodyErr(w, r, err)
		return
	}
	ctx := withIdentity(r.Context(), c.Identity)
	var res chorus.ResetResult
	switch {
	case body.Retry:
		if body.ToStep != 0 || body.ToLastGoodStep || body.ToFirstFailure || body.DryRun || body.Force {
			s.failErr(w, r, badField("retry", "goes alone (with reason and drop_signals)"))
			return
		}
		o := &chorus.RetryOptions{Reason: body.Reason}
		if body.DropSignals {
			o.Signals = chorus.ResetDropSignals
		}
		res, err = ra.Retry(ctx, id, o)
	case body.DryRun:
		res, err = ra.PlanReset(ctx, id, body.options())
	default:
		res, err = ra.Reset(ctx, id, body.options())
	}
	if err != nil {
		s.failReset(w, r, err, id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"run_id": id, "action": "reset", "identity": c.Identity, "dry_run": body.DryRun, "result": res})
}

// apiBatch is POST /api/batch.
func (s *server) apiBatch(w http.ResponseWriter, r *http.Request) {
	ra, c, ok := s.resetActions(w, r)
	if !ok {
		return
	}
	var body batchBody
	if err := decodeBody(r, &body); err != nil {
		s.bodyErr(w, r, err)
		return
	}
	o := chorus.BatchOptions{ID: body.ID, Action: chorus.BatchAction(body.Action), Reset: body.Reset.options(),
		Signal: body.Signal, SignalValue: body.Payload, Reason: body.Reason, DryRun: body.DryRun, RPS: body.RPS}
	o.Filter.Workflow = body.Workflow
	for _, st := range body.Statuses {
		v, err := history.ParseRunStatus(st)
		if err != nil {
			s.failErr(w, r, badField("statuses", "%v", err))
			return
		}
		o.Filter.Statuses = append(o.Filter.Statuses, chorus.RunStatus(v))
	}
	if body.Since != "" {
		d, err := time.ParseDuration(body.Since)
		if err != nil || d <= 0 {
			s.failErr(w, r, badField("since", "%q: want a positive duration such as 2h", body.Since))
			return
		}
		o.Filter.CreatedFrom = time.Now().Add(-d)
	}
	res, err := ra.Batch(withIdentity(r.Context(), c.Identity), o)
	if err != nil && len(res.Items) == 0 {
		s.failErr(w, r, badField("body", "%v", err))
		return
	}
	ans := map[string]any{"action": "batch", "identity": c.Identity, "batch": res}
	if err != nil {
		ans["error"] = fmt.Sprintf("the batch stopped: %v", err)
	}
	writeJSON(w, http.StatusOK, ans)
}

// offersRetry reports whether the run page of a run with status offers the
// retry form: the run failed and the dashboard's actions reset runs.
func (s *server) offersRetry(status string) bool {
	_, ok := s.opts.Actions.(ResetActions)
	return ok && status == history.StatusFailed.String()
}

// formReset is POST /runs/{id}/reset from the run page's retry form:
// CSRF-checked, it retries the failed run from the activity that failed
// and answers with a redirect to the run.
func (s *server) formReset(w http.ResponseWriter, r *http.Request) {
	ra, ok := s.opts.Actions.(ResetActions)
	if s.opts.Actions == nil || !ok {
		s.fail(w, r, http.StatusForbidden, "actions_disabled", "", s.noActionsReason())
		return
	}
	c, ok := s.admitPost(w, r, true)
	if !ok {
		return
	}
	id, err := runID(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	reason := r.PostFormValue("reason")
	if reason == "" {
		reason = "retried by " + c.Identity + " from the dashboard"
	}
	if _, err := ra.Retry(withIdentity(r.Context(), c.Identity), id, &chorus.RetryOptions{Reason: reason}); err != nil {
		s.failReset(w, r, err, id)
		return
	}
	http.Redirect(w, r, s.path("/runs/"+url.PathEscape(id)+"?done=reset"), http.StatusSeeOther)
}

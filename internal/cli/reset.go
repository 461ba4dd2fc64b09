package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
)

// chorus reset and chorus batch: they need the workflow code, so they act
// through the process that runs the engine (--addr), never on the file.

const resetHelp = `A reset needs the workflow's code, registered in a running engine: the
command acts through the process that owns the journal, whose dashboard
(package ui, mounted by the application) is at --addr, such as
http://127.0.0.1:8080/chorus, with its token in --token or CHORUS_TOKEN. The
journal records the identity the dashboard's authenticator gives the token.`

// resetFlags are the reset point and options shared by reset and batch.
type resetFlags struct {
	toStep                 int64
	toLastGood, toFirstErr bool
	retry                  bool
	reason                 string
	dropSignals, force     bool
}

func (f *resetFlags) add(cmd *cobra.Command, retry bool) {
	cmd.Flags().Int64Var(&f.toStep, "to-step", 0, "reset to step N: the Seq of a command of the run's current generation, as `chorus history` shows it")
	cmd.Flags().BoolVar(&f.toLastGood, "to-last-good", false, "reset to the first step after the last successful one")
	cmd.Flags().BoolVar(&f.toFirstErr, "to-first-failure", false, "reset to the step of the first activity or child that failed")
	if retry {
		cmd.Flags().BoolVar(&f.retry, "retry", false, "retry a failed run from the activity that failed")
	}
	cmd.Flags().StringVar(&f.reason, "reason", "", "why, recorded in the journal")
	cmd.Flags().BoolVar(&f.dropSignals, "drop-signals", false, "drop the signals received after the point (default: deliver them again)")
	cmd.Flags().BoolVar(&f.force, "force", false, "reset even inside a saga's compensation or before a step marked unrepeatable")
}

func (f *resetFlags) body() (map[string]any, error) {
	n := 0
	for _, set := range []bool{f.toStep != 0, f.toLastGood, f.toFirstErr, f.retry} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, usagef("say where to reset to: exactly one of --to-step N, --to-last-good, --to-first-failure%s", map[bool]string{true: ", --retry", false: ""}[f.retry])
	}
	if f.toStep < 0 {
		return nil, usagef("--to-step %d: want a step, 2 or more", f.toStep)
	}
	return map[string]any{"to_step": f.toStep, "to_last_good_step": f.toLastGood, "to_first_failure": f.toFirstErr,
		"retry": f.retry, "reason": f.reason, "drop_signals": f.dropSignals, "force": f.force}, nil
}

// post sends body to route of the dashboard API and decodes its answer
// into out.
func (c *apiClient) post(ctx context.Context, route string, body, out any, a *act) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+route, bytes.NewReader(b))
	if err != nil {
		return usagef("--addr %q: %v", cut(c.base), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the process at %s (is it running, and is --addr its dashboard's URL?): %w", c.base, err)
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, 64*maxAPIAnswer))
	if err != nil {
		return fmt.Errorf("the process at %s: reading its answer: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apiErrorBody
		if json.Unmarshal(ans, &e) == nil && e.Code == "reset_refused" {
			return fmt.Errorf("%s", e.Error)
		}
		return c.refused(resp, ans, a)
	}
	if err := json.Unmarshal(ans, out); err != nil {
		return fmt.Errorf("the process at %s answered %q, not the dashboard API's answer: is --addr the URL the dashboard is mounted at?", c.base, cut(string(ans)))
	}
	return nil
}

// resetResult is the dashboard API's result of a reset.
type resetResult struct {
	Step        int64 `json:"step"`
	From        int64 `json:"from"`
	FirstSeq    int64 `json:"first_seq"`
	Kept        int   `json:"kept"`
	Reapplied   int   `json:"reapplied"`
	Dropped     int   `json:"dropped"`
	Terminated  bool  `json:"terminated"`
	AlreadyDone bool  `json:"already_done"`
}

func (r resetResult) String() string {
	s := fmt.Sprintf("step %d of the generation started at %d", r.Step, r.From)
	if r.FirstSeq > 0 {
		s += fmt.Sprintf("; new generation at %d", r.FirstSeq)
	}
	s += fmt.Sprintf("; %d events kept, %d signals re-applied, %d dropped", r.Kept, r.Reapplied, r.Dropped)
	if r.Terminated {
		s += "; the running generation was terminated"
	}
	return s
}

func resetCmd() *cobra.Command {
	var o actOptions
	var f resetFlags
	var dry bool
	cmd := &cobra.Command{
		Use:   "reset --addr URL RUN (--to-step N | --to-last-good | --to-first-failure | --retry)",
		Short: "Start a run again from a step, keeping what came before",
		Long: `reset starts a new generation of the run RUN whose journal is a copy of the
current one up to a step: the steps before it are answered from the journal,
the step and what follows run again with the code the process runs now. The
old generation stays in the journal (chorus history shows it). Signals
received after the point are delivered again unless --drop-signals. A run
that has not ended is terminated first. --retry resumes a failed run from the
activity that failed. --dry-run says what would be done.

` + resetHelp,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.addr == "" {
				return usagef("reset: --addr is required: %s", "a reset runs workflow code, so the process that owns the journal makes it")
			}
			_, rest, err := o.target(cmd, args, 1, "RUN")
			if err != nil {
				return err
			}
			body, err := f.body()
			if err != nil {
				return err
			}
			body["dry_run"] = dry
			c, err := newAPIClient(o.addr, o.token)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), apiTimeout)
			defer cancel()
			var ans struct {
				RunID    string      `json:"run_id"`
				Identity string      `json:"identity"`
				Result   resetResult `json:"result"`
			}
			a := &act{RunID: rest[0], Action: history.ActionReset}
			if err := c.post(ctx, "/api/runs/"+url.PathEscape(rest[0])+"/reset", body, &ans, a); err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(ans)
			}
			verb := "reset"
			if dry {
				verb = "would reset"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s run %q to %s (as %s)\n", verb, rest[0], ans.Result, ans.Identity)
			return nil
		},
	}
	o.flags(cmd)
	f.add(cmd, true)
	cmd.Flags().BoolVar(&dry, "dry-run", false, "say what would be done, changing nothing")
	return cmd
}

func batchCmd() *cobra.Command {
	var o actOptions
	var f resetFlags
	var workflow, since, id, signal, payload, reason string
	var statuses []string
	var dry bool
	var rps float64
	cmd := &cobra.Command{
		Use:   "batch reset|cancel|terminate|signal --addr URL [filters] [options]",
		Short: "Reset, cancel, terminate or signal every run a filter selects",
		Long: `batch acts on every run that --workflow, --status and --since select, at
most --rps runs per second, printing each run as it goes. --dry-run lists what
it would do. Each run touched gets a note in its journal with the batch's ID
(--id, printed at the start); running the same batch again with that ID, after
a crash or an interruption, passes over the runs it already acted on.

  chorus batch reset --addr URL --workflow charge --status failed --since 2h --to-first-failure
  chorus batch signal --addr URL --workflow order --signal poke --payload '"now"'

` + resetHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			action := args[0]
			if o.addr == "" {
				return usagef("batch: --addr is required: the process that owns the journal acts")
			}
			if o.identity != "" {
				return usagef("batch: --identity goes without --addr; through --addr the journal records the identity the dashboard's authenticator gives the token")
			}
			body := map[string]any{"action": action, "workflow": workflow, "statuses": statuses, "since": since,
				"id": id, "reason": reason, "dry_run": dry, "rps": rps}
			switch action {
			case "reset":
				rb, err := f.body()
				if err != nil {
					return err
				}
				delete(rb, "retry")
				body["reset"] = rb
			case "signal":
				if signal == "" {
					return usagef("batch signal: --signal NAME is required")
				}
				if err := checkSignalName(signal); err != nil {
					return err
				}
				var v any
				if payload != "" {
					if err := json.Unmarshal([]byte(payload), &v); err != nil {
						return usagef("batch signal: --payload %q is not valid JSON (%v)", cut(payload), err)
					}
				}
				body["signal"], body["payload"] = signal, v
			case "cancel", "terminate":
			default:
				return usagef("batch: action %q: want reset, cancel, terminate or signal", cut(action))
			}
			if id == "" {
				body["id"] = fmt.Sprintf("batch-%s-%d", action, time.Now().UnixNano())
			}
			for _, s := range statuses {
				if _, err := history.ParseRunStatus(s); err != nil {
					return usagef("--status: %v", err)
				}
			}
			if since != "" {
				if d, err := time.ParseDuration(since); err != nil || d <= 0 {
					return usagef("--since %q: want a positive duration such as 2h or 30m", cut(since))
				}
			}
			if rps < 0 {
				return usagef("--rps %v: want a positive number of runs per second", rps)
			}
			c, err := newAPIClient(o.addr, o.token)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !jsonFlag(cmd) {
				fmt.Fprintf(out, "batch %s (%s)\n", body["id"], action)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Hour)
			defer cancel()
			var ans struct {
				Identity string `json:"identity"`
				Error    string `json:"error"`
				Batch    struct {
					ID                           string
					Done, Skipped, Failed, Would int
					Items                        []struct {
						RunID    string       `json:"run_id"`
						Workflow string       `json:"workflow"`
						Status   string       `json:"status"`
						Outcome  string       `json:"outcome"`
						Error    string       `json:"error"`
						Reset    *resetResult `json:"reset"`
					}
				} `json:"batch"`
			}
			if err := c.post(ctx, "/api/batch", body, &ans, &act{Action: "batch"}); err != nil {
				return err
			}
			if jsonFlag(cmd) {
				return json.NewEncoder(out).Encode(ans)
			}
			total := len(ans.Batch.Items)
			for i, it := range ans.Batch.Items {
				line := fmt.Sprintf("[%d/%d] %s %q (%s, %s)", i+1, total, it.Outcome, it.RunID, it.Workflow, it.Status)
				if it.Reset != nil && it.Error == "" && !it.Reset.AlreadyDone {
					line += ": " + it.Reset.String()
				}
				if it.Error != "" {
					line += ": " + it.Error
				}
				fmt.Fprintln(out, line)
			}
			fmt.Fprintf(out, "%d done, %d skipped, %d failed, %d would be acted on (batch %s, as %s)\n",
				ans.Batch.Done, ans.Batch.Skipped, ans.Batch.Failed, ans.Batch.Would, ans.Batch.ID, ans.Identity)
			if ans.Error != "" {
				return fmt.Errorf("%s: run the same command with --id %s to go on", ans.Error, ans.Batch.ID)
			}
			if ans.Batch.Failed > 0 {
				return fmt.Errorf("%d run(s) failed", ans.Batch.Failed)
			}
			return nil
		},
	}
	o.flags(cmd)
	f.add(cmd, false)
	cmd.Flags().StringVar(&workflow, "workflow", "", "only runs of this workflow")
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "only runs with this status (repeatable, or comma-separated)")
	cmd.Flags().StringVar(&since, "since", "", "only runs started within this duration, such as 2h")
	cmd.Flags().StringVar(&id, "id", "", "the batch's ID, to resume a batch (default: a new one)")
	cmd.Flags().StringVar(&signal, "signal", "", "for signal: the signal's name")
	cmd.Flags().StringVar(&payload, "payload", "", "for signal: its value, JSON")
	cmd.Flags().StringVar(&reason, "terminate-reason", "", "for terminate: the reason recorded")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "list what would be done, changing nothing")
	cmd.Flags().Float64Var(&rps, "rps", 0, "at most this many runs per second (default 50)")
	return cmd
}

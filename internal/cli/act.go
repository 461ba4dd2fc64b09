package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/hook"
)

// The actions of signal, cancel and terminate, as the engine's notes and
// the dashboard's API name them.
const (
	actSignal    = history.ActionSignal
	actCancel    = history.ActionCancel
	actTerminate = history.ActionTerminate
)

// Ways an action reaches the run.
const (
	viaFile    = "file"
	viaProcess = "process"
	// viaDatabase: the command took a PostgreSQL database's lease (no
	// engine held it) and acted on it.
	viaDatabase = "database"
)

// Outcomes of an action.
const (
	// outcomeDone: the run's journal holds the action's effect (a
	// terminated run, or what the owning process journaled).
	outcomeDone = "done"
	// outcomeQueued: the journal holds the action, waiting for a process
	// that registers the run's workflow to deliver it to the code.
	outcomeQueued = "queued"
)

// closeTimeout bounds how long closing the engine a command opened may
// take; nothing of its own runs on it.
const closeTimeout = 30 * time.Second

// actHelp is the part of every action command's help that says how it
// reaches the run.
const actHelp = `The journal has one owner at a time. While the application that owns FILE
runs, act through it: --addr is the URL of the dashboard the application
mounts (package ui), such as http://127.0.0.1:8080/chorus (chorus serve is
read-only and takes no actions). FILE is then omitted or "-", since the
process writes it, and the identity recorded in the journal is the one the
dashboard's authenticator gives the token (--token, or the environment
variable CHORUS_TOKEN).

Without --addr, the command opens FILE itself, which only works while no
process holds it (it fails, without waiting, when one does), registering no
workflow. Then a terminate ends the run at once; a cancel or a signal is
queued in the run's journal and the run sees it when the application next
opens FILE with the run's workflow registered. The journal records who acted:
--identity, by default cli:USER@HOST.

On a PostgreSQL database (FILE is a postgres:// URL), --addr is the URL of the
dashboard of the application whose engine owns the database; without it the
command takes the database's lease itself, which only works while no engine
holds it.

The output says which way the action went and whether the run has seen it.`

// actOptions are what the action commands share: where the run is and who
// acts.
type actOptions struct {
	addr, token, identity string
}

func (o *actOptions) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.addr, "addr", "", "act through the process that owns the file: the URL of its dashboard")
	cmd.Flags().StringVar(&o.token, "token", "", "with --addr, the dashboard's bearer token (default: $CHORUS_TOKEN)")
	cmd.Flags().StringVar(&o.identity, "identity", "", "without --addr, who acts, recorded in the run's journal (default: cli:USER@HOST)")
}

// target splits args into FILE and the rest, want arguments after FILE
// named names: FILE is required without --addr, and omitted or "-" with
// it.
func (o *actOptions) target(cmd *cobra.Command, args []string, want int, names string) (string, []string, error) {
	if o.addr == "" {
		if len(args) != want+1 {
			return "", nil, usagef("%s: want FILE %s, got %d argument(s)", cmd.CommandPath(), names, len(args))
		}
		if args[0] == "-" {
			return "", nil, usagef("%s: FILE is \"-\" but --addr is not given: name the file, or pass --addr to act through the process that owns it", cmd.CommandPath())
		}
		if o.token != "" {
			return "", nil, usagef("%s: --token goes with --addr; without it the command opens FILE itself", cmd.CommandPath())
		}
		return args[0], args[1:], nil
	}
	switch {
	case len(args) == want:
	case len(args) == want+1 && args[0] == "-":
		args = args[1:]
	case len(args) == want+1:
		return "", nil, usagef("%s: with --addr the process that owns the file acts and FILE is not opened: omit it or pass \"-\" (got %q)", cmd.CommandPath(), args[0])
	default:
		return "", nil, usagef("%s: want [FILE|-] %s with --addr, got %d argument(s)", cmd.CommandPath(), names, len(args))
	}
	if o.identity != "" {
		return "", nil, usagef("%s: --identity goes without --addr; through --addr the journal records the identity the dashboard's authenticator gives the token", cmd.CommandPath())
	}
	return "", args, nil
}

// act is one action on a run, and what came of it.
type act struct {
	RunID    string `json:"run_id"`
	Workflow string `json:"workflow,omitempty"`
	Action   string `json:"action"`
	Signal   string `json:"signal,omitempty"`
	// Payload is the signal's value.
	Payload json.RawMessage `json:"payload,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	// Identity is who the journal says acted.
	Identity string `json:"identity,omitempty"`
	// Via is "file" (the command opened the file: no process held it),
	// "database" (the command took a PostgreSQL database's lease: no
	// engine held it) or "process" (the owning process acted, through its
	// dashboard API).
	Via  string `json:"via"`
	File string `json:"file,omitempty"`
	Addr string `json:"addr,omitempty"`
	// Outcome is "done" or "queued"; Status the run's status after the
	// action, when known.
	Outcome string `json:"outcome"`
	Status  string `json:"status,omitempty"`
	// Note says in words what the outcome means for the run.
	Note string `json:"note"`
}

func signalCmd() *cobra.Command {
	var o actOptions
	cmd := &cobra.Command{
		Use:   "signal FILE ID NAME JSON",
		Short: "Send a signal to a run",
		Long: `signal sends the signal NAME to the run ID, with the value JSON: a JSON
document, which the run's code decodes into the signal's type (the default
codec is JSON), such as '{"by":"ann"}', '"yes"' or 42. Sending to an ended run
fails.

` + actHelp,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, rest, err := o.target(cmd, args, 3, "ID NAME JSON")
			if err != nil {
				return err
			}
			a := &act{RunID: rest[0], Action: actSignal, Signal: rest[1]}
			if err := checkSignalName(a.Signal); err != nil {
				return err
			}
			if !json.Valid([]byte(rest[2])) {
				var v any
				err := json.Unmarshal([]byte(rest[2]), &v)
				return usagef("signal: JSON argument %q is not valid JSON (%v); quote a string as JSON, such as '\"yes\"'", cut(rest[2]), err)
			}
			a.Payload = json.RawMessage(rest[2])
			return o.run(cmd, file, a)
		},
	}
	o.flags(cmd)
	return cmd
}

func cancelCmd() *cobra.Command {
	var o actOptions
	cmd := &cobra.Command{
		Use:   "cancel FILE ID",
		Short: "Ask a run to stop; its code decides how",
		Long: `cancel asks the run ID to stop: its workflow context reports the
cancellation, its pending activities fail as canceled, and its code decides
what to do (a saga compensates). Canceling twice is harmless; canceling an
ended run fails.

` + actHelp,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, rest, err := o.target(cmd, args, 1, "ID")
			if err != nil {
				return err
			}
			return o.run(cmd, file, &act{RunID: rest[0], Action: actCancel})
		},
	}
	o.flags(cmd)
	return cmd
}

func terminateCmd() *cobra.Command {
	var o actOptions
	var reason string
	cmd := &cobra.Command{
		Use:   "terminate FILE ID --reason TEXT",
		Short: "End a run at once, without running more of its code",
		Long: `terminate ends the run ID at once, without running any more of its code, and
records --reason (required). Its pending activities are abandoned and its
parent, if any, sees the child fail. It works on blocked runs. Terminating an
ended run fails.

` + actHelp,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, rest, err := o.target(cmd, args, 1, "ID")
			if err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return usagef("terminate: --reason is required: say why the run ends, it is recorded in its journal")
			}
			return o.run(cmd, file, &act{RunID: rest[0], Action: actTerminate, Reason: reason})
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why the run ends, recorded in its journal (required)")
	return cmd
}

// run acts through the process at --addr, or on file, and prints what
// came of it.
func (o *actOptions) run(cmd *cobra.Command, file string, a *act) error {
	if o.addr != "" {
		c, err := newAPIClient(o.addr, o.token)
		if err != nil {
			return err
		}
		if err := c.act(cmd.Context(), a); err != nil {
			return err
		}
	} else {
		who := o.identity
		if who == "" {
			who = defaultIdentity()
		}
		if err := history.CheckIdentity(who); err != nil {
			return &usageError{fmt.Errorf("--identity: %w: %v", chorus.ErrInvalidIdentity, err)}
		}
		a.Identity = who
		if err := actOnFile(cmd.Context(), file, a); err != nil {
			return err
		}
	}
	if jsonFlag(cmd) {
		return writeJSON(cmd.OutOrStdout(), a)
	}
	return a.print(cmd.OutOrStdout())
}

// actOnFile opens the file with an engine that registers nothing (which
// fails at once while a process holds it) and acts on the run.
func actOnFile(ctx context.Context, path string, a *act) error {
	if isPostgres(path) {
		return actOnDatabase(ctx, path, a)
	}
	ro, err := sqlite.OpenReadOnly(ctx, path, nil)
	if err != nil {
		return err // missing, foreign or older or newer file: never create or migrate one here
	}
	if err := ro.Close(); err != nil {
		return err
	}
	// The output says what happened; the engine's warnings about the runs
	// whose workflow it lacks (all of them) are expected.
	eng, err := chorus.Open(ctx, path, &chorus.Options{Logger: slog.New(slog.DiscardHandler)})
	if errors.Is(err, chorus.ErrLocked) {
		return fmt.Errorf("%s is held by a running process: pass --addr with the URL of its dashboard to act through it, or stop it: %w", path, err)
	}
	if err != nil {
		return err
	}
	a.Via, a.File = viaFile, path
	err = actOnEngine(ctx, eng, path, a)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	return errors.Join(err, eng.Close(cctx))
}

// actOnDatabase takes the lease of the PostgreSQL database at url with an
// engine that registers nothing (which fails at once while an engine holds
// it) and acts on the run.
func actOnDatabase(ctx context.Context, url string, a *act) error {
	st, err := openOwner(ctx, url, a.Action, "pass --addr with the URL of its application's dashboard to act through it, or stop it")
	if err != nil {
		return err
	}
	eng, err := chorus.OpenStore(ctx, st, &chorus.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return errors.Join(pgError(url, err), st.Close())
	}
	name := display(url)
	a.Via, a.File = viaDatabase, name
	err = pgError(url, actOnEngine(ctx, eng, name, a))
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	return errors.Join(err, pgError(url, eng.Close(cctx)))
}

func actOnEngine(ctx context.Context, eng *chorus.Engine, path string, a *act) error {
	info, err := eng.Describe(ctx, a.RunID)
	if err != nil {
		return notFound(err, a.RunID)
	}
	a.Workflow = info.Workflow
	actx := chorus.WithIdentity(ctx, a.Identity)
	switch a.Action {
	case actCancel:
		err = eng.Cancel(actx, a.RunID)
	case actTerminate:
		err = eng.Terminate(actx, a.RunID, a.Reason)
	case actSignal:
		err = hook.PublicErr(hook.Core(eng).Signal(actx, a.RunID, a.Signal, a.Payload))
	}
	if err != nil {
		return actError(err, a, info.Status.String())
	}
	after, err := eng.Describe(ctx, a.RunID)
	if err != nil {
		return fmt.Errorf("run %s: the %s is journaled, but reading the run back failed: %w", strconv.Quote(a.RunID), a.Action, err)
	}
	a.Status = after.Status.String()
	if a.Action == actTerminate {
		a.Outcome, a.Note = outcomeDone, "done: the run is terminated"
		return nil
	}
	// The engine registers nothing, so the input waits in the journal for
	// the code.
	a.Outcome = outcomeQueued
	a.Note = fmt.Sprintf("queued: the run sees it when the application next opens %s with workflow %s registered", path, strconv.Quote(a.Workflow))
	if after.Status == chorus.StatusBlocked {
		a.Note += ", once the run is no longer blocked"
	}
	return nil
}

// actError says what an engine's or a server's refusal means.
func actError(err error, a *act, status string) error {
	id := strconv.Quote(a.RunID)
	switch {
	case errors.Is(err, chorus.ErrRunEnded):
		if status == "" || status == "running" || status == "blocked" {
			return fmt.Errorf("run %s has ended: nothing to %s: %w", id, a.Action, err)
		}
		return fmt.Errorf("run %s has ended (%s): nothing to %s: %w", id, status, a.Action, err)
	case errors.Is(err, chorus.ErrRunNotFound):
		return notFound(err, a.RunID)
	}
	return fmt.Errorf("%s run %s: %w", a.Action, id, err)
}

// checkSignalName refuses a name no workflow.NewSignal in code would
// have: empty, not UTF-8, or holding control characters (the journal
// keeps a NUL in a signal's name for its own use).
func checkSignalName(name string) error {
	if name == "" {
		return usagef("signal: NAME is empty: name the signal the run receives")
	}
	if !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return usagef("signal: NAME %q is not printable text: name the signal the run receives", cut(name))
	}
	return nil
}

// defaultIdentity is cli:USER@HOST, as far as the system tells them.
func defaultIdentity() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	who := "cli:" + name + "@" + host
	for len(who) > history.MaxIdentity {
		_, n := utf8.DecodeLastRuneInString(who)
		who = who[:len(who)-n]
	}
	return who
}

func (a *act) print(w io.Writer) error {
	kv := newTable(w, "Run", a.RunID)
	if a.Workflow != "" {
		kv.row("Workflow", a.Workflow)
	}
	action := a.Action
	switch {
	case a.Signal != "":
		action += " " + strconv.Quote(a.Signal) + " " + short(a.Payload, 60)
	case a.Reason != "":
		action += ": " + strconv.Quote(a.Reason)
	}
	kv.row("Action", action)
	kv.row("Identity", a.Identity)
	switch a.Via {
	case viaFile:
		kv.row("Through", a.File+" (opened by this command: no process held it)")
	case viaDatabase:
		kv.row("Through", a.File+" (this command took the database's lease: no engine held it)")
	case viaProcess:
		kv.row("Through", "the process that owns the file, at "+a.Addr)
	}
	if a.Status != "" {
		kv.row("Status", a.Status)
	}
	kv.row("Outcome", a.Note)
	return kv.flush()
}

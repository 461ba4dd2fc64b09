// Package ui is Chorus's dashboard: an [http.Handler] that an application
// mounts to see into its runs and act on them, with a JSON API behind the
// same handler. Pages are rendered on the server from templates and a
// stylesheet embedded in the binary: no JavaScript, nothing fetched from
// the internet.
//
// # Mounting
//
// Over a live engine, [Handler] reads through the engine's store and acts
// through the engine:
//
//	h, err := ui.Handler(eng, &ui.Options{
//		Prefix: "/chorus",
//		Auth:   ui.BearerToken(os.Getenv("CHORUS_TOKEN")),
//	})
//	mux.Handle("/chorus/", h)
//
// Over a store, [StoreHandler] reads only: `chorus serve FILE` runs it over
// a database file opened with sqlite.OpenReadOnly, without a lock, while
// the application runs. The journal has one writer, so there the pages say
// that actions are not available instead of showing buttons, and the
// action routes answer 403 (give [Options].Actions to plug in a way to
// act).
//
// # Pages
//
//	GET  /                   runs: filters, search, count, paging
//	GET  /runs/{id}          a run: summary, divergence, attributes, pending
//	                         work, children, compensations, timeline, actions
//	GET  /workflows/         every workflow's KPIs
//	GET  /workflows/{name}   one workflow's KPIs
//	GET  /models/            the models under a drift watch (package decide)
//	GET  /models/{name}      a model: its state, figures, switches, actions
//	POST /runs/{id}/cancel, /terminate, /signal   the run page's forms
//	POST /models/{name}/enable, /disable          the model page's forms
//
// The runs page reads the query parameters of GET /api/runs. Its search box
// takes a run ID (an exact one opens the run, otherwise runs whose ID starts
// with it are listed) or a search attribute filter such as customer=acme.
//
// A workflow's KPI page adds, when its runs made model-scored decisions
// (package decide), the automated and manual share of those decisions, the
// agreement rate between the model's suggestions and people's outcomes,
// and the fallbacks by reason, counted from the journals' decide.decision
// markers.
//
// # Models
//
// The models page lists every model kept under a drift watch (package
// decide: the runs "decide-watch:<model>" of workflow decide.watch): enabled
// or switched off, and by whom, when, why, with the window's agreement and
// number of cases at the switch; the agreement over the window as it
// stands; the decisions reported to the watch, the automated and manual
// shares, the agreement rate and the fallbacks by reason. A model's page
// adds every switch its watch journaled and, over a live engine with
// actions on, a form to switch the model off (with a reason) or on again
// (its window then starts afresh), CSRF-checked like the run page's forms.
// The switch goes through decide.Disable and decide.Enable with the
// caller's identity, and is journaled in the watch's run with it.
//
// Over a live engine, the figures come from the watch itself (a query);
// over a store (chorus serve), from the watch's journal: its switch markers
// and the reports it received. There, and on a read-only dashboard, models
// cannot be switched: the page says why and the routes answer 403. A model
// without a watch is unknown (404): switching it would start a watch for a
// name that may be a typo.
//
// # Authentication
//
// With [Options].Auth set, every route (pages, the stylesheet, the API)
// answers 401 to a request without valid credentials. [BearerToken]
// checks "Authorization: Bearer TOKEN" in constant time; [AuthFunc] plugs
// in the application's own authentication, whose identity is recorded.
// Browsers cannot send that header when they navigate, so a browser's 401
// is a sign-in form that exchanges the token for a session cookie
// (HttpOnly, SameSite=Strict, signed with [Options].SessionKey or a random
// per-handler key, valid [Options].SessionTTL).
//
// Actions are POST only. A form, or an API call authenticated by a cookie,
// must carry the session's CSRF token (the form field "csrf" or the header
// X-CSRF-Token; GET /api/session gives it), else 403 with code "csrf". A
// call that authenticates with the Authorization header needs none. Every
// unsafe request also passes [http.CrossOriginProtection]. [Options].
// ReadOnly switches actions off (403, and no buttons).
//
// Each action is journaled with who did it: the authenticated identity
// (the token's label for [BearerToken], the application's user for an
// [AuthFunc], "anonymous" without authentication) goes to the engine
// through chorus.WithIdentity, which records an OperatorAction event in the
// run's journal; the run's timeline shows it.
//
// # Inbox
//
// With [Options].Inbox set (a *human.Inbox), the dashboard is also where
// people decide the runs' human tasks, as the authenticated identity: the
// authenticator's identity is the user of the inbox, never a field of the
// request, so each claim and decision is journaled under a real person
// (a user the inbox's directory does not know is refused 403, code
// unknown_user). The nav shows "Inbox", and a run's page links its tasks.
//
//	GET  /inbox/                the user's open tasks: theirs, claimed by
//	                            them, or waiting for one of their groups
//	GET  /inbox/{run}/{task}    the task: its context, outcome, comments,
//	                            audit trail, and the forms below
//	POST /inbox/{run}/{task}/claim, /release, /complete, /reassign, /comment
//	GET  /api/inbox             {"identity": "...", "tasks": [human.TaskView...]}
//	GET  /api/inbox/{run}/{task}              the task, a human.TaskView
//	POST /api/inbox/{run}/{task}/claim        no body (or {})
//	POST /api/inbox/{run}/{task}/release      no body (or {})
//	POST /api/inbox/{run}/{task}/complete     {"outcome": <the task's outcome as JSON>}
//	POST /api/inbox/{run}/{task}/reassign     {"to_user": "...", "to_group": "..."} (one or both)
//	POST /api/inbox/{run}/{task}/comment      {"text": "..."}
//
// The completion form takes the outcome as JSON; with an example outcome
// for the task kind in [Options].Outcomes the page also offers a field per
// field of the example (text, number, checkbox), and builds the outcome
// from them (a field the example's JSON leaves out, omitempty with a zero
// value, gets no input: give it a value). Either way the task's own check
// decides whether the outcome is valid.
//
// An action answers {"action", "identity", "task"} (the task without its
// context, comments and audit). Forms and cookie-authenticated calls carry
// the CSRF token as the run actions do; a refused form shows the reason on
// the task page, the task as it was. Refusals are the API's error
// document: 403 not_authorized (not the assignee, the claimant or a member
// of the assigned group), 409 already_claimed, not_claimed (a release by
// someone else) and task_closed (completed, timed out, canceled; a second
// completion), 400 bad_input with field "outcome" (an outcome that does
// not decode into the task's outcome type, naming what was wrong), "text"
// or "to_user", 404 not_found (an unknown run or task). [Options].ReadOnly
// shows tasks without forms and answers actions 403.
//
// # JSON API
//
//	GET  /api/runs                 {"runs":[...],"next":"ID","count":N}
//	GET  /api/runs/{id}            the run's summary
//	GET  /api/runs/{id}/history    its timeline; ?format=events the journal's
//	                               events; ?format=export the replay document
//	GET  /api/stats                KPIs per workflow
//	GET  /api/session              {"identity","csrf_token","actions","live"}
//	POST /api/runs/{id}/cancel
//	POST /api/runs/{id}/terminate  {"reason": "..."} (optional)
//	POST /api/runs/{id}/signal     {"name": "...", "payload": <any JSON>}
//	POST /api/runs/{id}/reset      {"to_step": N | "to_last_good_step": true |
//	                               "to_first_failure": true | "retry": true,
//	                               "reason", "drop_signals", "force", "dry_run"}
//	POST /api/batch                {"id", "action": "reset|cancel|terminate|signal",
//	                               "workflow", "statuses", "since": "2h", "reset": {...},
//	                               "signal", "payload", "reason", "dry_run", "rps"}
//	GET  /api/models               {"models":[...],"actions":B,"no_action":"..."}
//	GET  /api/models/{name}        one model, with "switches"
//	POST /api/models/{name}/enable
//	POST /api/models/{name}/disable {"reason": "..."} (optional)
//
// The reset and batch routes need [ResetActions] (the engine's actions
// have them); a refused reset is answered 409 reset_refused.
//
// GET /api/runs takes status (repeatable or comma-separated), workflow,
// attr (repeatable: NAME=VALUE, NAME:int>=N, NAME:bool=true,
// NAME:time<=RFC3339, as `chorus runs list --attr`), created_after,
// created_before, closed_after, closed_before (RFC 3339, or 2006-01-02 and
// 2006-01-02T15:04 in UTC), q (as the search box), limit (page size, 1 to
// 1,000) and after (the "next" of the previous page). Its document is that
// of `chorus runs list --json`, with the count of matching runs; a run's
// summary is that of `chorus runs show --json`; the events and the export
// are those of `chorus history --json` and `--export`. A model's document
// holds model, run_id, run_status, enabled, last_switch and switches
// (enabled, by, at, reason, agreement, cases), watch (window,
// min_agreement), cases and agreement (the window's), counters (decisions,
// automated, manual, fallbacks, compared, agreed), automated_share,
// manual_share, agreement_rate, and source ("watch" or "journal"); a switch
// answers {"model","action","identity","status"}, status being the watch's
// decide.Status. GET /api/stats takes
// workflow, from and to (the created range) and limit (the runs measured,
// the most recent); its document is that of `chorus stats --json`, whose
// workflows hold "decisions" when their runs made model-scored decisions.
//
// Errors are {"error": "...", "code": "...", "field": "..."} with status 400
// (code bad_input; field names the parameter or body field), 401
// (unauthorized), 403 (csrf, cross_origin, actions_disabled), 404
// (not_found: an unknown run, model or route), 405 (method_not_allowed), 409
// (run_ended, run_blocked), 413 (payload_too_large: a body over
// [Options].MaxBodyBytes or a payload over the engine's limit), 503
// (engine_closed).
package ui

// Package decide makes model-scored decisions in workflow code: a model
// scores a case, bands stated as data say who decides it (the model or a
// person of some queue), and when the model fails, is too slow, is not sure
// or has drifted, a person decides. Every decision is journaled.
//
//	var Credit = decide.NewModel[Application]("credit-score")
//
//	var Approve = workflow.New("approve-loan", func(ctx workflow.Context, app Application) (string, error) {
//		d, err := decide.Decide(ctx, Credit, app, decide.Policy{
//			Bands: []decide.Band{
//				{Name: "low", Below: 0.2, Route: decide.Auto("approve")},
//				{Name: "medium", Below: 0.7, Route: decide.Human("underwriter"), Suggest: "approve"},
//				{Name: "high", Route: decide.Human("senior-underwriter"), Suggest: "decline"},
//			},
//			MinConfidence: 0.6,
//			Timeout:       2 * time.Second,
//			Watch:         &decide.Watch{Window: 100, MinAgreement: 0.8},
//		}, askUnderwriter)
//		if err != nil {
//			return "", err
//		}
//		return d.Outcome, nil
//	})
//
//	// At startup: the model's implementation, and the drift watch.
//	eng.Register(Credit.Activity(scoreWithGBM), Approve)
//	eng.Register(decide.Definitions(eng)...)
//
// # Models
//
// A [Model] is an activity that returns a [Score]: a value, a confidence
// from 0 to 1, and the name and version of the model that scored. Workflow
// code names the model ([NewModel]); the process registers its
// implementation ([Model.Activity]). Swapping the model (a new version,
// another vendor) is a change of what is registered, not of workflow code,
// and stays replay-safe: the score, with the model's name and version, is
// the activity's journaled result, so a replay of an old run uses what was
// recorded and never calls the new model.
//
// The model is called once, without retries, bounded by Policy.Timeout
// (default [DefaultTimeout]) from the moment it is scheduled: the attempt's
// context carries that deadline, and a durable timer covers a model that
// never starts (no implementation registered, a busy engine).
//
// # Bands and routes
//
// Policy.Bands lists score ranges in ascending order of Below; a score falls
// in the first band whose Below is above it, and the last band (no Below)
// takes the rest. Each band routes to an outcome ([Auto]) or to a person of a
// queue ([Human]), and a person band may name the outcome the model
// suggests (Band.Suggest; an automatic band suggests its outcome).
//
// A person decides (through the [Asker] the workflow passes in, with a
// [Referral] holding the case, the queue, the score and the suggestion) when
// the band says so, and also, in the queue of Policy.Fallback (by default the
// first person band's), when:
//
//   - the model failed ([FallbackError]) or gave no score within the
//     timeout ([FallbackTimeout]);
//   - its score is not finite or its confidence is outside 0 to 1
//     ([FallbackInvalidScore]);
//   - its confidence is below Policy.MinConfidence in an automatic band
//     ([FallbackLowConfidence]);
//   - its drift watch switched it off and the band is automatic
//     ([FallbackModelOff]); a person band's person then decides without
//     the model's suggestion, so as not to lean on a model known to drift.
//
// The route is computed once and journaled (a side effect), so a run waiting
// for a person keeps its route when the policy changes under it: the bands
// may come from configuration. Adding or removing Policy.Watch changes the
// commands a decision issues; for runs in flight, guard it with
// workflow.GetVersion.
//
// # The decision record
//
// Decide returns a [Decision]: the model's name and version, score,
// confidence, band, route, queue, suggestion, final outcome, who decided
// ([ByModel] or [ByPerson], and the person's name), why a fallback happened
// and whether the person agreed with the model. It is journaled as a
// [DecisionMarker] marker and kept in the run's memo under
// "decide:<model>" (the latest decision of that model), so Engine.Describe,
// the dashboard and the chorus command show it. [Records] reads a run's
// decisions from its journal, [FromEvents] from an exported history,
// [Summarize] counts them ([Counters]: automated and manual shares,
// fallbacks by reason, agreement rate), and [Count] counts those of every
// run a listing selects, per model.
//
// # The drift watch
//
// With Policy.Watch, every decision is reported to the model's drift watch:
// a long-running workflow of this package, run ID [WatchID](model)
// ("decide-watch:credit-score"), started by the first report. It counts
// every decision ([Counters]) and keeps a sliding window of the last
// Watch.Window cases a person decided while the model had a suggestion.
// Once the window is full and the share where the person's outcome equals
// the suggestion is below Watch.MinAgreement, it switches the model off:
// from then on every case goes to people (the model is still called, and
// its score recorded and compared, so the agreement can be followed), until
// an operator calls [Enable]. Enabling empties the window so the model is
// judged afresh; [Disable] switches a model off by hand.
//
// A decision reads the watch through an activity (journaled, so a replay
// sees the same answer), and reports to it through another, by a signal
// the watch deduplicates by the decision's key (the activity may run twice
// after a crash). A watch that cannot be read counts as off: people decide.
// Each switch, by the watch or by an operator, is journaled in the watch's
// run with who, when, why, the agreement and the number of cases: a
// [SwitchMarker] marker, the run's memo entry "decide.switch" and its search
// attribute decide.enabled ([AttrEnabled]; [AttrModel] holds the model's
// name), so switched-off models are found with
// chorus runs list FILE --attr decide.enabled:bool=false. [WatchStatus]
// returns a watch's state: on or off, the window's agreement, the counters
// and the latest switches. The watch continues as new every few hundred
// reports, carrying its state, so its journal stays short.
//
// The watch needs [Definitions] registered: its workflow and the two
// activities, which reach the engine they are registered with.
package decide

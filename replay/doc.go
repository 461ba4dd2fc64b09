// Package replay checks, before a deploy, that new workflow code still
// replays the runs that old code recorded. It replays recorded histories
// (chorus-history documents, specified below) against the current code and
// reports the first step where the code no longer does what the journal
// says, as a [*chorus.NonDeterminismError]. Nothing runs: no activity, no
// timer, no child.
//
// # Use
//
// Record a history from any run, ended or in flight, and keep it under
// testdata:
//
//	h, err := chorus.History(ctx, eng, "order-42")  // *history.Export
//	err = h.Encode(file)                             // a chorus-history document
//
// then replay every history in the folder on each test run, as the CI gate:
//
//	func TestHistoriesReplay(t *testing.T) {
//		replay.Test(t, "testdata/histories", PlaceOrder, HandleClaim)
//	}
//
// [Test] runs one subtest per file. [Dir] does the same outside a test and
// joins one [*FileError] per failing file; [File] replays one file, [Run] one
// decoded [history.Export]. Pass the workflow definitions (activity
// definitions are accepted and not needed: activities never run during
// replay). Histories recorded with a custom chorus.Options.Codec need a
// [Replayer] with that Codec. Golden histories are recorded again only on
// purpose (this package's own tests do it with go test ./replay -update),
// because a history stands for the runs of the code that recorded it, which
// a later change must keep replaying.
//
// [Run] loads the history into a private in-memory store
// (history/sqlite, ":memory:") with [chorus.ImportHistory], opens an engine
// on it with the definitions and replays the run's current generation (from
// its first_seq) exactly as the engine does when it rebuilds a run after a
// restart. It returns nil, or, unwrapped: a [*chorus.NonDeterminismError];
// a [*chorus.PanicError] (the code panicked); a [*chorus.PayloadError] (a
// recorded value does not decode into the code's types); a
// [*chorus.NotRegisteredError] (the run's workflow is not among the
// definitions); or a [*history.FormatError] (the history is not valid).
//
// # What replay checks
//
// Replay re-executes the workflow function from the start and matches each
// command the code issues against the journal by position, type and name:
// ActivityScheduled (the activity's name), TimerScheduled, ChildStarted (the
// child's workflow name), SignalSent (the signal name), SideEffect (its kind:
// "side-effect", "uuid", "random-seed"), VersionMarker (the change ID), Marker
// (its name), UpdateCompleted and UpdateFailed (the update's name and ID),
// and the command that ends the run (RunCompleted, RunFailed, RunCanceled,
// RunContinuedAsNew). Inputs (ActivityCompleted, TimerFired,
// SignalReceived, CancelRequested, ...) are fed back to the code in journal
// order; an UpdateAccepted starts the update's handler again there, without
// its validator. Payloads are not compared: the code gets the recorded
// results.
//
// These changes make an old run diverge (each is a row of this package's
// TestMutationTable; "step" is the first journal position that differs):
//
//	change to the code               | step reported                | journal holds         | code now
//	reorder two activities           | the first of the two         | ActivityScheduled "a" | issues ActivityScheduled "b"
//	rename an activity               | its step                     | ActivityScheduled "b" | issues ActivityScheduled "b-v2"
//	remove an activity               | its step                     | ActivityScheduled "b" | issues the next command
//	add an activity (or a timer,     | the step it takes            | what was there        | issues ActivityScheduled "d"
//	  a side effect, a UUID, ...)    |                              |                       |   (TimerScheduled, SideEffect ...)
//	add an activity at the end       | the step of RunCompleted     | RunCompleted          | issues ActivityScheduled "d"
//	remove a timer                   | its step                     | TimerScheduled        | waits for something else without issuing it
//	wait for another signal          | the next command recorded    | ChildStarted "child"  | waits for something else without issuing it
//	                                 |   after the signal came      |                       |
//	change a child workflow's type   | its step                     | ChildStarted "child"  | issues ChildStarted "child-v2"
//	rename the workflow              | (a *chorus.NotRegisteredError for the recorded name)
//
// These changes are safe and are not flagged:
//   - changing an activity's (or a child's) input value: payloads are not
//     compared; runs in flight keep the recorded inputs;
//   - adding code between steps that issues no command: computations,
//     logging (workflow.Logger), query handlers, workflow.Now,
//     workflow.IsReplaying, workflow.Go coroutines and workflow channels;
//   - changing an activity's implementation: replay hands the code the
//     recorded results, and the new implementation runs for new attempts;
//   - adding a step guarded by workflow.GetVersion: a run recorded without
//     the marker takes the old path;
//   - changing a timer's duration: a timer already recorded keeps its
//     recorded fire time; new timers use the new duration.
//
// The limit of matching commands: a change is found where the code issues,
// or stops issuing, a command the journal holds. Receiving a signal issues
// no command, so code that waits for another signal diverges only at the
// next command recorded after the signal; a history that ends while the run
// waits (or right after the signal) replays cleanly. Likewise a command
// added after the end of an in-flight history is not a divergence: the run
// will issue it live. Keep histories of runs that got far enough.
//
// # The chorus-history format, version 1
//
// A chorus-history document is one run's journal, every generation of it,
// with its index row. [history.Export] is its Go form; [history.DecodeExport]
// and [history.Export.Encode] read and write it; the rules below are what
// they enforce, so that another tool can write documents Chorus reads and
// read documents Chorus writes.
//
// A document is UTF-8 JSON (RFC 8259): one object, at most 64 MiB
// ([history.MaxExportSize]) with at most 1,000,000 events
// ([history.MaxExportEvents]); readers check both limits while reading,
// before allocating for more. Member names are case-sensitive; no object
// may hold a member twice or a member not listed here. Insignificant
// whitespace is free.
//
// The document object has exactly these members, and "format" and
// "version" must be its first two, in that order, so that a reader knows
// what it reads before it reads the rest:
//
//	"format"   string   "chorus-history"
//	"version"  integer  1. A reader refuses a version it does not know; a newer
//	                    one is a distinct error (history.ErrExportTooNew). Any
//	                    change to the format (a new member, a new event type)
//	                    comes with a new version.
//	"run"      object   the run's index row (below)
//	"events"   array    the journal: every event of every generation (below)
//
// The "run" object:
//
//	"id"              string   required; 1 to 255 bytes, no NUL
//	"workflow"        string   required; the workflow's registered name, which
//	                           must be the name of the RunStarted at first_seq
//	"status"          string   required; "running", "completed", "failed",
//	                           "canceled", "blocked", "terminated" or
//	                           "timed-out"
//	"created_at"      time     required; when the run started
//	"updated_at"      time     required; when its row last changed
//	"first_seq"       integer  required; the seq of the RunStarted of the run's
//	                           current generation: 1, or later if the run
//	                           continued as new. Replay starts there.
//	"parent"          string   the ID of the run that started this one as a
//	                           child; absent (or "") for a run started from outside
//	"parent_step"     integer  the parent's ChildStarted seq; present (1 or more)
//	                           exactly when "parent" is
//	"result"          payload  the result of a completed run (payload rules below)
//	"failure"         payload  how a run failed, was canceled or terminated, or
//	                           why it is blocked (an encoded failure, below)
//
// Each element of "events" is an object:
//
//	"seq"      integer  required; the event's position: the first event has seq 1
//	                    and each next one the next integer, without gaps
//	"type"     string   required; one of the event type names below
//	"name"     string   what the event is about (see the table); absent means ""
//	"ref"      integer  for an input that answers a command (the "ref" column
//	                    below), the seq of that command; for a SignalReceived
//	                    that came with the start of its generation
//	                    (signal-with-start), the seq of that RunStarted; 0
//	                    (or absent) for every other event
//	"time"     time     required; when the engine recorded the event (the run's
//	                    clock: workflow.Now returns it during replay)
//	"payload"  payload  the event's data (see the table); absent means empty
//
// The event types. Commands are issued by the workflow code, and replay
// expects the code to issue them again, identically in type and name;
// inputs come from outside the code.
//
//	type               kind     name                    ref              payload
//	RunStarted         -        the workflow            -                the input
//	ActivityScheduled  command  the activity            -                the input
//	ActivityCompleted  input    the activity            its schedule     the result
//	ActivityFailed     input    the activity            its schedule     a failure
//	TimerScheduled     command  -                       -                {"fire_at": time, "duration": nanoseconds}
//	TimerFired         input    -                       its TimerScheduled  -
//	SignalReceived     input    the signal              - or its RunStarted  the value
//	SignalSent         command  the signal              -                {"target", "signal", "value" (base64), "from", "step"}
//	SignalDelivered    input    the signal              its SignalSent   empty, or a failure if not delivered
//	ChildStarted       command  the child's workflow    -                {"id", "workflow", "input" (base64), "parent",
//	                                                                     "parent_step", "detach", "parent_close",
//	                                                                     "timeouts": {"execution", "run"}
//	                                                                     (nanoseconds)}
//	ChildCompleted     input    the child's workflow    its ChildStarted  the child's result
//	ChildFailed        input    the child's workflow    its ChildStarted  a failure
//	                            ("" when the child was
//	                            canceled before it started)
//	SideEffect         command  "side-effect", "uuid"   -                the value (a UUID as 16 raw bytes; a
//	                            or "random-seed"                         random seed as 16 raw bytes)
//	VersionMarker      command  the change ID           -                the version, a JSON integer
//	Marker             command  the marker              -                its details
//	UpdateAccepted     input    the update, NUL, the    -                the argument
//	                            update ID
//	UpdateCompleted    command  as its UpdateAccepted   its UpdateAccepted  the handler's result
//	UpdateFailed       command  as its UpdateAccepted   its UpdateAccepted  a failure
//	SearchAttributesUpserted
//	                   command  the names set, comma-   -                {"attrs": [{"n", "k", "s", "i"}],
//	                            separated                                "memo": [{"k", "v" (base64)}]}
//	CancelRequested    input    -                       -                -
//	RunCompleted       command  -                       -                the result
//	RunFailed          command  -                       -                a failure
//	RunCanceled        command  -                       -                a failure
//	RunContinuedAsNew  command  -                       -                the next generation's input
//	RunTerminated      input    -                       -                a failure holding the reason
//	                                                                     (type "WorkflowTimeout" for a run
//	                                                                     that timed out)
//
// Inputs, results and values are what the engine's codec made of the Go
// values (JSON by default). A failure is the codec's encoding of
// history.Failure: {"message", "type", "non_retryable", "attempt", "details"
// (base64), "cause" (a failure)}. The payloads of TimerScheduled, SignalSent,
// ChildStarted, VersionMarker and SearchAttributesUpserted are always JSON. The columns name and
// payload describe what the engine writes; a reader must not rely on more
// than the rules of this section.
//
// The journal as a whole must hold together: an input's "ref" names an
// earlier command of the type the table gives, in the same generation, and
// no command is answered twice (an UpdateCompleted or UpdateFailed names
// its UpdateAccepted the same way, and finishes it once); a SignalReceived whose "ref" names a
// RunStarted follows it directly (or after other such signals); the first
// event is a RunStarted; a RunStarted after the first directly follows a
// RunContinuedAsNew (a new generation), or a RunCompleted, RunFailed,
// RunCanceled or RunTerminated (a new run that took the ID of the ended
// one); a RunContinuedAsNew is directly followed by a RunStarted (the
// journal cannot end between them); only a RunStarted follows a
// RunCompleted, RunFailed, RunCanceled or RunTerminated; "first_seq" is the
// seq of the last RunStarted, and "run"."workflow" is its name. The run's
// last seq is the number of events.
//
// A time is a JSON string in RFC 3339 format with an optional fraction of
// up to nine digits ("2025-06-02T09:00:00Z", "2025-06-02T11:00:00.5+02:00").
// Readers accept any offset and convert to UTC; writers write UTC with "Z"
// and the shortest fraction. A time is "0001-01-01T00:00:00Z" (no time) or
// lies between 1677-09-21T00:12:43.145224192Z and
// 2262-04-11T23:47:16.854775807Z (what a Unix nanosecond count holds).
//
// A payload is a byte string, written as one of two members; absent both,
// it is empty; present both, the document is refused:
//   - "<member>": a JSON value, when the bytes are valid UTF-8 JSON in
//     compact form (no whitespace outside strings). The bytes are the
//     value's compact form: a reader removes the whitespace outside strings
//     and changes nothing else (no escaping or unescaping); a writer embeds
//     the bytes as they are, and may indent around and inside the value.
//     JSON null is the four bytes "null", not an empty payload.
//   - "<member>_base64": a string, the bytes in standard base64 with
//     padding (RFC 4648, section 4), for anything else (another codec's
//     output, raw bytes, JSON with whitespace).
//
// So "payload": {"ID":"order-42"} stands for the 15 bytes {"ID":"order-42"},
// and "payload_base64": "AP8=" for the bytes 0x00 0xff. The run's "result"
// and "failure" follow the same rule ("result_base64", "failure_base64").
//
// A document that breaks a rule is refused with a [*history.FormatError]
// that names the member (a JSON path such as "events[12].time") and the
// index of the event at fault, and wraps [history.ErrNotExport] (not a
// chorus-history document), [history.ErrExportTooNew],
// [history.ErrExportTooLarge] or [history.ErrCorrupt] (anything else).
//
// [history.Export.Encode] writes "format" and "version", then "run" with
// one member per line and "events" with one event per line, members in the
// order of the tables above, so that documents diff well; the same Export
// always gives the same bytes. For example (shortened):
//
//	{
//	  "format": "chorus-history",
//	  "version": 1,
//	  "run": {
//	    "id": "order-42",
//	    "workflow": "place-order",
//	    "status": "completed",
//	    "created_at": "2025-06-02T09:00:00Z",
//	    "updated_at": "2025-06-02T09:00:00Z",
//	    "first_seq": 1,
//	    "result": {"OrderID":"order-42","Reservation":"RSV-order-42","Charge":"CH-order-42","Tracking":"TRK-order-42"}
//	  },
//	  "events": [
//	    {"seq":1,"type":"RunStarted","name":"place-order","time":"2025-06-02T09:00:00Z","payload":{"ID":"order-42","Qty":2}},
//	    {"seq":2,"type":"ActivityScheduled","name":"reserve-inventory","time":"2025-06-02T09:00:00Z","payload":{"ID":"order-42","Qty":2}},
//	    {"seq":3,"type":"ActivityCompleted","name":"reserve-inventory","ref":2,"time":"2025-06-02T09:00:00Z","payload":{"ID":"RSV-order-42"}},
//	    {"seq":4,"type":"SideEffect","name":"uuid","time":"2025-06-02T09:00:00Z","payload_base64":"9o+FKjIxRIGzZGUtVyE7Rg=="},
//	    ...
//	    {"seq":9,"type":"RunCompleted","time":"2025-06-02T09:00:00Z","payload":{"OrderID":"order-42","Reservation":"RSV-order-42","Charge":"CH-order-42","Tracking":"TRK-order-42"}}
//	  ]
//	}
//
// The histories under testdata/ in this package are complete examples.
package replay

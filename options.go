package chorus

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
)

// Defaults of [Options].
const (
	// DefaultMaxConcurrentActivities is how many activity attempts run at
	// once.
	DefaultMaxConcurrentActivities = 256
	// DefaultCacheSize is how many idle runs stay in memory.
	DefaultCacheSize = 10_000
	// DefaultMaxCommitBatch is how many runs' steps one transaction commits
	// at most.
	DefaultMaxCommitBatch = 1024
	// DefaultMaxPayloadBytes caps one encoded payload (2 MiB).
	DefaultMaxPayloadBytes = 2 << 20
	// DefaultMaxHistoryEvents caps the events of a run's current generation.
	DefaultMaxHistoryEvents = 50_000
	// DefaultMaxHistoryBytes caps the size of a run's current generation
	// (64 MiB).
	DefaultMaxHistoryBytes = 64 << 20
	// DefaultMaxPendingSignals caps the signals a run received and has not
	// consumed yet.
	DefaultMaxPendingSignals = 10_000
	// DefaultDeadlockTimeout is how long workflow code may run without
	// yielding to the engine before its run is blocked with a
	// [*DeadlockError].
	DefaultDeadlockTimeout = time.Second
)

// Limits bound what one run may hold; see [Options.Limits]. A zero field
// takes its default; a negative one disables that limit.
//
// The limits are checked before anything is written, so a run that reaches
// one stays readable and replayable:
//
//   - A call from outside that would cross one (Start, Signal, Query,
//     SignalWithStart) gets a [*LimitError] and changes nothing.
//   - A signal for which the run's history has no room left is refused the
//     same way; the run goes on.
//   - An activity whose result is over MaxPayloadBytes fails at once, not
//     retried, with failure type [FailureTypeLimitExceeded]: workflow code
//     gets an error that matches [ErrLimitExceeded] and [*LimitError].
//   - Workflow code that would cross one (a payload too big, a command for
//     which the history has no room) blocks the run with a [*LimitError]:
//     Result and Describe report a [*BlockedError] whose Cause is the
//     [*LimitError], nothing of the blocked step is written, and raising
//     the limit and reopening resumes the run where it stopped.
//
// MaxHistoryEvents counts, from the moment a command is issued, the event
// that will record its outcome (an activity's result, a timer firing, a
// child's end, a signal's delivery): an outcome always has room, so no
// work is ever done twice for lack of it. MaxHistoryBytes counts an outcome
// without its payload until it arrives; an outcome may then take the run
// past the limit (by at most MaxPayloadBytes), and the run is blocked at
// its next command. The events that end a run, and a cancellation request,
// are never refused.
type Limits struct {
	// MaxPayloadBytes caps one encoded payload: a workflow input or result,
	// an activity input or result, a signal, a query argument. Defaults to
	// [DefaultMaxPayloadBytes].
	MaxPayloadBytes int
	// MaxHistoryEvents caps the events of a run's current generation
	// (workflow.ContinueAsNew starts a new one). Defaults to
	// [DefaultMaxHistoryEvents].
	MaxHistoryEvents int
	// MaxHistoryBytes caps the payload bytes of a run's current generation,
	// plus 48 bytes per event. Defaults to [DefaultMaxHistoryBytes].
	MaxHistoryBytes int64
	// MaxPendingSignals caps the signals a run has received and not yet
	// consumed. Defaults to [DefaultMaxPendingSignals].
	MaxPendingSignals int
}

// Options configures an [Engine]. A nil *Options means every default.
type Options struct {
	// Logger receives the engine's logs. Defaults to the handler of
	// slog.Default() as it is when the engine opens, from the warning level
	// up (a run that waits for an unregistered name, a damaged journal, ...).
	Logger *slog.Logger
	// Clock is the source of every timestamp, timeout and retry backoff.
	// Tests pass a clock.Mock to control time. Defaults to the wall clock.
	Clock clock.Clock
	// Codec encodes workflow and activity payloads in the journal. Defaults
	// to [history.JSONCodec].
	Codec history.Codec
	// PayloadCodec, when set, transforms every payload the engine journals
	// after Codec encoded it (and before Codec decodes it): workflow and
	// activity inputs and results, signals, update arguments and results,
	// failures (messages and details), heartbeat details, side-effect and
	// other recorded values, and memo values. The package chorus/codec has
	// zstd compression and AES-256-GCM encryption with key rotation:
	//
	//	PayloadCodec: codec.Chain(codec.Zstd(), codec.AESGCM(keys))
	//
	// Search attribute values are not encoded: the store indexes them so
	// that [Engine.List] can filter on them, so they are stored in the
	// clear; keep personal data in the memo or the payloads instead.
	// Names (of workflows, activities, signals, updates, attributes, memo
	// keys) and run IDs are not payloads and are not encoded either.
	//
	// A run whose journal holds a payload that cannot be decoded for want
	// of its key (an error wrapping [history.ErrPayloadKey]) is blocked, not
	// failed: [Engine.Describe] shows why, and the run resumes when the
	// engine is opened again with the key. Payloads journaled before a
	// PayloadCodec was configured stay readable.
	//
	// With a PayloadCodec, the errors an [Observer] sees for workflow and
	// activity code carry their failure type but not their message (it
	// is encrypted in the journal, and may quote payloads), so traces do
	// not hold it either. Defaults to none: payloads are stored as Codec
	// encodes them.
	PayloadCodec history.PayloadCodec
	// Synchronous chooses how hard each commit waits for the disk (see
	// [sqlite.Synchronous]): FULL survives power loss, NORMAL may lose the
	// last acknowledged steps on a power loss or OS crash but never corrupts
	// the file. It only applies to [Open]. Defaults to sqlite.SynchronousFull.
	Synchronous sqlite.Synchronous
	// FileMode is the permission of the database file when [Open] creates
	// it, and so of the -wal and -shm files beside it, whatever the umask
	// (see sqlite.Options.FileMode); an existing file keeps its own. It only
	// applies to [Open]. Defaults to [sqlite.DefaultFileMode] (0o600:
	// readable and writable by its owner only).
	FileMode os.FileMode
	// MaxConcurrentActivities caps the activity attempts running at once.
	// Defaults to [DefaultMaxConcurrentActivities].
	MaxConcurrentActivities int
	// CacheSize caps the idle runs kept in memory; an evicted run is rebuilt
	// from its journal when it next has work. Defaults to [DefaultCacheSize].
	CacheSize int
	// MaxCommitBatch caps how many runs' steps are committed in one
	// transaction. Defaults to [DefaultMaxCommitBatch].
	MaxCommitBatch int
	// DefaultActivityOptions apply to every activity unless its definition
	// or the calling workflow says otherwise. Defaults to no timeout and
	// unlimited retries with the [activity.RetryPolicy] defaults.
	DefaultActivityOptions *activity.Options
	// Limits bound what one run may hold; see [Limits] for what happens
	// when one is reached. They are checked before anything is written: a
	// call that would cross one gets a [*LimitError]; a run whose code
	// would cross one is blocked with it, left readable and replayable, and
	// resumes once the limit is raised. The engine warns in its log when a
	// run's history passes 80% of a limit. Zero fields default to
	// [DefaultMaxPayloadBytes], [DefaultMaxHistoryEvents],
	// [DefaultMaxHistoryBytes] and [DefaultMaxPendingSignals]; a negative
	// field means no limit.
	Limits *Limits
	// Definitions are registered before the engine recovers the journal's
	// work, as if passed to [Engine.Register] right after Open. Defaults to
	// none.
	Definitions []Definition
	// ContextPropagators carry values (a tenant, a user, a request ID, a
	// trace context) from the context of [Start] and [SignalWithStart]
	// into workflow code, activities and child runs, journaled with the
	// run's start so they survive restarts; see [ContextPropagator].
	// Defaults to none.
	ContextPropagators []ContextPropagator
	// Observer, when set, is told of what the engine does live (runs,
	// activity attempts, timers, signals, children, compensations,
	// commits, the run cache) for tracing and metrics; see [Observer]
	// and the chorusotel package. Defaults to none, which costs nothing.
	Observer Observer
	// CheckUpgrade makes Open replay every run that has not ended against
	// Definitions before anything is resumed, and mark blocked (with a
	// [*NonDeterminismError]) each run the code no longer replays, so none
	// of them is started blind. [Engine.CheckUpgrade] lists them. Defaults
	// to false.
	CheckUpgrade bool
	// DeadlockTimeout bounds how long workflow code may keep control
	// without reaching a workflow call that waits (an activity's Get, a
	// timer, a channel, a Selector). Code that is blocked outside the
	// workflow API (a Go channel, select, mutex, time.Sleep, I/O) is
	// abandoned, and its run is blocked with a [*DeadlockError] instead of
	// hanging the engine. Code that is still running or waiting for a CPU
	// at that point (a long computation, or a loaded machine) gets up to
	// ten times the bound before the same happens. It is measured in real
	// time, whatever the Clock, and per stretch of one goroutine's
	// execution, so replaying a long history never trips it. Defaults to
	// [DefaultDeadlockTimeout]; a negative value disables the detector
	// (for stepping through workflow code in a debugger).
	DeadlockTimeout time.Duration
	// Retention, when positive, is how long runs are kept once they have
	// ended: the engine deletes older ones in the background, at Open and
	// then at least hourly on its Clock, in the small transactions of
	// [Engine.Purge] (which says what is never deleted). Defaults to zero:
	// runs are kept forever.
	Retention time.Duration
	// Queues declares the named queues that [StartOptions].Queue and
	// activity.Options.Queue may name; see [Queue]. Defaults to none.
	Queues []Queue
}

// WithDefaults returns a copy of o with every zero field set to its default.
func (o *Options) WithDefaults() *Options {
	c := Options{}
	if o != nil {
		c = *o
	}
	if c.Logger == nil {
		c.Logger = slog.New(warnings{slog.Default().Handler()})
	}
	if c.Clock == nil {
		c.Clock = clock.New()
	}
	if c.Codec == nil {
		c.Codec = history.JSONCodec{}
	}
	if c.Synchronous == "" {
		c.Synchronous = sqlite.DefaultSynchronous
	}
	if c.FileMode == 0 {
		c.FileMode = sqlite.DefaultFileMode
	}
	if c.MaxConcurrentActivities == 0 {
		c.MaxConcurrentActivities = DefaultMaxConcurrentActivities
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.MaxCommitBatch == 0 {
		c.MaxCommitBatch = DefaultMaxCommitBatch
	}
	if c.DeadlockTimeout == 0 {
		c.DeadlockTimeout = DefaultDeadlockTimeout
	}
	var l Limits
	if c.Limits != nil {
		l = *c.Limits
	}
	l.MaxPayloadBytes = limitOr(l.MaxPayloadBytes, DefaultMaxPayloadBytes)
	l.MaxHistoryEvents = limitOr(l.MaxHistoryEvents, DefaultMaxHistoryEvents)
	l.MaxHistoryBytes = limitOr(l.MaxHistoryBytes, DefaultMaxHistoryBytes)
	l.MaxPendingSignals = limitOr(l.MaxPendingSignals, DefaultMaxPendingSignals)
	c.Limits = &l
	return &c
}

func (o *Options) validate() error {
	switch {
	case o.MaxConcurrentActivities < 0:
		return fmt.Errorf("chorus: Options.MaxConcurrentActivities is negative (%d)", o.MaxConcurrentActivities)
	case o.CacheSize < 0:
		return fmt.Errorf("chorus: Options.CacheSize is negative (%d)", o.CacheSize)
	case o.MaxCommitBatch < 0:
		return fmt.Errorf("chorus: Options.MaxCommitBatch is negative (%d)", o.MaxCommitBatch)
	case o.Synchronous != sqlite.SynchronousFull && o.Synchronous != sqlite.SynchronousNormal:
		return fmt.Errorf("chorus: Options.Synchronous is %q (want FULL or NORMAL)", o.Synchronous)
	case o.Retention < 0:
		return fmt.Errorf("chorus: Options.Retention is negative (%v; zero keeps runs forever)", o.Retention)
	case o.FileMode&^os.ModePerm != 0:
		return fmt.Errorf("chorus: Options.FileMode is %v (want permission bits only, such as 0o600)", o.FileMode)
	}
	if err := validateQueues(o.Queues); err != nil {
		return err
	}
	if err := validatePropagators(o.ContextPropagators); err != nil {
		return err
	}
	if err := o.DefaultActivityOptions.Validate(); err != nil {
		return fmt.Errorf("chorus: Options.DefaultActivityOptions: %w", err)
	}
	return nil
}

// limitOr applies a default to a zero limit and turns a negative one into
// "no limit" (0 for the engine).
func limitOr[T int | int64](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

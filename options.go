package chorus

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
	"github.com/chorusdev/chorus/internal/engine"
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

// Limits bound what one run may hold; see [Options.Limits]. A negative
// field disables that limit.
type Limits = engine.Limits

// Options configures an [Engine]. A nil *Options means every default.
type Options struct {
	// Logger receives the engine's logs. Defaults to discarding them.
	Logger *slog.Logger
	// Clock is the source of every timestamp, timeout and retry backoff.
	// Tests pass a clock.Mock to control time. Defaults to the wall clock.
	Clock clock.Clock
	// Codec encodes workflow and activity payloads in the journal. Defaults
	// to [history.JSONCodec].
	Codec history.Codec
	// Synchronous chooses how hard each commit waits for the disk (see
	// [sqlite.Synchronous]): FULL survives power loss, NORMAL may lose the
	// last acknowledged steps on a power loss or OS crash but never corrupts
	// the file. It only applies to [Open]. Defaults to sqlite.SynchronousFull.
	Synchronous sqlite.Synchronous
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
	// Limits bound what one run may hold. They are checked before anything
	// is written: a call that would cross one gets a [*LimitError]; a run
	// whose code would cross one is blocked with it, left readable and
	// replayable, and resumes once the limit is raised. The engine warns in
	// its log when a run's history passes 80% of a limit. Zero fields
	// default to [DefaultMaxPayloadBytes], [DefaultMaxHistoryEvents],
	// [DefaultMaxHistoryBytes] and [DefaultMaxPendingSignals]; a negative
	// field means no limit.
	Limits *Limits
	// Definitions are registered before the engine recovers the journal's
	// work, as if passed to [Engine.Register] right after Open. Defaults to
	// none.
	Definitions []Definition
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
}

// WithDefaults returns a copy of o with every zero field set to its default.
func (o *Options) WithDefaults() *Options {
	c := Options{}
	if o != nil {
		c = *o
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
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

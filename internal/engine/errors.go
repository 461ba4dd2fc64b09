package engine

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// Failure types of the reasons that block a run, and of payload and limit
// failures; the others are in engine.go. Each error type of this package
// names its failure type with a FailureType method, which
// activity.TypeOf (and so FailureOf) prefers over the Go type name.
const (
	FailureTypeLimitExceeded      = activity.TypeLimitExceeded
	FailureTypeInvalidPayload     = activity.TypeInvalidPayload
	FailureTypeUnsupportedVersion = "UnsupportedVersion"
	FailureTypeNotRegistered      = "NotRegistered"
	FailureTypeCorrupt            = "Corrupt"
	FailureTypeInvalidRunID       = "InvalidRunID"
)

// Sentinel errors, re-exported by the chorus package.
var (
	ErrEngineClosed          = errors.New("chorus: engine closed")
	ErrNotRegistered         = errors.New("chorus: not registered")
	ErrDuplicateRegistration = errors.New("chorus: duplicate registration")
	ErrCanceled              = errors.New("chorus: canceled")
	ErrRunBlocked            = errors.New("chorus: run blocked")
	ErrRunEnded              = errors.New("chorus: run has ended")
	ErrPayload               = errors.New("chorus: payload cannot be encoded or decoded")
)

// NotRegisteredError reports a workflow or activity name the engine does not
// know, whether it came from a call or from the journal.
type NotRegisteredError struct {
	Kind string // "workflow" or "activity"
	Name string
}

func (e *NotRegisteredError) Error() string {
	return fmt.Sprintf("chorus: %s %q is not registered with this engine (call Engine.Register with its definition)", e.Kind, e.Name)
}

// Is makes errors.Is(err, ErrNotRegistered) true.
func (e *NotRegisteredError) Is(target error) bool { return target == ErrNotRegistered }

// FailureType returns the type recorded for the error.
func (e *NotRegisteredError) FailureType() string { return FailureTypeNotRegistered }

// NonDeterminismError reports that replaying a run's journal against the
// current code diverged: the code did something other than what the journal
// recorded at that step.
type NonDeterminismError struct {
	// RunID and Workflow name the run.
	RunID    string
	Workflow string
	// Step is the journal position where the divergence was found.
	Step int64
	// Recorded describes what the journal holds at Step ("nothing" past its
	// end).
	Recorded string
	// Issued describes what the code did now.
	Issued string
}

func (e *NonDeterminismError) Error() string {
	return fmt.Sprintf("chorus: non-determinism in run %q (workflow %q) at step %d: the journal holds %s but the code now %s; "+
		"replay matches each command by position and name, so restore the code path that recorded this run or guard the change so old runs keep it",
		e.RunID, e.Workflow, e.Step, e.Recorded, e.Issued)
}

// FailureType returns the type recorded for the error.
func (e *NonDeterminismError) FailureType() string { return FailureTypeNonDeterminism }

// PanicError reports a panic in workflow code. The run is blocked, not
// failed: a fix to the code resumes it.
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("chorus: workflow code panicked: %v", e.Value)
}

// FailureType returns the type recorded for the error.
func (e *PanicError) FailureType() string { return FailureTypeWorkflowPanic }

// PayloadError reports a payload that the codec could not encode or decode.
type PayloadError struct {
	What string // for example `result of activity "charge-card" (step 3)`
	Err  error
}

func (e *PayloadError) Error() string {
	return fmt.Sprintf("chorus: %s: %v", e.What, e.Err)
}

func (e *PayloadError) Unwrap() []error { return []error{ErrPayload, e.Err} }

// FailureType returns the type recorded for the error.
func (e *PayloadError) FailureType() string { return FailureTypeInvalidPayload }

// BlockedError is returned for a run the engine cannot advance with the code
// it has. Reason says why; the journal is untouched.
type BlockedError struct {
	RunID  string
	Reason string
	// Cause is the error that blocked the run when it is known in full (a
	// *NonDeterminismError always is), or nil.
	Cause error
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("chorus: run %q is blocked: %s", e.RunID, e.Reason)
}

// Is makes errors.Is(err, ErrRunBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrRunBlocked }

// Unwrap returns Cause.
func (e *BlockedError) Unwrap() error { return e.Cause }

func describeEvent(ev history.Event) string {
	var b strings.Builder
	b.WriteString(ev.Type.String())
	name, key := splitSignalName(ev.Name)
	if name != "" {
		fmt.Fprintf(&b, " %q", name)
	}
	switch {
	case key != "" && updateEvent(ev.Type):
		fmt.Fprintf(&b, " (update ID %q)", key)
	case key != "":
		fmt.Fprintf(&b, " (from %s)", key)
	}
	if ev.Ref != 0 {
		fmt.Fprintf(&b, " (answering step %d)", ev.Ref)
	}
	return b.String()
}

// VersionError reports a run that follows a version of a change which the
// code no longer supports (see workflow.GetVersion). The run is blocked.
type VersionError struct {
	RunID    string
	ChangeID string
	Version  int
	Min, Max int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("chorus: run %q follows version %d of change %q, but the code supports versions %d to %d only",
		e.RunID, e.Version, e.ChangeID, e.Min, e.Max)
}

// FailureType returns the type recorded for the error.
func (e *VersionError) FailureType() string { return FailureTypeUnsupportedVersion }

// FailureCauseIs reports whether the typed error that f records (see
// BlockedCause) matches target.
func FailureCauseIs(f *history.Failure, target error) bool {
	c := BlockedCause(f)
	return c != nil && errors.Is(c, target)
}

// FailureCauseAs finds target in the typed error that f records (see
// BlockedCause).
func FailureCauseAs(f *history.Failure, target any) bool {
	c := BlockedCause(f)
	return c != nil && errors.As(c, target)
}

// MaxRunIDLength is the longest run ID accepted, in bytes.
const MaxRunIDLength = 255

// ErrInvalidRunID is wrapped by every *RunIDError.
var ErrInvalidRunID = errors.New("chorus: invalid run ID")

// RunIDError reports a run ID that breaks the rules: empty, longer than
// MaxRunIDLength bytes, not valid UTF-8, or holding a NUL byte.
type RunIDError struct {
	// ID is the ID, cut to its first quotedIDBytes bytes when longer.
	ID string
	// Length is the ID's length in bytes.
	Length int
	// Reason says which rule the ID breaks.
	Reason string
	// Child is set for the ID of a child run.
	Child bool
}

func (e *RunIDError) Error() string {
	what := "run ID"
	if e.Child {
		what = "child run ID"
	}
	if e.Length == 0 {
		return fmt.Sprintf("chorus: %s %s", what, e.Reason)
	}
	return fmt.Sprintf("chorus: %s %s %s", what, quoteCut(e.ID, e.Length), e.Reason)
}

// Is makes errors.Is(err, ErrInvalidRunID) true.
func (e *RunIDError) Is(target error) bool { return target == ErrInvalidRunID }

// FailureType returns the type recorded for the error.
func (e *RunIDError) FailureType() string { return FailureTypeInvalidRunID }

// quotedIDBytes is how much of a run ID an error text quotes at most.
const quotedIDBytes = 64

// cutID returns the first quotedIDBytes bytes of id at most, not splitting
// a character.
func cutID(id string) string {
	if len(id) <= quotedIDBytes {
		return id
	}
	n := quotedIDBytes
	for n > quotedIDBytes-utf8.UTFMax && n > 0 && !utf8.RuneStart(id[n]) {
		n--
	}
	return id[:n]
}

func quoteCut(cut string, length int) string {
	if length > len(cut) {
		return fmt.Sprintf("%q... (%d bytes)", cut, length)
	}
	return fmt.Sprintf("%q", cut)
}

// QuoteID quotes a run ID for an error text: all of it, or its first
// bytes and its length when it is long.
func QuoteID(id string) string { return quoteCut(cutID(id), len(id)) }

// ValidateRunID returns a *RunIDError if id breaks the rules of run IDs.
func ValidateRunID(id string) error {
	if reason := nameRule(id, MaxRunIDLength); reason != "" {
		return &RunIDError{ID: cutID(id), Length: len(id), Reason: reason}
	}
	return nil
}

// nameRule says which rule of names (run IDs, signal names) s breaks, or
// "": not empty, at most max bytes, UTF-8, no NUL byte.
func nameRule(s string, max int) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > max:
		return fmt.Sprintf("is %d bytes long; the limit is %d", len(s), max)
	case !utf8.ValidString(s):
		return "is not valid UTF-8 text"
	case strings.ContainsRune(s, 0):
		return "holds a NUL byte"
	}
	return ""
}

// publicAs is installed by the chorus package: it lets errors.As find the
// public types that mirror this package's error types.
var publicAs func(err error, target any) bool

// SetPublicAs installs f as the As method of every error type of this
// package: errors.As(err, target) then also matches when f says so. It is
// called once, from an init function.
func SetPublicAs(f func(err error, target any) bool) { publicAs = f }

func asPublic(err error, target any) bool { return publicAs != nil && publicAs(err, target) }

// As lets errors.As find the public type that mirrors this one.
func (e *NonDeterminismError) As(target any) bool { return asPublic(e, target) }

// As lets errors.As find the public type that mirrors this one.
func (e *NotRegisteredError) As(target any) bool { return asPublic(e, target) }

// As lets errors.As find the public type that mirrors this one.
func (e *BlockedError) As(target any) bool { return asPublic(e, target) }

// As lets errors.As find the public type that mirrors this one.
func (e *PanicError) As(target any) bool { return asPublic(e, target) }

// As lets errors.As find the public type that mirrors this one.
func (e *PayloadError) As(target any) bool { return asPublic(e, target) }

// As lets errors.As find the public type that mirrors this one.
func (e *LimitError) As(target any) bool { return asPublic(e, target) }

// As lets errors.As find the public type that mirrors this one.
func (e *VersionError) As(target any) bool { return asPublic(e, target) }

// As lets errors.As find the public type that mirrors this one.
func (e *RunIDError) As(target any) bool { return asPublic(e, target) }

package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// AttrKind is the type of a search attribute's value. Values are persisted.
type AttrKind uint8

// The search attribute kinds.
const (
	// AttrKeyword is an exact-match string, such as a customer ID.
	AttrKeyword AttrKind = 1
	// AttrInt is a signed 64-bit integer.
	AttrInt AttrKind = 2
	// AttrTime is an instant, kept as Unix nanoseconds.
	AttrTime AttrKind = 3
	// AttrBool is true or false, kept as 1 or 0.
	AttrBool AttrKind = 4
)

var attrKindNames = map[AttrKind]string{AttrKeyword: "keyword", AttrInt: "int", AttrTime: "time", AttrBool: "bool"}

// String returns the kind in lower case, such as "keyword".
func (k AttrKind) String() string {
	if s, ok := attrKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("AttrKind(%d)", uint8(k))
}

// Valid reports whether k is a kind this version of Chorus knows.
func (k AttrKind) Valid() bool {
	_, ok := attrKindNames[k]
	return ok
}

// Limits on search attributes and memo entries, checked before anything is
// journaled.
const (
	// MaxAttrs is how many search attributes one run may hold.
	MaxAttrs = 64
	// MaxMemo is how many memo entries one run may hold.
	MaxMemo = 64
	// MaxAttrName is the longest attribute name or memo key, in bytes.
	MaxAttrName = 128
	// MaxKeyword is the longest keyword value, in bytes.
	MaxKeyword = 512
	// MaxMemoValue is the largest encoded memo value, in bytes.
	MaxMemoValue = 32 << 10
)

// ErrInvalidAttr is wrapped by every [*AttrError].
var ErrInvalidAttr = errors.New("invalid search attribute or memo")

// AttrError reports a search attribute, memo entry or filter that cannot be
// used. It wraps [ErrInvalidAttr].
type AttrError struct {
	// Name is the attribute's name or memo key (possibly empty: that is
	// then the problem).
	Name string
	// Reason says what is wrong.
	Reason string
}

func (e *AttrError) Error() string {
	return fmt.Sprintf("chorus: search attribute %q: %s", e.Name, e.Reason)
}

// Unwrap returns [ErrInvalidAttr].
func (e *AttrError) Unwrap() error { return ErrInvalidAttr }

// Attr is one search attribute: a typed value under a name. Build one from a
// typed key ([NewKeyword], [NewInt], [NewTime], [NewBool]).
type Attr struct {
	Name string   `json:"n"`
	Kind AttrKind `json:"k"`
	// Text is a keyword's value.
	Text string `json:"s,omitempty"`
	// Int is an int's value, a time's Unix nanoseconds, or a bool's 0 or 1.
	Int int64 `json:"i,omitempty"`

	// bad says why a key could not make this attribute (a time out of
	// range), for Validate to report.
	bad string
}

// Value returns the attribute's value as a string, int64, time.Time (UTC)
// or bool.
func (a Attr) Value() any {
	switch a.Kind {
	case AttrKeyword:
		return a.Text
	case AttrInt:
		return a.Int
	case AttrTime:
		return time.Unix(0, a.Int).UTC()
	case AttrBool:
		return a.Int != 0
	}
	return nil
}

// String describes the attribute, such as `customer=acme`.
func (a Attr) String() string { return fmt.Sprintf("%s=%v", a.Name, a.Value()) }

func checkName(name string) error {
	switch {
	case name == "":
		return &AttrError{Name: name, Reason: "empty name"}
	case len(name) > MaxAttrName:
		return &AttrError{Name: name, Reason: fmt.Sprintf("name is %d bytes, longer than %d", len(name), MaxAttrName)}
	case !utf8.ValidString(name):
		return &AttrError{Name: name, Reason: "name is not valid UTF-8"}
	}
	return nil
}

// Validate checks the attribute against the limits above.
func (a Attr) Validate() error {
	if err := checkName(a.Name); err != nil {
		return err
	}
	if a.bad != "" {
		return &AttrError{Name: a.Name, Reason: a.bad}
	}
	if !a.Kind.Valid() {
		return &AttrError{Name: a.Name, Reason: fmt.Sprintf("unknown kind %v", a.Kind)}
	}
	if a.Kind == AttrKeyword {
		if len(a.Text) > MaxKeyword {
			return &AttrError{Name: a.Name, Reason: fmt.Sprintf("value is %d bytes, longer than %d", len(a.Text), MaxKeyword)}
		}
		if !utf8.ValidString(a.Text) {
			return &AttrError{Name: a.Name, Reason: "value is not valid UTF-8"}
		}
	} else if a.Text != "" {
		return &AttrError{Name: a.Name, Reason: fmt.Sprintf("a %v attribute with a text value", a.Kind)}
	}
	if a.Kind == AttrBool && a.Int != 0 && a.Int != 1 {
		return &AttrError{Name: a.Name, Reason: fmt.Sprintf("bool value %d, want 0 or 1", a.Int)}
	}
	return nil
}

// KeywordKey names a keyword search attribute.
type KeywordKey struct{ name string }

// IntKey names an integer search attribute.
type IntKey struct{ name string }

// TimeKey names a time search attribute.
type TimeKey struct{ name string }

// BoolKey names a boolean search attribute.
type BoolKey struct{ name string }

// NewKeyword returns the key of a keyword attribute. Declare keys once, at
// package level, and share them between workflow code and the code that
// lists runs.
func NewKeyword(name string) KeywordKey { return KeywordKey{name} }

// NewInt returns the key of an integer attribute.
func NewInt(name string) IntKey { return IntKey{name} }

// NewTime returns the key of a time attribute.
func NewTime(name string) TimeKey { return TimeKey{name} }

// NewBool returns the key of a boolean attribute.
func NewBool(name string) BoolKey { return BoolKey{name} }

// Name returns the attribute's name.
func (k KeywordKey) Name() string { return k.name }

// Name returns the attribute's name.
func (k IntKey) Name() string { return k.name }

// Name returns the attribute's name.
func (k TimeKey) Name() string { return k.name }

// Name returns the attribute's name.
func (k BoolKey) Name() string { return k.name }

// Value returns the attribute set to v.
func (k KeywordKey) Value(v string) Attr { return Attr{Name: k.name, Kind: AttrKeyword, Text: v} }

// Value returns the attribute set to v.
func (k IntKey) Value(v int64) Attr { return Attr{Name: k.name, Kind: AttrInt, Int: v} }

// Value returns the attribute set to v (kept to the nanosecond, as UTC). A
// time outside 1677-09-21 to 2262-04-11 (what Unix nanoseconds can hold)
// makes an attribute that fails validation.
func (k TimeKey) Value(v time.Time) Attr {
	if v.Before(minAttrTime) || v.After(maxAttrTime) {
		return Attr{Name: k.name, Kind: AttrTime, bad: fmt.Sprintf("time %v is out of range (1677-09-21 to 2262-04-11)", v)}
	}
	return Attr{Name: k.name, Kind: AttrTime, Int: v.UnixNano()}
}

var (
	minAttrTime = time.Unix(0, math.MinInt64)
	maxAttrTime = time.Unix(0, math.MaxInt64)
)

// Value returns the attribute set to v.
func (k BoolKey) Value(v bool) Attr { return Attr{Name: k.name, Kind: AttrBool, Int: b2i(v)} }

func b2i(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// Is keeps the runs whose attribute equals v.
func (k KeywordKey) Is(v string) AttrFilter {
	return AttrFilter{Name: k.name, Kind: AttrKeyword, Text: v}
}

// Is keeps the runs whose attribute equals v.
func (k IntKey) Is(v int64) AttrFilter {
	return AttrFilter{Name: k.name, Kind: AttrInt, Min: v, Max: v}
}

// Between keeps the runs whose attribute is in [lo, hi].
func (k IntKey) Between(lo, hi int64) AttrFilter {
	return AttrFilter{Name: k.name, Kind: AttrInt, Min: lo, Max: hi}
}

// AtLeast keeps the runs whose attribute is lo or more.
func (k IntKey) AtLeast(lo int64) AttrFilter { return k.Between(lo, math.MaxInt64) }

// AtMost keeps the runs whose attribute is hi or less.
func (k IntKey) AtMost(hi int64) AttrFilter { return k.Between(math.MinInt64, hi) }

// Between keeps the runs whose attribute is in [from, to); a zero bound is
// open.
func (k TimeKey) Between(from, to time.Time) AttrFilter {
	f := AttrFilter{Name: k.name, Kind: AttrTime, Min: math.MinInt64, Max: math.MaxInt64}
	// Bounds beyond what Unix nanoseconds hold are as good as open.
	if !from.IsZero() && from.After(minAttrTime) {
		f.Min = from.UnixNano()
		if from.After(maxAttrTime) {
			f.Min = math.MaxInt64
		}
	}
	if !to.IsZero() && to.Before(maxAttrTime) {
		f.Max = to.UnixNano() - 1
		if to.Before(minAttrTime) || to.Equal(minAttrTime) {
			f.Max = math.MinInt64
		}
	}
	return f
}

// Is keeps the runs whose attribute equals v.
func (k BoolKey) Is(v bool) AttrFilter {
	return AttrFilter{Name: k.name, Kind: AttrBool, Min: b2i(v), Max: b2i(v)}
}

// AttrFilter keeps the runs that hold attribute Name of kind Kind with a
// value that matches: equal to Text for a keyword; in [Min, Max], both
// inclusive, for the other kinds (a time as Unix nanoseconds, a bool as 0 or
// 1). Build one from a typed key (KeywordKey.Is, IntKey.Between, ...).
type AttrFilter struct {
	Name     string
	Kind     AttrKind
	Text     string
	Min, Max int64
}

// Validate checks that the filter can select anything meaningful.
func (f AttrFilter) Validate() error {
	if err := checkName(f.Name); err != nil {
		return err
	}
	if !f.Kind.Valid() {
		return &AttrError{Name: f.Name, Reason: fmt.Sprintf("filter of unknown kind %v", f.Kind)}
	}
	if f.Kind != AttrKeyword && f.Min > f.Max {
		return &AttrError{Name: f.Name, Reason: fmt.Sprintf("empty range [%d, %d]", f.Min, f.Max)}
	}
	if f.Kind == AttrKeyword && len(f.Text) > MaxKeyword {
		return &AttrError{Name: f.Name, Reason: fmt.Sprintf("value is %d bytes, longer than %d", len(f.Text), MaxKeyword)}
	}
	return nil
}

// MemoEntry is one unindexed memo value, encoded by the engine's codec.
type MemoEntry struct {
	Key   string `json:"k"`
	Value []byte `json:"v"`
}

// AttrUpsert is the payload of an [EventSearchAttributesUpserted] event:
// attributes and memo entries that replace those of the same names. Its
// encoding is fixed (JSON, see [EncodeAttrUpsert]), not the engine's codec,
// so that stores can index it.
type AttrUpsert struct {
	Attrs []Attr      `json:"attrs,omitempty"`
	Memo  []MemoEntry `json:"memo,omitempty"`
}

// Validate checks every attribute and memo entry, and that no name appears
// twice.
func (u AttrUpsert) Validate() error {
	seen := make(map[string]bool, len(u.Attrs))
	for _, a := range u.Attrs {
		if err := a.Validate(); err != nil {
			return err
		}
		if seen[a.Name] {
			return &AttrError{Name: a.Name, Reason: "set twice in one upsert"}
		}
		seen[a.Name] = true
	}
	seen = make(map[string]bool, len(u.Memo))
	for _, m := range u.Memo {
		if err := checkName(m.Key); err != nil {
			return err
		}
		if len(m.Value) > MaxMemoValue {
			return &AttrError{Name: m.Key, Reason: fmt.Sprintf("memo value is %d bytes, larger than %d", len(m.Value), MaxMemoValue)}
		}
		if seen[m.Key] {
			return &AttrError{Name: m.Key, Reason: "memo key set twice in one upsert"}
		}
		seen[m.Key] = true
	}
	return nil
}

// EncodeAttrUpsert validates u and encodes it as an event payload.
func EncodeAttrUpsert(u AttrUpsert) ([]byte, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(u)
}

// DecodeAttrUpsert decodes and validates an event payload.
func DecodeAttrUpsert(b []byte) (AttrUpsert, error) {
	var u AttrUpsert
	if err := json.Unmarshal(b, &u); err != nil {
		return AttrUpsert{}, fmt.Errorf("search attributes payload: %w", err)
	}
	return u, u.Validate()
}

// RunAttrs are the current search attributes and memo of a run.
type RunAttrs struct {
	// Attrs are ordered by name.
	Attrs []Attr
	// Memo maps each memo key to its value, encoded by the engine's codec.
	Memo map[string][]byte
}

// AttrStore is implemented by stores that index search attributes (the
// SQLite store does). A store keeps, per run, the last value upserted under
// each name, written in the same transaction as the event. Continue-as-new
// keeps them (the same run goes on); a new run under a reused ID starts
// with none.
type AttrStore interface {
	// RunAttrs returns a run's current attributes and memo (empty for a
	// run that has none, including an unknown run).
	RunAttrs(ctx context.Context, runID string) (RunAttrs, error)
	// CountRuns returns how many runs match f; f.AfterID and f.Limit are
	// ignored.
	CountRuns(ctx context.Context, f ListFilter) (int64, error)
}

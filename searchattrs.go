package chorus

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/chorusdev/chorus/history"
)

// SearchAttribute is a typed, indexed value attached to a run by its code
// (workflow.UpsertSearchAttributes), built from a key: Customer.Value("acme").
type SearchAttribute = history.Attr

// AttrFilter selects runs by a search attribute, for [ListOptions].Attrs;
// build one from a key: Customer.Is("acme"), Amount.Between(10, 20).
type AttrFilter = history.AttrFilter

// AttrError reports a search attribute, memo entry or attribute filter that
// cannot be used, naming it. It wraps [ErrInvalidAttr].
type AttrError = history.AttrError

// ErrInvalidAttr is wrapped by every [*AttrError].
var ErrInvalidAttr = history.ErrInvalidAttr

// The typed keys of search attributes.
type (
	KeywordKey = history.KeywordKey
	IntKey     = history.IntKey
	TimeKey    = history.TimeKey
	BoolKey    = history.BoolKey
)

// NewKeyword returns the key of a keyword (exact-match string) search
// attribute. Declare keys once, at package level, and use them both in
// workflow code (Customer.Value("acme")) and to list runs
// (Customer.Is("acme")).
func NewKeyword(name string) KeywordKey { return history.NewKeyword(name) }

// NewInt returns the key of an integer search attribute.
func NewInt(name string) IntKey { return history.NewInt(name) }

// NewTime returns the key of a time search attribute.
func NewTime(name string) TimeKey { return history.NewTime(name) }

// NewBool returns the key of a boolean search attribute.
func NewBool(name string) BoolKey { return history.NewBool(name) }

// ErrBadCursor is returned for a [ListOptions].Cursor this engine did not
// make.
var ErrBadCursor = errors.New("chorus: invalid list cursor")

const cursorPrefix = "c1:"

func encodeCursor(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + lastID))
}

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return "", fmt.Errorf("%w %q", ErrBadCursor, c)
	}
	return strings.TrimPrefix(string(b), cursorPrefix), nil
}

// filter turns o into the store's filter, checking what can be checked.
func (o ListOptions) filter() (history.ListFilter, error) {
	f := history.ListFilter{
		Status: o.Status, Workflow: o.Workflow, AfterID: o.AfterID, Limit: o.Limit,
		Attrs: o.Attrs, Statuses: o.Statuses,
		CreatedFrom: o.CreatedFrom, CreatedTo: o.CreatedTo, ClosedFrom: o.ClosedFrom, ClosedTo: o.ClosedTo,
	}
	for _, a := range o.Attrs {
		if err := a.Validate(); err != nil {
			return f, err
		}
	}
	if o.Cursor != "" {
		id, err := decodeCursor(o.Cursor)
		if err != nil {
			return f, err
		}
		f.AfterID = id
	}
	return f, nil
}

// ListPage returns one page of the runs [Engine.List] would return, and the
// cursor of the next page: "" when the page came back shorter than
// opts.Limit, so nothing follows (a full page always gives a cursor, whose
// page may be empty). Set opts.Limit to the page size (0 returns everything
// in one page) and opts.Cursor to the cursor of the previous page.
func (e *Engine) ListPage(ctx context.Context, opts *ListOptions) ([]RunInfo, string, error) {
	runs, err := e.List(ctx, opts)
	if err != nil {
		return nil, "", err
	}
	if opts == nil || opts.Limit <= 0 || len(runs) < opts.Limit {
		return runs, "", nil
	}
	return runs, encodeCursor(runs[len(runs)-1].ID), nil
}

// Count returns how many runs match opts (its AfterID, Cursor and Limit are
// ignored).
func (e *Engine) Count(ctx context.Context, opts *ListOptions) (int64, error) {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	o.Cursor = ""
	f, err := o.filter()
	if err != nil {
		return 0, err
	}
	as, ok := e.store.(history.AttrStore)
	if !ok {
		return 0, fmt.Errorf("chorus: count runs: the store (%T) does not count runs", e.store)
	}
	n, err := as.CountRuns(ctx, f)
	if err != nil {
		return 0, e.closedErr(err)
	}
	return n, nil
}

// DecodeMemo decodes a memo value of [RunInfo].Memo into the value v points
// to, with the engine's codec.
func (e *Engine) DecodeMemo(b []byte, v any) error {
	return e.codec.Unmarshal(b, v)
}

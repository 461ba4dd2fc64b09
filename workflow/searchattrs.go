package workflow

import (
	"fmt"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/engine"
)

// SearchAttribute is a typed, indexed value attached to a run, built from a
// key such as chorus.NewKeyword("customer").Value("acme").
type SearchAttribute = history.Attr

// UpsertSearchAttributes sets search attributes of the run, replacing any
// earlier value under the same name. They are indexed by the store, in the
// same commit as the journal event that records them, so that
// Engine.List can filter on them. It is a command: replay expects the same
// call, with the same values, at the same place.
//
// Bad input (an empty or too long name, an unknown kind, a keyword longer
// than history.MaxKeyword bytes, the same name twice, more than
// history.MaxAttrs attributes on the run) returns a *history.AttrError
// naming the attribute, and journals nothing.
func UpsertSearchAttributes(ctx Context, attrs ...SearchAttribute) error {
	c := mustImpl(ctx)
	defer c.leave()
	return c.r.UpsertAttrs(history.AttrUpsert{Attrs: attrs})
}

// UpsertMemo sets an unindexed memo entry of the run: a value encoded by
// the engine's codec, shown by Engine.Describe but not searchable. It is a
// command, journaled and replayed like [UpsertSearchAttributes], and bad
// input gives a *history.AttrError naming the key (an empty or too long key,
// a value larger than history.MaxMemoValue bytes once encoded, more than
// history.MaxMemo entries on the run).
func UpsertMemo(ctx Context, key string, value any) error {
	c := mustImpl(ctx)
	defer c.leave()
	b, err := c.r.Codec().Marshal(value)
	if err != nil {
		return &engine.PayloadError{What: fmt.Sprintf("encode memo %q", key), Err: err}
	}
	return c.r.UpsertAttrs(history.AttrUpsert{Memo: []history.MemoEntry{{Key: key, Value: b}}})
}

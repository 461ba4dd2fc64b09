package engine

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/chorusdev/chorus/history"
)

// UpsertAttrs journals a SearchAttributesUpserted command that sets u's
// search attributes and memo entries; the store indexes them in the same
// commit. Bad input (see [history.AttrUpsert.Validate], or more than
// [history.MaxAttrs] attributes or [history.MaxMemo] memo entries on the
// run) gives an [*history.AttrError] and journals nothing. On replay the
// command must be issued again with the same payload.
func (r *Run) UpsertAttrs(u history.AttrUpsert) error {
	r.checkCommand(history.EventSearchAttributesUpserted.String())
	if len(u.Attrs) == 0 && len(u.Memo) == 0 {
		return nil
	}
	payload, err := history.EncodeAttrUpsert(u)
	if err != nil {
		return err
	}
	nAttrs, nMemo := 0, 0
	for k := range r.attrs {
		if strings.HasPrefix(k, "a:") {
			nAttrs++
		} else {
			nMemo++
		}
	}
	names := make([]string, 0, len(u.Attrs)+len(u.Memo))
	for _, a := range u.Attrs {
		if !r.attrs["a:"+a.Name] {
			if nAttrs++; nAttrs > history.MaxAttrs {
				return &history.AttrError{Name: a.Name, Reason: fmt.Sprintf("the run would hold more than %d search attributes", history.MaxAttrs)}
			}
		}
		names = append(names, a.Name)
	}
	for _, m := range u.Memo {
		if !r.attrs["m:"+m.Key] {
			if nMemo++; nMemo > history.MaxMemo {
				return &history.AttrError{Name: m.Key, Reason: fmt.Sprintf("the run would hold more than %d memo entries", history.MaxMemo)}
			}
		}
		names = append(names, m.Key)
	}
	name := strings.Join(names, ",")
	replaying := len(r.replay) > 0
	seq, _ := r.command(history.EventSearchAttributesUpserted, name, payload)
	if replaying && !bytes.Equal(r.lastPayload, payload) {
		r.Fail(&NonDeterminismError{
			RunID: r.id, Workflow: r.spec.Name(), Step: seq,
			Recorded: fmt.Sprintf("SearchAttributesUpserted %q with payload %s", name, r.lastPayload),
			Issued:   fmt.Sprintf("issues SearchAttributesUpserted %q with payload %s", name, payload),
		})
	}
	if r.attrs == nil {
		r.attrs = map[string]bool{}
	}
	for _, a := range u.Attrs {
		r.attrs["a:"+a.Name] = true
	}
	for _, m := range u.Memo {
		r.attrs["m:"+m.Key] = true
	}
	return nil
}

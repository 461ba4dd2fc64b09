package engine

import (
	"testing"

	"github.com/chorusdev/chorus/history"
)

// Every note type is passed over by replay: adding a note type without
// teaching applyInput about it would block every run that holds one.
func TestApplyInputPassesOverEveryNote(t *testing.T) {
	notes := 0
	for typ := history.EventType(1); typ < 255; typ++ {
		if !typ.Valid() || !typ.IsNote() {
			continue
		}
		notes++
		if typ.IsCommand() {
			t.Errorf("%v is both a note and a command", typ)
		}
		r := &Run{id: "r"}
		r.applyInput(history.Event{Seq: 3, Type: typ})
		if r.fatal != nil {
			t.Errorf("%v: %v", typ, r.fatal)
		}
	}
	if notes < 3 {
		t.Fatalf("found %d note types, want at least 3", notes)
	}
}

package history

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAttrValidate gives every kind of bad input a typed error naming the
// attribute or memo key.
func TestAttrValidate(t *testing.T) {
	for _, c := range []struct {
		u    AttrUpsert
		name string
	}{
		{AttrUpsert{Attrs: []Attr{NewKeyword("").Value("x")}}, ""},
		{AttrUpsert{Attrs: []Attr{{Name: "k", Kind: 0}}}, "k"},
		{AttrUpsert{Attrs: []Attr{{Name: "k", Kind: 7}}}, "k"},
		{AttrUpsert{Attrs: []Attr{NewKeyword(strings.Repeat("n", MaxAttrName+1)).Value("x")}}, strings.Repeat("n", MaxAttrName+1)},
		{AttrUpsert{Attrs: []Attr{NewKeyword("k").Value(strings.Repeat("v", MaxKeyword+1))}}, "k"},
		{AttrUpsert{Attrs: []Attr{NewKeyword("k").Value("\xff")}}, "k"},
		{AttrUpsert{Attrs: []Attr{{Name: "b", Kind: AttrBool, Int: 2}}}, "b"},
		{AttrUpsert{Attrs: []Attr{{Name: "i", Kind: AttrInt, Text: "x"}}}, "i"},
		{AttrUpsert{Attrs: []Attr{NewInt("i").Value(1), NewInt("i").Value(2)}}, "i"},
		{AttrUpsert{Attrs: []Attr{NewTime("t").Value(time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC))}}, "t"},
		{AttrUpsert{Memo: []MemoEntry{{Key: "", Value: []byte("1")}}}, ""},
		{AttrUpsert{Memo: []MemoEntry{{Key: "m", Value: make([]byte, MaxMemoValue+1)}}}, "m"},
	} {
		_, err := EncodeAttrUpsert(c.u)
		var ae *AttrError
		require.ErrorAs(t, err, &ae, "%+v", c.u)
		require.True(t, errors.Is(err, ErrInvalidAttr))
		require.Equal(t, c.name, ae.Name)
	}

	tm := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	u := AttrUpsert{Attrs: []Attr{NewKeyword("c").Value("acme"), NewInt("n").Value(-3), NewTime("t").Value(tm), NewBool("b").Value(true)},
		Memo: []MemoEntry{{Key: "m", Value: []byte(`"x"`)}}}
	b, err := EncodeAttrUpsert(u)
	require.NoError(t, err)
	back, err := DecodeAttrUpsert(b)
	require.NoError(t, err)
	require.Equal(t, u, back)
	require.Equal(t, []any{"acme", int64(-3), tm, true}, []any{back.Attrs[0].Value(), back.Attrs[1].Value(), back.Attrs[2].Value(), back.Attrs[3].Value()})

	require.ErrorIs(t, NewInt("n").Between(2, 1).Validate(), ErrInvalidAttr)
	require.NoError(t, NewTime("t").Between(time.Time{}, tm).Validate())
}

// TestValidateAttrsExport accepts a SearchAttributesUpserted whose payload
// decodes, refuses one that does not, and round-trips it by name.
func TestValidateAttrsExport(t *testing.T) {
	good, err := EncodeAttrUpsert(AttrUpsert{Attrs: []Attr{NewKeyword("c").Value("acme")}})
	require.NoError(t, err)
	with := func(payload []byte) *Export {
		return &Export{Run: RunInfo{ID: "r", Workflow: "w", Status: StatusRunning, FirstSeq: 1}, Events: []Event{
			{Seq: 1, Type: EventRunStarted, Name: "w", Time: t0},
			{Seq: 2, Type: EventSearchAttributesUpserted, Name: "c", Payload: payload, Time: t0},
		}}
	}
	require.NoError(t, with(good).Validate())
	require.ErrorIs(t, with([]byte(`{"attrs":[{"n":"","k":1}]}`)).Validate(), ErrCorrupt)
	require.ErrorIs(t, with([]byte(`not json`)).Validate(), ErrCorrupt)

	x := with(good)
	b, err := x.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(b), `"SearchAttributesUpserted"`)
	back, err := DecodeExport(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, x.Events, back.Events)
	require.True(t, EventSearchAttributesUpserted.IsCommand())
}

package historytest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
)

// RunAttrs runs the conformance cases of [history.AttrStore] against the
// stores open returns, which must implement it:
//
//   - A SearchAttributesUpserted event sets its attributes and memo in the
//     same commit; a later one replaces values of the same name; a batch
//     that fails sets nothing.
//   - RunAttrs returns the attributes ordered by name, and the memo.
//   - ListRuns and CountRuns filter by keyword equality, by int, time and
//     bool ranges (several filters all apply), by a set of statuses, and by
//     created and closed time ranges; ListRuns stays in ID order and pages
//     by AfterID.
//   - A new generation of a run (continue-as-new) starts with no
//     attributes and no memo.
func RunAttrs(t *testing.T, open func(t *testing.T) history.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s history.AttrStore, hs history.Store)
	}{
		{"UpsertAndReadBack", testAttrsReadBack},
		{"Filters", testAttrsFilters},
		{"ContinueAsNewKeeps", testAttrsNewGeneration},
		{"FailedBatchSetsNothing", testAttrsFailedBatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			as, ok := s.(history.AttrStore)
			require.True(t, ok, "%T does not implement history.AttrStore", s)
			tc.fn(t, as, s)
		})
	}
}

var (
	kCustomer = history.NewKeyword("customer")
	kAmount   = history.NewInt("amount")
	kDue      = history.NewTime("due")
	kVIP      = history.NewBool("vip")
)

func upsertEvent(t *testing.T, seq int64, tm time.Time, u history.AttrUpsert) history.Event {
	t.Helper()
	b, err := history.EncodeAttrUpsert(u)
	require.NoError(t, err)
	return history.Event{Seq: seq, Type: history.EventSearchAttributesUpserted, Name: "attrs", Payload: b, Time: tm}
}

func testAttrsReadBack(t *testing.T, s history.AttrStore, hs history.Store) {
	ctx := t.Context()
	b := createBatch("r1", "wf", at(0))
	b.Events = append(b.Events, upsertEvent(t, 2, at(0), history.AttrUpsert{
		Attrs: []history.Attr{kVIP.Value(true), kCustomer.Value("acme"), kAmount.Value(5), kDue.Value(t0)},
		Memo:  []history.MemoEntry{{Key: "note", Value: []byte(`"hi"`)}},
	}))
	commit(t, hs, b)
	commit(t, hs, appendBatch("r1", at(time.Second), upsertEvent(t, 3, at(time.Second), history.AttrUpsert{
		Attrs: []history.Attr{kAmount.Value(-7)},
		Memo:  []history.MemoEntry{{Key: "note", Value: []byte(`"bye"`)}},
	})))
	got, err := s.RunAttrs(ctx, "r1")
	require.NoError(t, err)
	require.Equal(t, []history.Attr{kAmount.Value(-7), kCustomer.Value("acme"), kDue.Value(t0), kVIP.Value(true)}, got.Attrs)
	require.Equal(t, map[string][]byte{"note": []byte(`"bye"`)}, got.Memo)
	require.Equal(t, t0.UnixNano(), got.Attrs[2].Value().(time.Time).UnixNano())

	none, err := s.RunAttrs(ctx, "nobody")
	require.NoError(t, err)
	require.Empty(t, none.Attrs)
	require.Empty(t, none.Memo)
}

func testAttrsFilters(t *testing.T, s history.AttrStore, hs history.Store) {
	ctx := t.Context()
	// r0..r9: customer c0, c1, c2 by turn, amount i, due t0+i hours, vip
	// when i is even; r5..r9 completed at t0+1h+i seconds.
	for i := range 10 {
		id := string(rune('a'+i)) + "-run"
		b := createBatch(id, "wf", at(time.Duration(i)*time.Minute))
		b.Events = append(b.Events, upsertEvent(t, 2, at(0), history.AttrUpsert{Attrs: []history.Attr{
			kCustomer.Value([]string{"c0", "c1", "c2"}[i%3]), kAmount.Value(int64(i)),
			kDue.Value(t0.Add(time.Duration(i) * time.Hour)), kVIP.Value(i%2 == 0),
		}}))
		commit(t, hs, b)
		if i >= 5 {
			end := at(time.Hour + time.Duration(i)*time.Second)
			eb := appendBatch(id, end, history.Event{Seq: 3, Type: history.EventRunCompleted, Time: end})
			eb.Status = &history.StatusUpdate{Status: history.StatusCompleted}
			commit(t, hs, eb)
		}
	}
	ids := func(f history.ListFilter) []string {
		t.Helper()
		runs, err := hs.ListRuns(ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, r := range runs {
			out = append(out, r.ID[:1])
		}
		f.AfterID, f.Limit = "", 0
		n, err := s.CountRuns(ctx, f)
		require.NoError(t, err)
		all, err := hs.ListRuns(ctx, f)
		require.NoError(t, err)
		require.Equal(t, int64(len(all)), n, "CountRuns agrees with ListRuns")
		return out
	}
	af := func(fs ...history.AttrFilter) history.ListFilter { return history.ListFilter{Attrs: fs} }
	require.Equal(t, []string{"a", "d", "g", "j"}, ids(af(kCustomer.Is("c0"))))
	require.Equal(t, []string{"a", "g"}, ids(af(kCustomer.Is("c0"), kVIP.Is(true))))
	require.Equal(t, []string{"c", "d", "e"}, ids(af(kAmount.Between(2, 4))))
	require.Equal(t, []string{"h", "i", "j"}, ids(af(kAmount.AtLeast(7))))
	require.Equal(t, []string{"a"}, ids(af(kAmount.AtMost(0))))
	require.Equal(t, []string{"b", "c"}, ids(af(kDue.Between(t0.Add(time.Hour), t0.Add(3*time.Hour)))))
	require.Equal(t, []string{"b", "d", "f", "h", "j"}, ids(af(kVIP.Is(false))))
	require.Empty(t, ids(af(kCustomer.Is("c9"))))
	require.Empty(t, ids(af(history.NewKeyword("amount").Is("5"))), "kind is part of the match")

	// Paging by AfterID with a filter.
	f := af(kCustomer.Is("c0"))
	f.Limit = 2
	require.Equal(t, []string{"a", "d"}, ids(f))
	f.AfterID = "d-run"
	require.Equal(t, []string{"g", "j"}, ids(f))

	require.Equal(t, []string{"f", "g", "h", "i", "j"}, ids(history.ListFilter{Statuses: []history.RunStatus{history.StatusCompleted, history.StatusFailed}}))
	require.Equal(t, []string{"d", "e", "f"}, ids(history.ListFilter{CreatedFrom: at(3 * time.Minute), CreatedTo: at(6 * time.Minute)}))
	require.Equal(t, []string{"g", "h"}, ids(history.ListFilter{ClosedFrom: at(time.Hour + 6*time.Second), ClosedTo: at(time.Hour + 8*time.Second)}))
	require.Equal(t, []string{"g", "j"}, ids(history.ListFilter{Attrs: []history.AttrFilter{kCustomer.Is("c0")}, ClosedFrom: at(0)}))

	_, err := hs.ListRuns(ctx, af(kAmount.Between(3, 1)))
	require.ErrorIs(t, err, history.ErrInvalidAttr)
	_, err = s.CountRuns(ctx, af(history.AttrFilter{Name: "x", Kind: 99}))
	require.ErrorIs(t, err, history.ErrInvalidAttr)
}

func testAttrsNewGeneration(t *testing.T, s history.AttrStore, hs history.Store) {
	b := createBatch("r1", "wf", at(0))
	b.Events = append(b.Events, upsertEvent(t, 2, at(0), history.AttrUpsert{
		Attrs: []history.Attr{kCustomer.Value("acme")}, Memo: []history.MemoEntry{{Key: "m", Value: []byte("1")}},
	}))
	commit(t, hs, b)
	cb := appendBatch("r1", at(time.Second),
		history.Event{Seq: 3, Type: history.EventRunContinuedAsNew, Payload: []byte(`"next"`), Time: at(time.Second)},
		history.Event{Seq: 4, Type: history.EventRunStarted, Name: "wf", Payload: []byte(`"next"`), Time: at(time.Second)},
		upsertEvent(t, 5, at(time.Second), history.AttrUpsert{Attrs: []history.Attr{kAmount.Value(2)}}),
	)
	cb.Status = &history.StatusUpdate{Status: history.StatusRunning, FirstSeq: 4}
	commit(t, hs, cb)
	// Continue-as-new is the same run going on: what it set stays, and the
	// new generation adds to it (only a new run under a reused ID starts
	// without).
	got, err := s.RunAttrs(t.Context(), "r1")
	require.NoError(t, err)
	require.Equal(t, []history.Attr{kAmount.Value(2), kCustomer.Value("acme")}, got.Attrs)
	require.Len(t, got.Memo, 1)
	runs, err := hs.ListRuns(t.Context(), history.ListFilter{Attrs: []history.AttrFilter{kCustomer.Is("acme")}})
	require.NoError(t, err)
	require.Len(t, runs, 1)
}

func testAttrsFailedBatch(t *testing.T, s history.AttrStore, hs history.Store) {
	commit(t, hs, createBatch("r1", "wf", at(0)))
	// Seq 3 does not follow the journal's last (1): the batch conflicts.
	errs := commitErrs(t, hs, appendBatch("r1", at(time.Second),
		upsertEvent(t, 3, at(time.Second), history.AttrUpsert{Attrs: []history.Attr{kCustomer.Value("acme")}})))
	require.ErrorIs(t, errs[0], history.ErrConflict)
	got, err := s.RunAttrs(t.Context(), "r1")
	require.NoError(t, err)
	require.Empty(t, got.Attrs)
}

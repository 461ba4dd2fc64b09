package kpi

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/sqlite"
)

// basicStore hides the AttrStore methods of a store.
type basicStore struct{ history.Store }

// Both ways of selecting runs (counting by creation time, paging through
// the index) keep exactly the most recently created runs, ties broken by
// ID, among runs with many equal creation times, for every limit and with
// a time range and a workflow.
func TestSelectRunsMostRecent(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chorus.db"), nil)
	require.NoError(t, err)
	defer st.Close()
	base := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	rnd := rand.New(rand.NewPCG(1, 2))
	var all []history.RunInfo
	var batches []*history.Batch
	for i := range 1500 {
		id := fmt.Sprintf("r%04d", rnd.IntN(100000))
		if slices.ContainsFunc(all, func(r history.RunInfo) bool { return r.ID == id }) {
			continue
		}
		// Few distinct times, so ties are common; a few far in the
		// future or the past.
		created := base.Add(time.Duration(rnd.IntN(200)) * time.Second)
		switch i % 97 {
		case 0:
			created = created.Add(50 * 365 * 24 * time.Hour)
		case 1:
			created = created.Add(-60 * 365 * 24 * time.Hour)
		}
		wf := []string{"a", "b"}[rnd.IntN(2)]
		all = append(all, history.RunInfo{ID: id, Workflow: wf, CreatedAt: created})
		batches = append(batches, &history.Batch{RunID: id, Time: created,
			Create: &history.RunInfo{ID: id, Workflow: wf},
			Events: []history.Event{{Seq: 1, Type: history.EventRunStarted, Name: wf, Time: created}}})
	}
	errs, err := st.Commit(ctx, batches)
	require.NoError(t, err)
	for _, e := range errs {
		require.NoError(t, e)
	}
	want := func(f Filter) ([]string, bool) {
		var m []history.RunInfo
		for _, r := range all {
			if (f.Workflow == "" || r.Workflow == f.Workflow) && (f.From.IsZero() || !r.CreatedAt.Before(f.From)) &&
				(f.To.IsZero() || r.CreatedAt.Before(f.To)) {
				m = append(m, r)
			}
		}
		slices.SortFunc(m, func(a, b history.RunInfo) int {
			if older(a, b) {
				return 1
			}
			return -1
		})
		var ids []string
		for _, r := range m[:min(f.Limit, len(m))] {
			ids = append(ids, r.ID)
		}
		slices.Sort(ids)
		return ids, len(m) > f.Limit
	}
	for _, f := range []Filter{
		{}, {From: base.Add(50 * time.Second)}, {To: base.Add(100 * time.Second)},
		{From: base.Add(10 * time.Second), To: base.Add(150 * time.Second)}, {Workflow: "a"},
		{Workflow: "b", From: base.Add(20 * time.Second), To: base.Add(120 * time.Second)},
	} {
		for _, limit := range []int{1, 2, 7, 100, 333, 1000, 5000} {
			f.Limit = limit
			ids, truncated := want(f)
			for name, s := range map[string]history.Store{"counts": st, "pages": basicStore{st}} {
				sel, err := selectRuns(ctx, s, f)
				require.NoError(t, err)
				got := make([]string, 0, len(sel.runs))
				for _, r := range sel.runs {
					got = append(got, r.ID)
				}
				require.True(t, slices.IsSortedFunc(sel.runs, func(a, b history.RunInfo) int { return cmp.Compare(a.ID, b.ID) }))
				if ids == nil {
					ids = []string{}
				}
				require.Equal(t, ids, got, "%s, filter %+v", name, f)
				require.Equal(t, truncated, sel.truncated, "%s, filter %+v", name, f)
			}
		}
	}
}

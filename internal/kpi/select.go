package kpi

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/chorusdev/chorus/history"
)

// selection is the runs kept by selectRuns.
type selection struct {
	runs    []history.RunInfo
	damaged int64
	// truncated says that the limit left out runs that match.
	truncated bool
}

// selectRuns returns the f.Limit most recently created runs that match f,
// in ID order.
//
// A store that counts runs by creation time (an AttrStore) is asked, with
// CountRuns, for the creation time from which f.Limit runs follow, and then
// for those runs only: the cost grows with the limit, not with the index.
// The SQLite store serves counts and lists bounded on both sides of the
// creation time from its index on it, but one bounded by workflow from its
// index on workflows; so a filter by workflow, and any other store, pages
// through the index instead.
func selectRuns(ctx context.Context, st history.Store, f Filter) (selection, error) {
	var sel selection
	var err error
	if as, ok := st.(history.AttrStore); ok && f.Workflow == "" {
		sel, err = recentRuns(ctx, st, as, f)
	} else {
		sel, err = pageRuns(ctx, st, f)
	}
	if err != nil {
		return selection{}, fmt.Errorf("kpi: list runs: %w", err)
	}
	// Journals in ID order, the order the store keeps them in.
	slices.SortFunc(sel.runs, func(a, b history.RunInfo) int { return cmp.Compare(a.ID, b.ID) })
	return sel, nil
}

// The widest creation times a store holds (Unix nanoseconds).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// recentRuns serves selectRuns from the counts of an AttrStore.
func recentRuns(ctx context.Context, st history.Store, as history.AttrStore, f Filter) (selection, error) {
	from, to := f.From, f.To
	if from.IsZero() || from.Before(minTime) {
		from = minTime
	}
	if to.IsZero() || to.After(maxTime) {
		to = maxTime
	}
	limit := int64(f.Limit)
	count := func(c time.Time) (int64, error) {
		return as.CountRuns(ctx, history.ListFilter{CreatedFrom: c, CreatedTo: to})
	}
	total, err := count(from)
	if err != nil {
		return selection{}, err
	}
	cutoff := from
	if total > limit {
		// The latest c with at least limit runs created in [c, to): first
		// back from now in doubling steps, then by halves.
		anchor := time.Now()
		if anchor.Before(from) {
			anchor = from
		}
		if anchor.After(to) {
			anchor = to
		}
		lo, hi := from, to // count(lo) >= limit > count(hi)
		for step := time.Second; step < math.MaxInt64/2; step *= 2 {
			c := anchor.Add(-step)
			if !c.After(from) {
				break
			}
			n, err := count(c)
			if err != nil {
				return selection{}, err
			}
			if n >= limit {
				lo = c
				break
			}
			hi = c
		}
		l, h := lo.UnixNano(), hi.UnixNano()
		for h-l > 1 {
			mid := l + (h-l)/2
			n, err := count(time.Unix(0, mid))
			if err != nil {
				return selection{}, err
			}
			if n >= limit {
				l = mid
			} else {
				h = mid
			}
		}
		cutoff = time.Unix(0, l)
	}
	runs, err := st.ListRuns(ctx, history.ListFilter{CreatedFrom: cutoff, CreatedTo: to})
	if err != nil {
		return selection{}, err
	}
	sel := selection{truncated: total > limit}
	h := newRecent(f.Limit)
	for _, r := range runs {
		if r.Damaged != nil {
			sel.damaged++
			continue
		}
		h.add(r)
	}
	sel.runs = h.runs
	return sel, nil
}

// pageRuns serves selectRuns by reading every index row that matches, in
// pages.
func pageRuns(ctx context.Context, st history.Store, f Filter) (selection, error) {
	_, ranged := st.(history.AttrStore)
	lf := history.ListFilter{Workflow: f.Workflow, Limit: pageSize}
	if ranged {
		lf.CreatedFrom, lf.CreatedTo = f.From, f.To
	}
	var sel selection
	h := newRecent(f.Limit)
	for {
		page, err := st.ListRuns(ctx, lf)
		if err != nil {
			return selection{}, err
		}
		for _, r := range page {
			if r.Damaged != nil {
				sel.damaged++
				continue
			}
			if (f.Workflow != "" && r.Workflow != f.Workflow) ||
				(!f.From.IsZero() && r.CreatedAt.Before(f.From)) || (!f.To.IsZero() && !r.CreatedAt.Before(f.To)) {
				continue
			}
			h.add(r)
		}
		if len(page) < pageSize {
			break
		}
		lf.AfterID = page[len(page)-1].ID
	}
	sel.runs, sel.truncated = h.runs, h.cut
	return sel, nil
}

// pageSize is how many index rows one ListRuns call of pageRuns reads.
const pageSize = 1000

// recent keeps the limit most recently created runs it is given, in a
// min-heap: the oldest on top.
type recent struct {
	runs  []history.RunInfo
	limit int
	cut   bool // a run was left out
}

func newRecent(limit int) *recent { return &recent{limit: limit} }

// add keeps r if it is among the most recent, with only what the figures
// need (payloads can be large).
func (h *recent) add(r history.RunInfo) {
	r = history.RunInfo{ID: r.ID, Workflow: r.Workflow, Status: r.Status, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	switch {
	case len(h.runs) < h.limit:
		heap.Push(h, r)
	case older(r, h.runs[0]):
		h.cut = true
	default:
		h.cut = true
		h.runs[0] = r
		heap.Fix(h, 0)
	}
}

// older reports whether a was created before b (by ID on a tie).
func older(a, b history.RunInfo) bool {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

func (h *recent) Len() int           { return len(h.runs) }
func (h *recent) Less(i, j int) bool { return older(h.runs[i], h.runs[j]) }
func (h *recent) Swap(i, j int)      { h.runs[i], h.runs[j] = h.runs[j], h.runs[i] }
func (h *recent) Push(x any)         { h.runs = append(h.runs, x.(history.RunInfo)) }
func (h *recent) Pop() any {
	r := h.runs[len(h.runs)-1]
	h.runs = h.runs[:len(h.runs)-1]
	return r
}

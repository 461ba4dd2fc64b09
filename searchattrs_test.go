package chorus_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/replay"
	"github.com/chorusdev/chorus/workflow"
)

var (
	attrCustomer = chorus.NewKeyword("customer")
	attrAmount   = chorus.NewInt("amount")
	attrDue      = chorus.NewTime("due")
	attrVIP      = chorus.NewBool("vip")
)

type attrOrder struct {
	Customer string
	Amount   int64
	VIP      bool
}

var due0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func attrOrderWorkflow(amountAfter int64) *workflow.Definition[attrOrder, string] {
	return workflow.New("attr-order", func(ctx workflow.Context, o attrOrder) (string, error) {
		if err := workflow.UpsertSearchAttributes(ctx, attrCustomer.Value(o.Customer), attrAmount.Value(o.Amount),
			attrDue.Value(due0.Add(time.Duration(o.Amount)*time.Hour)), attrVIP.Value(o.VIP)); err != nil {
			return "", err
		}
		if err := workflow.UpsertMemo(ctx, "note", "first "+o.Customer); err != nil {
			return "", err
		}
		if err := workflow.UpsertSearchAttributes(ctx, attrAmount.Value(o.Amount+amountAfter)); err != nil {
			return "", err
		}
		return "ok", nil
	})
}

func TestSearchAttributesJournaledAndReplayed(t *testing.T) {
	ctx := testContext(t)
	wf := attrOrderWorkflow(1)
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, attrOrder{Customer: "acme", Amount: 41, VIP: true}, &chorus.StartOptions{ID: "o1"})
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.NoError(t, err)

	info, err := eng.Describe(ctx, "o1")
	require.NoError(t, err)
	require.Equal(t, []chorus.SearchAttribute{
		attrAmount.Value(42), attrCustomer.Value("acme"), attrDue.Value(due0.Add(41 * time.Hour)), attrVIP.Value(true),
	}, info.SearchAttributes)
	var note string
	require.NoError(t, eng.DecodeMemo(info.Memo["note"], &note))
	require.Equal(t, "first acme", note)

	x, err := chorus.History(ctx, eng, "o1")
	require.NoError(t, err)
	n := 0
	for _, ev := range x.Events {
		if ev.Type.String() == "SearchAttributesUpserted" {
			n++
		}
	}
	require.Equal(t, 3, n, "each upsert is a journaled command")
	require.NoError(t, replay.Run(ctx, x, wf))
	// Code that sets another value diverges on replay.
	err = replay.Run(ctx, x, attrOrderWorkflow(2))
	require.Error(t, err)
	require.Contains(t, err.Error(), "SearchAttributesUpserted")
}

func TestSearchAttributesList(t *testing.T) {
	ctx := testContext(t)
	wf := attrOrderWorkflow(0)
	eng, _ := setup(t, nil, wf)
	for i := range 12 {
		c := []string{"acme", "globex", "initech"}[i%3]
		run, err := chorus.Start(ctx, eng, wf, attrOrder{Customer: c, Amount: int64(i), VIP: i%2 == 0}, &chorus.StartOptions{ID: fmt.Sprintf("o%02d", i)})
		require.NoError(t, err)
		_, err = run.Result(ctx)
		require.NoError(t, err)
	}
	ids := func(opts *chorus.ListOptions) []string {
		t.Helper()
		runs, err := eng.List(ctx, opts)
		require.NoError(t, err)
		var out []string
		for _, r := range runs {
			out = append(out, r.ID)
		}
		n, err := eng.Count(ctx, opts)
		require.NoError(t, err)
		require.Equal(t, int64(len(out)), n, "Count agrees with List")
		return out
	}
	require.Equal(t, []string{"o00", "o03", "o06", "o09"}, ids(&chorus.ListOptions{Attrs: []chorus.AttrFilter{attrCustomer.Is("acme")}}))
	require.Equal(t, []string{"o00", "o06"}, ids(&chorus.ListOptions{Attrs: []chorus.AttrFilter{attrCustomer.Is("acme"), attrVIP.Is(true)}}))
	require.Equal(t, []string{"o04", "o05", "o06"}, ids(&chorus.ListOptions{Attrs: []chorus.AttrFilter{attrAmount.Between(4, 6)}}))
	require.Equal(t, []string{"o10", "o11"}, ids(&chorus.ListOptions{Attrs: []chorus.AttrFilter{attrDue.Between(due0.Add(10*time.Hour), time.Time{})}}))
	require.Empty(t, ids(&chorus.ListOptions{Attrs: []chorus.AttrFilter{attrCustomer.Is("nobody")}}))
	require.Empty(t, ids(&chorus.ListOptions{Attrs: []chorus.AttrFilter{attrCustomer.Is("acme")}, Statuses: []chorus.RunStatus{chorus.StatusFailed}}))
	require.Len(t, ids(&chorus.ListOptions{Statuses: []chorus.RunStatus{chorus.StatusCompleted}, ClosedFrom: time.Unix(1, 0)}), 12)
	require.Empty(t, ids(&chorus.ListOptions{CreatedTo: time.Unix(1, 0)}))
	require.Len(t, ids(&chorus.ListOptions{CreatedFrom: time.Unix(1, 0), Status: chorus.StatusCompleted}), 12)
}

// A listing by cursor sees every run that existed when it began exactly
// once, while new runs are started between pages.
func TestSearchAttributesPagingByCursor(t *testing.T) {
	ctx := testContext(t)
	wf := attrOrderWorkflow(0)
	eng, _ := setup(t, nil, wf)
	start := func(id string) {
		run, err := chorus.Start(ctx, eng, wf, attrOrder{Customer: "acme"}, &chorus.StartOptions{ID: id})
		require.NoError(t, err)
		_, err = run.Result(ctx)
		require.NoError(t, err)
	}
	want := map[string]bool{}
	for i := range 20 {
		id := fmt.Sprintf("r%02d", i*2)
		start(id)
		want[id] = true
	}
	seen := map[string]int{}
	opts := &chorus.ListOptions{Attrs: []chorus.AttrFilter{attrCustomer.Is("acme")}, Limit: 3}
	for page := 0; ; page++ {
		require.Less(t, page, 50, "paging does not end")
		runs, next, err := eng.ListPage(ctx, opts)
		require.NoError(t, err)
		for _, r := range runs {
			seen[r.ID]++
		}
		// New runs, before and after the cursor.
		start(fmt.Sprintf("r%02d", page*2+1))
		start(fmt.Sprintf("z%02d", page))
		if next == "" {
			break
		}
		opts.Cursor = next
	}
	for id := range want {
		require.Equal(t, 1, seen[id], "run %s listed once", id)
	}
	for id, n := range seen {
		require.Equal(t, 1, n, "run %s listed once", id)
	}

	_, err := eng.List(ctx, &chorus.ListOptions{Cursor: "not a cursor"})
	require.ErrorIs(t, err, chorus.ErrBadCursor)
}

func TestSearchAttributesBadInput(t *testing.T) {
	ctx := testContext(t)
	many := make([]chorus.SearchAttribute, 65)
	for i := range many {
		many[i] = chorus.NewInt(fmt.Sprintf("n%d", i)).Value(1)
	}
	cases := map[string]struct {
		attrs []chorus.SearchAttribute
		name  string
	}{
		"empty name":     {[]chorus.SearchAttribute{chorus.NewKeyword("").Value("x")}, ""},
		"unknown kind":   {[]chorus.SearchAttribute{{Name: "odd", Kind: 9}}, "odd"},
		"value too long": {[]chorus.SearchAttribute{attrCustomer.Value(strings.Repeat("x", 513))}, "customer"},
		"twice":          {[]chorus.SearchAttribute{attrCustomer.Value("a"), attrCustomer.Value("b")}, "customer"},
		"too many":       {many, "n64"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			wf := workflow.New("bad-attrs", func(ctx workflow.Context, _ int) (string, error) {
				err := workflow.UpsertSearchAttributes(ctx, c.attrs...)
				var ae *chorus.AttrError
				if !errors.As(err, &ae) || !errors.Is(err, chorus.ErrInvalidAttr) {
					return "", fmt.Errorf("got %v, want an AttrError", err)
				}
				return ae.Name, nil
			})
			eng, _ := setup(t, nil, wf)
			run, err := chorus.Start(ctx, eng, wf, 0, nil)
			require.NoError(t, err)
			got, err := run.Result(ctx)
			require.NoError(t, err)
			require.Equal(t, c.name, got)
			x, err := chorus.History(ctx, eng, run.ID())
			require.NoError(t, err)
			for _, ev := range x.Events {
				require.NotEqual(t, "SearchAttributesUpserted", ev.Type.String(), "nothing journaled")
			}
		})
	}
	wf := workflow.New("bad-memo", func(ctx workflow.Context, _ int) (string, error) {
		return "", workflow.UpsertMemo(ctx, "big", strings.Repeat("x", 40<<10))
	})
	eng, _ := setup(t, nil, wf)
	run, err := chorus.Start(ctx, eng, wf, 0, nil)
	require.NoError(t, err)
	_, err = run.Result(ctx)
	require.ErrorContains(t, err, `"big"`)

	_, err = eng.List(ctx, &chorus.ListOptions{Attrs: []chorus.AttrFilter{attrAmount.Between(5, 1)}})
	var ae *chorus.AttrError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "amount", ae.Name)
}

package cli_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus"
	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/workflow"
)

// newAttrFixture fills a database with invoice runs, an hour apart, that
// upsert search attributes and a memo; the invoice over 800 fails.
func newAttrFixture(t *testing.T) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chorus.db")
	return newAttrFixtureOn(t, path, func(ctx context.Context, opts *chorus.Options) (*chorus.Engine, error) {
		return chorus.Open(ctx, path, opts)
	})
}

// newAttrFixtureOn fills the database at path (a file, or a PostgreSQL
// URL) as newAttrFixture does, through an engine openEngine opens on it.
func newAttrFixtureOn(t *testing.T, path string, openEngine func(context.Context, *chorus.Options) (*chorus.Engine, error)) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	mock := clock.NewMock()
	mock.Set(t0)
	customer, amount := chorus.NewKeyword("customer"), chorus.NewInt("amount")
	vip, due := chorus.NewBool("vip"), chorus.NewTime("due")
	type invoiceIn struct {
		Customer string
		Amount   int64
		VIP      bool
	}
	invoice := workflow.New("invoice", func(ctx workflow.Context, in invoiceIn) (int64, error) {
		if err := workflow.UpsertSearchAttributes(ctx, customer.Value(in.Customer), amount.Value(in.Amount),
			vip.Value(in.VIP), due.Value(workflow.Now(ctx).Add(30*24*time.Hour))); err != nil {
			return 0, err
		}
		if err := workflow.UpsertMemo(ctx, "note", map[string]string{"by": "billing"}); err != nil {
			return 0, err
		}
		if in.Amount > 800 {
			return 0, errors.New("over the credit limit")
		}
		return in.Amount, nil
	})
	eng, err := openEngine(ctx, &chorus.Options{Clock: mock, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, eng.Close(cctx))
	})
	require.NoError(t, eng.Register(invoice))
	for i, in := range []invoiceIn{
		{"acme", 50, false}, {"acme", 100, true}, {"globex", 300, false}, {"acme", 500, false}, {"globex", 900, true},
	} {
		r, err := chorus.Start(ctx, eng, invoice, in, &chorus.StartOptions{ID: "inv-" + string(rune('1'+i))})
		require.NoError(t, err)
		_, err = r.Result(ctx)
		if in.Amount > 800 {
			require.Error(t, err)
		} else {
			require.NoError(t, err)
		}
		mock.Add(time.Hour)
	}
	return &fixture{path: path, eng: eng, masks: map[string]string{}}
}

// listFilterCases are the runs list and runs show commands over the attribute
// fixture, with their golden files, on either store.
var listFilterCases = []struct {
	name string
	code int
	args []string
}{
	{"runs-list-attr-keyword", 0, []string{"runs", "list", "@", "--attr", "customer=acme"}},
	{"runs-list-attr-int-range", 0, []string{"runs", "list", "@", "--attr", "amount:int>=100", "--attr", "amount:int<=500"}},
	{"runs-list-attr-bool", 0, []string{"runs", "list", "@", "--attr", "vip:bool=true"}},
	{"runs-list-attr-time", 0, []string{"runs", "list", "@", "--attr", "due:time>=2026-04-01T11:00:00Z"}},
	{"runs-list-attr-and-status", 0, []string{"runs", "list", "@", "--attr", "customer:keyword=globex", "--status", "completed"}},
	{"runs-list-statuses", 0, []string{"runs", "list", "@", "--status", "failed,completed", "--workflow", "invoice"}},
	{"runs-list-created", 0, []string{"runs", "list", "@", "--created-after", "2026-03-02T10:00:00Z", "--created-before", "2026-03-02T12:00:00Z"}},
	{"runs-list-closed", 0, []string{"runs", "list", "@", "--closed-after", "2026-03-02T12:00:00Z"}},
	{"runs-list-page-1", 0, []string{"runs", "list", "@", "--limit", "2"}},
	{"runs-list-page-2", 0, []string{"runs", "list", "@", "--limit", "2", "--after", "inv-2"}},
	{"runs-list-page-last", 0, []string{"runs", "list", "@", "--limit", "1", "--after", "inv-4"}},
	{"runs-list-page-json", 0, []string{"runs", "list", "@", "--limit", "2", "--after", "inv-2", "--json"}},
	{"runs-show-attrs", 0, []string{"runs", "show", "@", "inv-2"}},
	{"runs-show-attrs-json", 0, []string{"runs", "show", "@", "inv-2", "--json"}},
}

// runs list filters on search attributes, several statuses, creation and
// end times, and pages with --after; runs show prints the attributes and
// memo.
func TestListFilters(t *testing.T) {
	f := newAttrFixture(t)
	for _, c := range append(listFilterCases, []struct {
		name string
		code int
		args []string
	}{
		// Bad input: a usage error naming the flag and its value.
		{"err-attr-no-op", 2, []string{"runs", "list", "@", "--attr", "customer"}},
		{"err-attr-kind", 2, []string{"runs", "list", "@", "--attr", "amount:float>=1"}},
		{"err-attr-int", 2, []string{"runs", "list", "@", "--attr", "amount:int>=lots"}},
		{"err-attr-bool", 2, []string{"runs", "list", "@", "--attr", "vip:bool=maybe"}},
		{"err-attr-time", 2, []string{"runs", "list", "@", "--attr", "due:time>=tomorrow"}},
		{"err-attr-keyword-op", 2, []string{"runs", "list", "@", "--attr", "customer>=acme"}},
		{"err-attr-name", 2, []string{"runs", "list", "@", "--attr", "=acme"}},
		{"err-attr-int-overflow", 2, []string{"runs", "list", "@", "--attr", "amount:int<=-9223372036854775809"}},
		{"err-attr-too-long", 2, []string{"runs", "list", "@", "--attr", "customer=" + strings.Repeat("x", history.MaxKeyword+1)}},
		{"err-statuses", 2, []string{"runs", "list", "@", "--status", "failed,sleeping"}},
		{"err-created-after", 2, []string{"runs", "list", "@", "--created-after", "yesterday"}},
		{"err-closed-before", 2, []string{"runs", "list", "@", "--closed-before", "2026-03-02"}},
	}...) {
		t.Run(c.name, func(t *testing.T) {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "@", f.path)
			}
			code, out := f.run(args...)
			require.Equal(t, c.code, code, out)
			golden(t, c.name, out)
		})
	}
}

// Following "next: --after ID" from page to page lists every run once.
func TestListPaging(t *testing.T) {
	f := newAttrFixture(t)
	var ids []string
	after := ""
	for range 10 {
		args := []string{"runs", "list", f.path, "--limit", "2"}
		if after != "" {
			args = append(args, "--after", after)
		}
		code, out := f.run(args...)
		require.Equal(t, 0, code, out)
		after = ""
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			if n, ok := strings.CutPrefix(line, "next: --after "); ok {
				after = n
				continue
			}
			ids = append(ids, strings.Fields(line)[0])
		}
		if after == "" {
			break
		}
	}
	require.Equal(t, []string{"inv-1", "inv-2", "inv-3", "inv-4", "inv-5"}, ids)
}

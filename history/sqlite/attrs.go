package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/chorusdev/chorus/history"
)

var _ history.AttrStore = (*Store)(nil)

// applyAttrs keeps run_attrs and run_memo in step with the batch's events:
// a new run under a reused ID clears them (continue-as-new keeps them, as
// the same run goes on), and each SearchAttributesUpserted sets its values.
func (t *txStmts) applyAttrs(b *history.Batch) error {
	for i := range b.Events {
		e := &b.Events[i]
		switch {
		case e.Type == history.EventRunStarted && b.Reuse != nil:
			for _, q := range []string{`DELETE FROM run_attrs WHERE run_id = ?`, `DELETE FROM run_memo WHERE run_id = ?`} {
				if _, err := t.tx.ExecContext(t.ctx, q, b.RunID); err != nil {
					return err
				}
			}
		case e.Type == history.EventSearchAttributesUpserted:
			u, err := history.DecodeAttrUpsert(e.Payload)
			if err != nil {
				return fmt.Errorf("event %d: %w", e.Seq, err)
			}
			for _, a := range u.Attrs {
				var tv, iv any
				if a.Kind == history.AttrKeyword {
					tv = a.Text
				} else {
					iv = a.Int
				}
				if _, err := t.tx.ExecContext(t.ctx, `INSERT OR REPLACE INTO run_attrs (run_id, name, kind, text_val, int_val) VALUES (?, ?, ?, ?, ?)`,
					b.RunID, a.Name, int64(a.Kind), tv, iv); err != nil {
					return err
				}
			}
			for _, m := range u.Memo {
				if _, err := t.tx.ExecContext(t.ctx, `INSERT OR REPLACE INTO run_memo (run_id, key, value) VALUES (?, ?, ?)`,
					b.RunID, m.Key, blob(m.Value)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// RunAttrs returns the run's current search attributes, ordered by name,
// and memo.
func (s *Store) RunAttrs(ctx context.Context, runID string) (history.RunAttrs, error) {
	if err := s.enter("read search attributes", runID); err != nil {
		return history.RunAttrs{}, err
	}
	defer s.mu.RUnlock()
	what := fmt.Sprintf("read search attributes of %q", runID)
	var out history.RunAttrs
	rows, err := s.r.QueryContext(ctx, `SELECT name, kind, text_val, int_val FROM run_attrs WHERE run_id = ? ORDER BY name`, runID)
	if err != nil {
		return out, mapErr(ctx, err, nil, what)
	}
	for rows.Next() {
		var a history.Attr
		var kind int64
		var tv *string
		var iv *int64
		if err := rows.Scan(&a.Name, &kind, &tv, &iv); err != nil {
			rows.Close()
			return out, mapErr(ctx, err, nil, what)
		}
		a.Kind = history.AttrKind(kind)
		if tv != nil {
			a.Text = *tv
		}
		if iv != nil {
			a.Int = *iv
		}
		out.Attrs = append(out.Attrs, a)
	}
	if err := rows.Err(); err != nil {
		return out, mapErr(ctx, err, nil, what)
	}
	rows, err = s.r.QueryContext(ctx, `SELECT key, value FROM run_memo WHERE run_id = ?`, runID)
	if err != nil {
		return out, mapErr(ctx, err, nil, what)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return out, mapErr(ctx, err, nil, what)
		}
		if out.Memo == nil {
			out.Memo = map[string][]byte{}
		}
		out.Memo[k] = v
	}
	if err := rows.Err(); err != nil {
		return out, mapErr(ctx, err, nil, what)
	}
	return out, nil
}

// CountRuns returns how many runs match f, ignoring f.AfterID and f.Limit.
func (s *Store) CountRuns(ctx context.Context, f history.ListFilter) (int64, error) {
	f.AfterID, f.Limit = "", 0
	q, args, err := listQuery(f, "count(*)")
	if err != nil {
		return 0, fmt.Errorf("%scount runs: %w", errPrefix, err)
	}
	if err := s.enter("count runs", ""); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	var n int64
	if err := s.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, mapErr(ctx, err, nil, "count runs")
	}
	return n, nil
}

// listExtended serves a ListFilter that uses attribute, status set or time
// range filters.
func (s *Store) listExtended(ctx context.Context, f history.ListFilter) ([]history.RunInfo, error) {
	q, args, err := listQuery(f, runColumns)
	if err != nil {
		return nil, fmt.Errorf("%slist runs: %w", errPrefix, err)
	}
	if err := s.enter("list runs", ""); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(ctx, err, nil, "list runs")
	}
	return scanRuns(ctx, rows, "list runs", true)
}

// listQuery builds the query for f. The first attribute filter drives the
// query from its index, in run ID order; the others are checked per run.
func listQuery(f history.ListFilter, cols string) (string, []any, error) {
	var where []string
	var args []any
	from := `runs`
	idCol := `id`
	for i, a := range f.Attrs {
		if err := a.Validate(); err != nil {
			return "", nil, err
		}
		p := ""
		if i == 0 {
			p = "a0."
		}
		cond := p + `name = ? AND ` + p + `kind = ? AND ` + p + `text_val = ?`
		cargs := []any{a.Name, int64(a.Kind), a.Text}
		if a.Kind != history.AttrKeyword {
			cond = p + `name = ? AND ` + p + `kind = ? AND ` + p + `int_val BETWEEN ? AND ?`
			cargs = []any{a.Name, int64(a.Kind), a.Min, a.Max}
		}
		if i == 0 {
			from, idCol = `run_attrs AS a0 JOIN runs ON runs.id = a0.run_id`, `a0.run_id`
			where = append(where, cond)
		} else {
			where = append(where, `id IN (SELECT run_id FROM run_attrs WHERE `+cond+`)`)
		}
		args = append(args, cargs...)
	}
	if f.AfterID != "" {
		where = append(where, idCol+` > ?`)
		args = append(args, f.AfterID)
	}
	if f.Status != 0 {
		if !f.Status.Valid() {
			return "", nil, fmt.Errorf("unknown status %v", f.Status)
		}
		where = append(where, `status = ?`)
		args = append(args, int64(f.Status))
	}
	if len(f.Statuses) > 0 {
		ph := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			if !st.Valid() {
				return "", nil, fmt.Errorf("unknown status %v", st)
			}
			ph[i] = "?"
			args = append(args, int64(st))
		}
		where = append(where, `status IN (`+strings.Join(ph, ", ")+`)`)
	}
	if f.Workflow != "" {
		where = append(where, `workflow = ?`)
		args = append(args, f.Workflow)
	}
	for _, r := range []struct {
		col, op string
		t       any
	}{
		{"created_at", ">=", encTime(f.CreatedFrom)}, {"created_at", "<", encTime(f.CreatedTo)},
		{"updated_at", ">=", encTime(f.ClosedFrom)}, {"updated_at", "<", encTime(f.ClosedTo)},
	} {
		if r.t != nil {
			where = append(where, r.col+` `+r.op+` ?`)
			args = append(args, r.t)
		}
	}
	if !f.ClosedFrom.IsZero() || !f.ClosedTo.IsZero() {
		where = append(where, `status IN (2, 3, 4, 6, 7)`)
	}
	if f.Limit < 0 {
		return "", nil, fmt.Errorf("negative limit %d", f.Limit)
	}
	q := `SELECT ` + cols + ` FROM ` + from
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if cols != "count(*)" {
		limit := int64(-1)
		if f.Limit > 0 {
			limit = int64(f.Limit)
		}
		q += ` ORDER BY ` + idCol + ` LIMIT ?`
		args = append(args, limit)
	}
	return q, args, nil
}

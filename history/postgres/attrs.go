package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/chorusdev/chorus/history"
)

var _ history.AttrStore = (*Store)(nil)

// params collects the arguments of a query and names their placeholders.
type params []any

// add appends v and returns its placeholder, $n.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
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
	rows, err := s.pool.Query(ctx, `SELECT name, kind, text_val, int_val FROM chorus_run_attrs WHERE run_id = $1 ORDER BY name COLLATE "C"`, runID)
	if err != nil {
		return out, mapErr(ctx, err, nil, what)
	}
	for rows.Next() {
		var a history.Attr
		var kind int16
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
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, mapErr(ctx, err, nil, what)
	}
	rows, err = s.pool.Query(ctx, `SELECT key, value FROM chorus_run_memo WHERE run_id = $1`, runID)
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
	if err := s.pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, mapErr(ctx, err, nil, "count runs")
	}
	return n, nil
}

// listQuery builds the query for f, selecting cols of the runs (or
// count(*)). The first attribute filter drives the query from its index;
// the others are checked per run.
func listQuery(f history.ListFilter, cols string) (string, []any, error) {
	var where []string
	var p params
	from := `chorus_runs AS r`
	for i, a := range f.Attrs {
		if err := a.Validate(); err != nil {
			return "", nil, err
		}
		al := "a" + strconv.Itoa(i)
		var cond string
		if a.Kind == history.AttrKeyword {
			cond = fmt.Sprintf(`%s.name = %s AND %s.kind = %s AND %s.text_val = %s`, al, p.add(a.Name), al, p.add(int16(a.Kind)), al, p.add(a.Text))
		} else {
			cond = fmt.Sprintf(`%s.name = %s AND %s.kind = %s AND %s.int_val BETWEEN %s AND %s`, al, p.add(a.Name), al, p.add(int16(a.Kind)),
				al, p.add(a.Min), p.add(a.Max))
		}
		where = append(where, `EXISTS (SELECT 1 FROM chorus_run_attrs AS `+al+` WHERE `+al+`.run_id = r.id AND `+cond+`)`)
	}
	if f.AfterID != "" {
		where = append(where, `r.id > `+p.add(f.AfterID))
	}
	if f.Status != 0 {
		if !f.Status.Valid() {
			return "", nil, fmt.Errorf("unknown status %v", f.Status)
		}
		where = append(where, `r.status = `+p.add(int16(f.Status)))
	}
	if len(f.Statuses) > 0 {
		ph := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			if !st.Valid() {
				return "", nil, fmt.Errorf("unknown status %v", st)
			}
			ph[i] = p.add(int16(st))
		}
		where = append(where, `r.status IN (`+strings.Join(ph, ", ")+`)`)
	}
	if f.Workflow != "" {
		where = append(where, `r.workflow = `+p.add(f.Workflow))
	}
	for _, c := range []struct {
		col, op string
		t       *int64
	}{
		{"created_at", ">=", encTime(f.CreatedFrom)}, {"created_at", "<", encTime(f.CreatedTo)},
		{"updated_at", ">=", encTime(f.ClosedFrom)}, {"updated_at", "<", encTime(f.ClosedTo)},
	} {
		if c.t != nil {
			where = append(where, `r.`+c.col+` `+c.op+` `+p.add(*c.t))
		}
	}
	if !f.ClosedFrom.IsZero() || !f.ClosedTo.IsZero() {
		where = append(where, `r.status IN `+endedStatuses)
	}
	if f.Limit < 0 {
		return "", nil, fmt.Errorf("negative limit %d", f.Limit)
	}
	if cols == runColumns {
		cols = `r.id, r.workflow, r.status, r.created_at, r.updated_at, r.last_seq, r.first_seq, r.parent_run, r.parent_step, r.result, r.failure`
	}
	q := `SELECT ` + cols + ` FROM ` + from
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if cols != "count(*)" {
		q += ` ORDER BY r.id`
		if f.Limit > 0 {
			q += ` LIMIT ` + p.add(int64(f.Limit))
		}
	}
	return q, p, nil
}

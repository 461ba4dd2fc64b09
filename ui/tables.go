package ui

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"unicode"
)

// Table is a page of the dashboard that a package around the engine fills
// with a table, such as the outbox and the parked messages of package
// events (events.Store's OutboxTable and ParkedTable). It takes plain
// strings, so the dashboard imports nothing of the package that fills it.
// Each table is a page at /tables/{slug}/, where slug is Name in lower
// case with every run of other characters than letters and digits turned
// into one "-", listed in the navigation, and JSON at GET
// /api/tables/{slug}.
type Table struct {
	// Name heads the page and names it in the navigation.
	Name string
	// Intro, when set, is a sentence above the table saying what it shows.
	Intro string
	// Empty, when set, is what the page says when Rows returns no row.
	// Defaults to "Nothing to show."
	Empty string
	// RunColumn, when set, names the column whose cells are run IDs: each
	// links to its run's page.
	RunColumn string
	// Rows returns the table: its header and its rows, each with one cell
	// per column of the header. It is called for every request of the page,
	// with the request's context.
	Rows func(ctx context.Context) (header []string, rows [][]string, err error)
}

// slug is the path segment of a table named name.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// checkTables reports the first table of ts that cannot be served.
func checkTables(ts []Table) error {
	seen := map[string]string{}
	for i, t := range ts {
		s := slug(t.Name)
		switch {
		case s == "":
			return fmt.Errorf("ui: Options.Tables[%d]: Name %q has no letter or digit to make its path from", i, t.Name)
		case t.Rows == nil:
			return fmt.Errorf("ui: Options.Tables[%d] (%q): Rows is nil", i, t.Name)
		case seen[s] != "":
			return fmt.Errorf("ui: Options.Tables[%d] (%q): the path /tables/%s/ is taken by %q", i, t.Name, s, seen[s])
		}
		seen[s] = t.Name
	}
	return nil
}

// navTable is a table's entry in the navigation.
type navTable struct{ Name, Slug string }

func (s *server) navTables() []navTable {
	out := make([]navTable, len(s.opts.Tables))
	for i, t := range s.opts.Tables {
		out[i] = navTable{t.Name, slug(t.Name)}
	}
	return out
}

// tableData is a table's page and its JSON.
type tableData struct {
	Name   string     `json:"name"`
	Intro  string     `json:"intro,omitempty"`
	Empty  string     `json:"-"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
	// RunCol is the index of the column of run IDs, or -1.
	RunCol int `json:"-"`
}

// table finds the table of the request's slug and reads it; it answers
// the request itself and returns nil when it cannot.
func (s *server) table(w http.ResponseWriter, r *http.Request, page bool) *tableData {
	fail := func(status int, msg string) *tableData {
		if page {
			s.renderError(w, r, status, msg)
		} else {
			writeJSON(w, status, map[string]string{"error": msg})
		}
		return nil
	}
	want := r.PathValue("slug")
	for _, t := range s.opts.Tables {
		if slug(t.Name) != want {
			continue
		}
		header, rows, err := t.Rows(r.Context())
		if err != nil {
			return fail(http.StatusInternalServerError, fmt.Sprintf("table %s: %v", t.Name, err))
		}
		for i, row := range rows {
			if len(row) != len(header) {
				return fail(http.StatusInternalServerError, fmt.Sprintf("table %s: row %d has %d cells for %d columns", t.Name, i+1, len(row), len(header)))
			}
		}
		d := &tableData{Name: t.Name, Intro: t.Intro, Empty: t.Empty, Header: header, Rows: rows, RunCol: -1}
		if d.Empty == "" {
			d.Empty = "Nothing to show."
		}
		if d.Rows == nil {
			d.Rows = [][]string{}
		}
		for i, h := range header {
			if t.RunColumn != "" && h == t.RunColumn {
				d.RunCol = i
			}
		}
		return d
	}
	return fail(http.StatusNotFound, fmt.Sprintf("no table %q here", want))
}

// tablePage is GET /tables/{slug}/.
func (s *server) tablePage(w http.ResponseWriter, r *http.Request) {
	if d := s.table(w, r, true); d != nil {
		s.render(w, http.StatusOK, "table.html", s.newPage(r, d.Name, "table:"+slug(d.Name), d))
	}
}

// apiTable is GET /api/tables/{slug}.
func (s *server) apiTable(w http.ResponseWriter, r *http.Request) {
	if d := s.table(w, r, false); d != nil {
		writeJSON(w, http.StatusOK, d)
	}
}

// tableFuncs are the template functions of the tables.
func (s *server) tableFuncs() template.FuncMap {
	return template.FuncMap{"navTables": s.navTables}
}

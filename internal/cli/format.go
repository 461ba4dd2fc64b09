package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chorusdev/chorus/history"
)

// timeFormat is how tables show times: UTC, to the millisecond.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeFormat)
}

// tableTime shows a time of the JSON output (RFC 3339, to the nanosecond)
// in a table: to the millisecond, a fixed width, so columns stay aligned.
func tableTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return fmtTime(t)
}

// jsonTime is a time for JSON output: RFC 3339 in UTC, omitted when zero.
func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// payload turns an encoded payload into JSON: itself when it is valid JSON
// (the default codec), else a JSON string holding a Go-quoted form of it.
func payload(p []byte) json.RawMessage {
	if len(p) == 0 {
		return nil
	}
	if json.Valid(p) {
		return json.RawMessage(p)
	}
	b, _ := json.Marshal(fmt.Sprintf("%q", p))
	return b
}

// short renders a payload on one table line, cut at n runes.
func short(p []byte, n int) string {
	if len(p) == 0 {
		return ""
	}
	s := string(payload(p))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

// failure is a decoded history.Failure for output.
type failure struct {
	Message string          `json:"message"`
	Type    string          `json:"type,omitempty"`
	Attempt int             `json:"attempt,omitempty"`
	Details json.RawMessage `json:"details,omitempty"`
	Cause   *failure        `json:"cause,omitempty"`
}

func decodeFailure(p []byte) *failure {
	if len(p) == 0 {
		return nil
	}
	var f history.Failure
	if err := json.Unmarshal(p, &f); err != nil {
		return &failure{Message: fmt.Sprintf("(undecodable failure %q)", p)}
	}
	return fromFailure(&f)
}

func fromFailure(f *history.Failure) *failure {
	if f == nil {
		return nil
	}
	return &failure{Message: f.Message, Type: f.Type, Attempt: f.Attempt, Details: payload(f.Details), Cause: fromFailure(f.Cause)}
}

// String is the failure on one line: type, message and causes.
func (f *failure) String() string {
	if f == nil {
		return ""
	}
	s := f.Message
	if f.Type != "" && !strings.HasPrefix(s, f.Type+":") {
		s = f.Type + ": " + s
	}
	if f.Cause != nil && !strings.Contains(s, f.Cause.Message) {
		s += " (cause: " + f.Cause.String() + ")"
	}
	return s
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cols ...string) {
	for i, c := range cols {
		if c == "" {
			cols[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cols, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// writeJSON writes v indented, with a final newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

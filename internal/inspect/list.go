package inspect

import (
	"encoding/json"

	"github.com/chorusdev/chorus/history"
)

// RunRow is one run of a list.
type RunRow struct {
	ID        string `json:"id"`
	Workflow  string `json:"workflow"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Parent    string `json:"parent,omitempty"`
	Damaged   string `json:"damaged,omitempty"`
}

// Row is the list row of r.
func Row(r history.RunInfo) RunRow {
	row := RunRow{ID: r.ID, Workflow: r.Workflow, Status: r.Status.String(),
		CreatedAt: JSONTime(r.CreatedAt), UpdatedAt: JSONTime(r.UpdatedAt), Parent: r.Parent}
	if r.Damaged != nil {
		row.Damaged = r.Damaged.Error()
	}
	return row
}

// RunPage is one page of a run list: the runs, and the ID to list after
// for the next page when the page was full and more runs follow.
type RunPage struct {
	Runs []RunRow `json:"runs"`
	Next string   `json:"next,omitempty"`
	// Count is how many runs match the filter, over every page, when the
	// lister counted them.
	Count *int64 `json:"count,omitempty"`
}

// EventRow is one journal event.
type EventRow struct {
	Seq     int64           `json:"seq"`
	Time    string          `json:"time"`
	Type    string          `json:"type"`
	Name    string          `json:"name,omitempty"`
	Ref     int64           `json:"ref,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Events is the rows of events.
func Events(events []history.Event) []EventRow {
	rows := make([]EventRow, 0, len(events))
	for _, e := range events {
		rows = append(rows, EventRow{Seq: e.Seq, Time: JSONTime(e.Time), Type: e.Type.String(), Name: e.Name, Ref: e.Ref, Payload: Payload(e.Payload)})
	}
	return rows
}

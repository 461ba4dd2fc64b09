package cli

import (
	"context"
	"strconv"
	"time"

	"github.com/chorusdev/chorus/schedule"
	"github.com/chorusdev/chorus/ui"
)

// scheduleTable is the dashboard's Schedules page over a database file,
// read from the schedules' memos as `chorus schedule list` reads them, for
// `chorus serve` (which has no engine to ask, so it cannot use
// schedule.Table). It has the same columns as schedule.Table.
func scheduleTable(st store) ui.Table {
	return ui.Table{Name: "Schedules", Intro: schedule.TableIntro, Empty: schedule.TableEmpty, RunColumn: "Run",
		Rows: func(ctx context.Context) ([]string, [][]string, error) {
			vs, err := readSchedules(ctx, st, "")
			if err != nil {
				return nil, nil, err
			}
			header := []string{"Schedule", "Run", "Workflow", "When", "Overlap", "State", "Next", "Last run", "Started", "Skipped", "Missed"}
			rows := make([][]string, 0, len(vs))
			for _, v := range vs {
				st, next := state(v), ""
				if v.Paused && v.Note != "" {
					st += ": " + v.Note
				}
				if len(v.Next) > 0 {
					next = v.Next[0].Format(time.RFC3339)
				}
				w := when(v.Spec)
				if w == "-" {
					w = ""
				}
				rows = append(rows, []string{v.ID, schedule.RunID(v.ID), v.Workflow, w, v.Spec.Overlap.String(), st, next, v.LastRunID,
					strconv.FormatInt(v.Started, 10), strconv.FormatInt(v.Skipped, 10), strconv.FormatInt(v.Missed, 10)})
			}
			return header, rows, nil
		}}
}

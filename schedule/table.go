package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/chorusdev/chorus"
)

// Texts of the dashboard's Schedules page (see [Table]).
const (
	TableIntro = "The schedules running on this engine, as of each one's last wake-up: when they tick, what they do on overlap, their next tick and what they started."
	TableEmpty = "No schedule is running."
)

// Table returns the rows of a dashboard page listing eng's schedules, read
// from their runs' memos. Mount it with the dashboard (package ui, whose
// Table takes plain strings so that it imports nothing of this package):
//
//	ui.Handler(eng, &ui.Options{Tables: []ui.Table{{Name: "Schedules",
//		Intro: schedule.TableIntro, Empty: schedule.TableEmpty, RunColumn: "Run",
//		Rows: schedule.Table(eng)}}})
func Table(eng *chorus.Engine) func(ctx context.Context) (header []string, rows [][]string, err error) {
	return func(ctx context.Context) ([]string, [][]string, error) {
		header := []string{"Schedule", "Run", "Workflow", "When", "Overlap", "State", "Next", "Last run", "Started", "Skipped", "Missed"}
		ids, err := List(ctx, eng)
		if err != nil {
			return nil, nil, err
		}
		rows := make([][]string, 0, len(ids))
		for _, id := range ids {
			info, err := eng.Describe(ctx, RunID(id))
			if errors.Is(err, chorus.ErrRunNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, nil, err
			}
			var d Description
			if b, ok := info.Memo[MemoKey]; ok {
				if err := json.Unmarshal(b, &d); err != nil {
					return nil, nil, err
				}
			}
			state, next := "active", ""
			if d.Paused {
				state = "paused"
				if d.Note != "" {
					state += ": " + d.Note
				}
			}
			if len(d.Next) > 0 {
				next = d.Next[0].Format(time.RFC3339)
			}
			rows = append(rows, []string{id, RunID(id), d.Workflow, when(d.Spec), d.Spec.Overlap.String(), state, next, d.LastRunID,
				strconv.FormatInt(d.Started, 10), strconv.FormatInt(d.Skipped, 10), strconv.FormatInt(d.Missed, 10)})
		}
		return header, rows, nil
	}
}

// when says when a spec ticks, in words.
func when(s Spec) string {
	var out string
	switch {
	case s.Cron != "":
		out = "cron " + s.Cron
		if s.TimeZone != "" {
			out += " (" + s.TimeZone + ")"
		}
	case s.Every > 0:
		out = "every " + s.Every.String()
	}
	if s.Jitter > 0 {
		out += ", jitter " + s.Jitter.String()
	}
	return out
}

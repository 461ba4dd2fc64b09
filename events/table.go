package events

import (
	"context"
	"strconv"
	"time"
	"unicode/utf8"
)

// The dashboard's pages of the outbox and the parked messages: the
// dashboard (package ui) takes a table as plain strings, so that it does
// not import this package, nor this package it:
//
//	ui.Options{Tables: []ui.Table{
//		{Name: "Outbox", Intro: events.OutboxIntro, Empty: events.OutboxEmpty, RunColumn: "Run", Rows: st.OutboxTable},
//		{Name: "Parked messages", Intro: events.ParkedIntro, Empty: events.ParkedEmpty, Rows: st.ParkedTable},
//	}}

// What the dashboard's pages of the outbox and the parked messages say.
const (
	OutboxIntro = "Events that runs published and the broker has not confirmed yet, in the order the relay sends them, with the relay's attempts and last error."
	OutboxEmpty = "Every event published so far was delivered."
	ParkedIntro = "Messages the inbox gave up on after failing its attempts, kept with their error and body, never dropped. Once the cause is fixed, the application processes one again with Inbox.Redrive, or deletes it with Store.DeleteParked."
	ParkedEmpty = "No message is parked."
)

// maxBodyCell is how much of a parked message's body the table shows.
const maxBodyCell = 240

// OutboxTable returns the outbox's undelivered events as a table: a
// ui.Table's Rows.
func (s *Store) OutboxTable(ctx context.Context) (header []string, rows [][]string, err error) {
	evs, err := s.Outbox(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	header = []string{"Seq", "Event ID", "Run", "Step", "Recorded", "Attempts", "Next attempt", "Last error"}
	rows = make([][]string, 0, len(evs))
	for _, ev := range evs {
		next := ""
		if ev.Attempts > 0 {
			next = when(ev.NextAttempt)
		}
		rows = append(rows, []string{strconv.FormatInt(ev.Seq, 10), ev.ID, ev.Run, strconv.FormatInt(ev.Step, 10),
			when(ev.Created), strconv.Itoa(ev.Attempts), next, ev.LastError})
	}
	return header, rows, nil
}

// ParkedTable returns the parked messages as a table: a ui.Table's Rows.
// A body longer than 240 bytes is cut, with an ellipsis.
func (s *Store) ParkedTable(ctx context.Context) (header []string, rows [][]string, err error) {
	msgs, err := s.Parked(ctx)
	if err != nil {
		return nil, nil, err
	}
	header = []string{"Topic", "Source", "Message ID", "Attempts", "Error", "First seen", "Parked", "Body"}
	rows = make([][]string, 0, len(msgs))
	for _, m := range msgs {
		rows = append(rows, []string{m.Topic, m.Source, m.ID, strconv.Itoa(m.Attempts), m.Error,
			when(m.FirstSeen), when(m.Parked), bodyCell(m.Body)})
	}
	return header, rows, nil
}

// when formats t for a table, or "" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// bodyCell is a message body as text, cut to maxBodyCell bytes on a rune
// boundary; a body that is not UTF-8 is shown by its size.
func bodyCell(b []byte) string {
	if !utf8.Valid(b) {
		return "(" + strconv.Itoa(len(b)) + " bytes, not text)"
	}
	if len(b) <= maxBodyCell {
		return string(b)
	}
	cut := maxBodyCell
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "…"
}

// Installed reports whether the database has the outbox and inbox tables,
// which [Open] creates: whether an application used package events on it.
func (s *Store) Installed(ctx context.Context) (bool, error) {
	for _, name := range []string{"chorus_outbox", "chorus_inbox"} {
		if ok, err := s.hasTable(ctx, name); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/ui"
)

func staticRows(header []string, rows ...[]string) func(context.Context) ([]string, [][]string, error) {
	return func(context.Context) ([]string, [][]string, error) { return header, rows, nil }
}

// A table of Options.Tables is a page linked from the navigation and a
// JSON document, behind the same authentication as every page.
func TestTablePages(t *testing.T) {
	f := newFixture(t)
	h := liveHandler(t, f, &ui.Options{Auth: ui.BearerToken(token), Tables: []ui.Table{
		{Name: "Ledger entries", Intro: "What the ledger holds.", RunColumn: "Run",
			Rows: staticRows([]string{"Entry", "Run"}, []string{"<e-1>", "order-1"}, []string{"e-2", ""})},
		{Name: "Nothing here", Rows: staticRows([]string{"A"})},
		{Name: "Broken", Rows: func(context.Context) ([]string, [][]string, error) { return nil, nil, errors.New("disk on fire") }},
		{Name: "Ragged", Rows: staticRows([]string{"A", "B"}, []string{"1"})},
	}})

	w := do(t, h, req{path: "/tables/ledger-entries/", html: true})
	require.Equal(t, http.StatusUnauthorized, w.Code, "tables need the credentials too")
	w = do(t, h, req{path: "/api/tables/ledger-entries"})
	require.Equal(t, http.StatusUnauthorized, w.Code)

	w = do(t, h, req{path: "/tables/ledger-entries/", html: true, bearer: token})
	require.Equal(t, http.StatusOK, w.Code)
	page := w.Body.String()
	require.Contains(t, page, `data-rows="2"`)
	require.Contains(t, page, "What the ledger holds.")
	require.Contains(t, page, "&lt;e-1&gt;", "cells are escaped")
	require.Contains(t, page, `<a href="/runs/order-1">order-1</a>`)
	require.Contains(t, page, `href="/tables/nothing-here/"`)

	w = do(t, h, req{path: "/api/tables/ledger-entries", bearer: token})
	require.Equal(t, http.StatusOK, w.Code)
	var doc struct {
		Name   string     `json:"name"`
		Header []string   `json:"header"`
		Rows   [][]string `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
	require.Equal(t, "Ledger entries", doc.Name)
	require.Equal(t, []string{"Entry", "Run"}, doc.Header)
	require.Equal(t, [][]string{{"<e-1>", "order-1"}, {"e-2", ""}}, doc.Rows)

	w = do(t, h, req{path: "/tables/nothing-here/", html: true, bearer: token})
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "Nothing to show.")
	w = do(t, h, req{path: "/api/tables/nothing-here", bearer: token})
	require.JSONEq(t, `{"name":"Nothing here","header":["A"],"rows":[]}`, w.Body.String())

	w = do(t, h, req{path: "/api/tables/broken", bearer: token})
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Contains(t, w.Body.String(), "disk on fire")
	w = do(t, h, req{path: "/tables/ragged/", html: true, bearer: token})
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Contains(t, w.Body.String(), "row 1 has 1 cells for 2 columns")
	w = do(t, h, req{path: "/api/tables/no-such-table", bearer: token})
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), "no-such-table")
}

func TestTablesChecked(t *testing.T) {
	f := newFixture(t)
	rows := staticRows([]string{"A"})
	for _, c := range []struct {
		tables []ui.Table
		want   string
	}{
		{[]ui.Table{{Name: "!!", Rows: rows}}, `Name "!!" has no letter or digit`},
		{[]ui.Table{{Name: "Outbox"}}, `Tables[0] ("Outbox"): Rows is nil`},
		{[]ui.Table{{Name: "Parked messages", Rows: rows}, {Name: "parked  MESSAGES", Rows: rows}}, `/tables/parked-messages/ is taken by "Parked messages"`},
	} {
		_, err := ui.Handler(f.eng, &ui.Options{Tables: c.tables})
		require.ErrorContains(t, err, c.want)
	}
}

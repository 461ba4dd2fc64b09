// Package pgtest gives tests a private PostgreSQL schema in the database
// that CHORUS_POSTGRES_URL names. Without that variable the tests that need
// it skip, saying what they need; .ci/postgres.sh starts a server and sets
// it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable that holds the connection string of
// the database the tests use.
const EnvURL = "CHORUS_POSTGRES_URL"

// SkipMessage is what a test that needs PostgreSQL says when it skips.
const SkipMessage = "set " + EnvURL + " to a PostgreSQL database; .ci/postgres.sh starts one"

// BaseURL returns the connection string of CHORUS_POSTGRES_URL, or skips t
// when it is not set.
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skip(SkipMessage)
	}
	return u
}

// URL creates a schema of its own for t in the database of
// CHORUS_POSTGRES_URL and returns a connection string whose search_path is
// that schema, so that everything a store creates lands there; the schema
// is dropped with all it holds when t ends. It skips t without
// CHORUS_POSTGRES_URL.
func URL(t testing.TB) string {
	t.Helper()
	base := BaseURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "chorus_test_" + hex.EncodeToString(b[:])
	exec(t, base, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { exec(t, base, `DROP SCHEMA `+schema+` CASCADE`) })
	u, err := WithSearchPath(base, schema)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// WithSearchPath returns connection string base with its search_path set
// to schema. base is a URL (postgres://...).
func WithSearchPath(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("pgtest: %s is not a URL: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Exec runs one SQL statement on the database of connection string u, for
// tests that arrange the database behind a store's back.
func Exec(t testing.TB, u, sql string, args ...any) {
	t.Helper()
	exec(t, u, sql, args...)
}

func exec(t testing.TB, u, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

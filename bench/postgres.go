package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5"
)

// postgresEnv names the PostgreSQL server of the PostgreSQL columns: a
// connection string (postgres://...) to a database on it. Every
// measurement creates a database of its own on that server and drops it
// when it ends.
const postgresEnv = "CHORUS_POSTGRES_URL"

// freshDB is a database created for one measurement.
type freshDB struct {
	base string // the connection string of CHORUS_POSTGRES_URL
	name string
	URL  string // the connection string of the new database
}

// createFreshDB creates an empty database on the server of
// CHORUS_POSTGRES_URL.
func createFreshDB(ctx context.Context) (*freshDB, error) {
	base := os.Getenv(postgresEnv)
	if base == "" {
		return nil, fmt.Errorf("set %s to a PostgreSQL database for the PostgreSQL columns", postgresEnv)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL", postgresEnv)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	f := &freshDB{base: base, name: "chorus_bench_" + hex.EncodeToString(b[:])}
	if err := f.exec(ctx, "CREATE DATABASE "+pgx.Identifier{f.name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", f.name, err)
	}
	u.Path = "/" + f.name
	f.URL = u.String()
	return f, nil
}

// drop drops the database, disconnecting whoever is still on it.
func (f *freshDB) drop(ctx context.Context) error {
	if f == nil {
		return nil
	}
	return f.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{f.name}.Sanitize()+" WITH (FORCE)")
}

func (f *freshDB) exec(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, f.base)
	if err != nil {
		return err
	}
	_, err = c.Exec(ctx, sql)
	return errors.Join(err, c.Close(ctx))
}

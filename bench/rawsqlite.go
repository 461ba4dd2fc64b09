package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the same pure-Go SQLite every engine here uses
)

// rawSQLite measures what the disk and modernc.org/sqlite allow, with the
// pragmas of Chorus's writer connection (WAL, BEGIN IMMEDIATE, one
// connection): single-row commits per second and rows per second in
// 1,000-row transactions, with synchronous=FULL and NORMAL; and the median
// time of one single-row commit, the floor of every commit an engine waits
// for.
func rawSQLite(ctx context.Context, dir string, p params, res *result) error {
	payload := make([]byte, 100)
	for _, sync := range []string{"FULL", "NORMAL"} {
		path := fmt.Sprintf("%s/raw-%s.db", dir, sync)
		db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(5000)"+
			"&_pragma=journal_mode(WAL)&_pragma=synchronous("+sync+")")
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, run TEXT NOT NULL, payload BLOB)`); err != nil {
			return err
		}
		stmt, err := db.PrepareContext(ctx, `INSERT INTO t (run, payload) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		txn := func(rows int, i *int) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			s := tx.StmtContext(ctx, stmt)
			for range rows {
				*i++
				if _, err := s.ExecContext(ctx, fmt.Sprintf("run-%d", *i), payload); err != nil {
					_ = tx.Rollback()
					return err
				}
			}
			return tx.Commit()
		}
		lower := map[string]string{"FULL": "full", "NORMAL": "normal"}[sync]
		for _, rows := range []int{1, 1000} {
			i, commits := 0, 0
			var lat []time.Duration
			t0 := time.Now()
			for time.Since(t0) < p.SQLDur || commits < 3 {
				c0 := time.Now()
				if err := txn(rows, &i); err != nil {
					return err
				}
				lat = append(lat, time.Since(c0))
				commits++
			}
			el := time.Since(t0).Seconds()
			if rows == 1 {
				res.set("sql_commits_"+lower, float64(commits)/el)
				res.set("sql_commit_p50_"+lower, ms(pct(lat, 0.50)))
			} else {
				res.set("sql_rows1000_"+lower, float64(i)/el)
			}
		}
		_ = stmt.Close()
		_ = db.Close()
	}
	return nil
}

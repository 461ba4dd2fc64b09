package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	msqlite "modernc.org/sqlite"
)

// The WAL checkpoint, which copies the pages that commits appended to the
// write-ahead log back into the database file, runs off the commit path.
// The writer connection has wal_autocheckpoint=0, so no COMMIT copies pages
// or syncs the database file; after each Commit the writer adds the pages
// it appended to the log (SQLite's per-connection cache-write counter), and
// every ckptFrames pages it wakes the checkpointer, a goroutine with a
// connection of its own that runs a PASSIVE checkpoint: it copies what no
// reader still needs, never waits for a lock, and never holds up the writer.
//
// SQLite starts the log again from its beginning only when a write
// transaction begins after a checkpoint copied every frame; under a steady
// stream of commits the background checkpoint never quite catches up, so
// every ckptInlineFrames pages the writer runs one PASSIVE checkpoint
// itself right after its commit (a short one: the checkpointer copied
// nearly everything), as the automatic checkpoint did, and the commit after
// that starts the log again. When the checkpointer is busy at that moment,
// the writer tries again after its next commit, and from 2*ckptInlineFrames
// pages on it waits for the checkpointer to finish. The log's file so stays
// within about 2*ckptInlineFrames pages (32 MiB with 4 KiB pages).
//
// Durability is unchanged: a checkpoint writes only frames of committed
// transactions, syncs the log before and the database file after copying
// them, with the store's synchronous setting (the checkpointer's connection
// has the same one), and a frame is overwritten only once a checkpoint has
// copied and synced it.
const (
	ckptFrames       = 1000 // SQLite's default wal_autocheckpoint
	ckptInlineFrames = 4 * ckptFrames
)

// checkpointer runs the background checkpoints of a file store.
type checkpointer struct {
	db    *sql.DB // one connection
	nudge chan struct{}
	stop  chan struct{}
	done  chan struct{}
	// mu is held by whoever checkpoints, the checkpointer or the writer.
	mu sync.Mutex
	// checkpoints counts the background checkpoints that ran (tests).
	checkpoints atomic.Int64
	// The writer's, under commitMu: the pages appended since the last
	// nudge, and since its last checkpoint; its checkpoints (tests).
	pending, sinceInline int
	inlines              int
}

// newCheckpointer opens the checkpointer's connection and starts it.
func newCheckpointer(uri string, o Options) (*checkpointer, error) {
	db, err := sql.Open(driverName, uri+"?"+checkpointerParams(o))
	if err != nil {
		return nil, err
	}
	configureWriter(db)
	c := &checkpointer{db: db, nudge: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

// checkpointerParams is the DSN query of the checkpointer's connection:
// the store's synchronous setting, which decides how a checkpoint syncs.
func checkpointerParams(o Options) string {
	return fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=synchronous(%s)", o.busyTimeoutMillis(), o.Synchronous)
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.nudge:
		}
		// A failed checkpoint leaves the log as it is; the next one, or
		// the writer's, copies its pages.
		c.mu.Lock()
		_, _ = walCheckpoint(context.Background(), c.db)
		c.mu.Unlock()
		c.checkpoints.Add(1)
	}
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}

// walCheckpoint runs a PASSIVE checkpoint on q and returns the size of the
// log, in frames, that it found.
func walCheckpoint(ctx context.Context, q queryer) (int, error) {
	var busy, frames, copied int
	err := q.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	return frames, err
}

// afterCommit is called by every write transaction, under commitMu, after
// it committed (or may have): it starts a build of the run ID filter when
// the transaction filled it (idfilter.go), counts the pages the writer
// appended to the log and wakes the checkpointer, or checkpoints inline
// (see above).
func (s *Store) afterCommit(ctx context.Context) {
	if s.ids != nil && s.ids.wantBuild {
		s.ids.wantBuild = false
		s.startIDFilter()
	}
	c := s.ckpt
	if c == nil {
		return
	}
	conn, err := s.w.Conn(context.WithoutCancel(ctx))
	if err != nil {
		return
	}
	defer conn.Close()
	_ = conn.Raw(func(dc any) error {
		if st, ok := dc.(msqlite.DBStatus); ok {
			if n, _, err := st.Status(msqlite.DBStatusCacheWrite, true); err == nil {
				c.pending += n
				c.sinceInline += n
			}
		}
		return nil
	})
	if c.sinceInline >= ckptInlineFrames {
		if c.sinceInline >= 2*ckptInlineFrames {
			c.mu.Lock()
		} else if !c.mu.TryLock() {
			return
		}
		defer c.mu.Unlock()
		if frames, err := walCheckpoint(context.WithoutCancel(ctx), conn); err == nil && frames >= 0 {
			c.inlines++
			c.sinceInline, c.pending = 0, 0
		}
		return
	}
	if c.pending >= ckptFrames {
		c.pending = 0
		select {
		case c.nudge <- struct{}{}:
		default:
		}
	}
}

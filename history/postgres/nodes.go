package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdev/chorus/history"
)

// Shared mode (Options.Shared): each store is a node with a row in
// chorus_nodes, and each run belongs to one node (chorus_runs.owner_node).

var _ history.RunAdopter = (*Store)(nil)

// The statements that differ between the modes: the fencing token is the
// database's lease row in single-owner mode, and this node's row in shared
// mode.
const (
	sqlFence     = `SELECT epoch FROM chorus_lease WHERE name = $1 FOR SHARE`
	sqlFenceNode = `SELECT epoch FROM chorus_nodes WHERE name = $1 FOR SHARE`
	sqlEpoch     = `SELECT epoch FROM chorus_lease WHERE name = $1`
	sqlEpochNode = `SELECT epoch FROM chorus_nodes WHERE name = $1`
)

// fenceSQL reads the fencing token and holds its row until the
// transaction ends; its parameter is leaseKey.
func (s *Store) fenceSQL() string {
	if s.shared {
		return sqlFenceNode
	}
	return sqlFence
}

// epochSQL reads the fencing token; its parameter is leaseKey.
func (s *Store) epochSQL() string {
	if s.shared {
		return sqlEpochNode
	}
	return sqlEpoch
}

// renewSQL extends the lease ($1 leaseKey, $2 epoch, $3 TTL in µs).
func (s *Store) renewSQL() string {
	if s.shared {
		return `UPDATE chorus_nodes SET expires_at = now() + $3 * interval '1 microsecond' WHERE name = $1 AND epoch = $2`
	}
	return `UPDATE chorus_lease SET expires_at = now() + $3 * interval '1 microsecond' WHERE name = $1 AND epoch = $2`
}

// releaseSQL ends the lease at once ($1 leaseKey, $2 epoch).
func (s *Store) releaseSQL() string {
	if s.shared {
		return `UPDATE chorus_nodes SET expires_at = now() WHERE name = $1 AND epoch = $2`
	}
	return `UPDATE chorus_lease SET expires_at = now() WHERE name = $1 AND epoch = $2`
}

// leaseKey names the row that holds this store's fencing token.
func (s *Store) leaseKey() string {
	if s.shared {
		return s.owner
	}
	return leaseName
}

// node returns this store's node name in shared mode, and "" in
// single-owner mode (where runs have no owner).
func (s *Store) node() string {
	if s.shared {
		return s.owner
	}
	return ""
}

// register adds this store's node row, or takes over the expired row of a
// node of the same name (whose runs it keeps), or with standby waits for
// a live one of the same name to expire. In the same transaction it
// adopts the runs that no node owns (written by a single-owner engine
// before the database went shared), so that the engine recovers them.
func (s *Store) register(ctx context.Context, standby bool) error {
	for {
		var epoch int64
		var taken bool
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var holder string
			err := tx.QueryRow(ctx, `SELECT owner FROM chorus_lease WHERE name = $1 AND expires_at > now()`, leaseName).Scan(&holder)
			if err == nil {
				return fmt.Errorf("%sopen: %w: single-owner engine %q holds the database (open every engine of a database with the same Options.Shared)",
					errPrefix, history.ErrLocked, holder)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			err = tx.QueryRow(ctx, `INSERT INTO chorus_nodes (name, epoch, expires_at)
				VALUES ($1, nextval('chorus_node_epoch'), now() + $2 * interval '1 microsecond')
				ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch, expires_at = excluded.expires_at
				WHERE chorus_nodes.expires_at <= now()
				RETURNING epoch`, s.owner, s.ttl.Microseconds()).Scan(&epoch)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // a live node has the name
			}
			if err != nil {
				return err
			}
			taken = true
			_, err = tx.Exec(ctx, `UPDATE chorus_runs SET owner_node = $1 WHERE owner_node IS NULL AND status <> $2`,
				s.owner, int16(history.StatusQueued))
			return err
		})
		if err != nil {
			if errors.Is(err, history.ErrLocked) {
				return err
			}
			return mapErr(ctx, err, nil, "open: register the node")
		}
		if taken {
			s.epoch = epoch
			return nil
		}
		var left float64
		err = s.pool.QueryRow(ctx, `SELECT extract(epoch FROM expires_at - now()) FROM chorus_nodes WHERE name = $1`, s.owner).Scan(&left)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return mapErr(ctx, err, nil, "open: read the node")
		}
		if !standby {
			return fmt.Errorf("%sopen: %w: a live engine has the node name %q for %.1fs more (give each engine its own Options.Owner, or open with Options.Standby)",
				errPrefix, history.ErrLocked, s.owner, max(left, 0))
		}
		wait := max(min(time.Duration(left*float64(time.Second)), s.ttl/4), 10*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%sopen: waiting for node %q: %w", errPrefix, s.owner, ctx.Err())
		case <-t.C:
		}
	}
}

// Adopted implements [history.RunAdopter] for a store in shared mode:
// the first call starts watching the other nodes' leases; every third of
// LeaseTTL the store adopts the runs of the nodes whose lease expired (see
// [Store.AdoptExpired]) and sends their IDs on the channel. In
// single-owner mode the channel receives nothing; it is closed by Close,
// or when the store finds itself fenced.
func (s *Store) Adopted() <-chan []string {
	if !s.shared {
		return s.adopted // nothing to adopt; Close closes the channel
	}
	s.adoptOnce.Do(func() {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			close(s.adopted)
			return
		}
		s.adoptDone = make(chan struct{})
		go s.watchNodes()
	})
	return s.adopted
}

// watchNodes adopts the runs of expired nodes until Close, and hands their
// IDs over on s.adopted.
func (s *Store) watchNodes() {
	defer close(s.adoptDone)
	defer close(s.adopted)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	var pending []string
	for {
		var out chan<- []string
		if len(pending) > 0 {
			out = s.adopted
		}
		select {
		case <-s.stopRenew:
			return
		case <-s.lost:
			return
		case out <- pending:
			pending = nil
		case <-t.C:
			if s.frozen.Load() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), s.ttl)
			ids, err := s.adoptExpired(ctx)
			cancel()
			if err == nil {
				pending = append(pending, ids...)
			}
		}
	}
}

// AdoptExpired moves to this node, in one transaction, the runs of every
// other node whose lease has expired, deletes those nodes' rows (so that
// a node that was only paused finds itself fenced when it wakes up), and
// returns the IDs of the adopted runs that have work left (not ended, or
// with a pending task). Two nodes adopting at once each take a dead node
// whole, or leave it to the other. The store's watcher calls it (see
// [Store.Adopted]); tests and tools may call it to adopt at once. The
// caller owns the runs' pending work: an engine starts it. In
// single-owner mode it does nothing.
func (s *Store) AdoptExpired(ctx context.Context) ([]string, error) {
	if err := s.enter("adopt runs", ""); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	return s.adoptExpired(ctx)
}

func (s *Store) adoptExpired(ctx context.Context) ([]string, error) {
	if !s.shared {
		return nil, nil
	}
	var ids []string
	err := s.writeTx(ctx, "adopt runs", func(tx pgx.Tx) error {
		ids = nil
		rows, err := tx.Query(ctx, `SELECT name FROM chorus_nodes WHERE expires_at <= now() AND name <> $1
			ORDER BY name FOR UPDATE SKIP LOCKED`, s.owner)
		if err != nil {
			return err
		}
		dead, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(dead) == 0 {
			return err
		}
		rows, err = tx.Query(ctx, `UPDATE chorus_runs AS r SET owner_node = $1 WHERE owner_node = ANY($2)
			RETURNING id, (status NOT IN `+endedStatuses+` OR EXISTS (SELECT 1 FROM chorus_tasks AS t WHERE t.run_id = r.id))`,
			s.owner, dead)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var live bool
			if err := rows.Scan(&id, &live); err != nil {
				rows.Close()
				return err
			}
			if live {
				ids = append(ids, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM chorus_nodes WHERE name = ANY($1)`, dead)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// RunOwner returns the node that owns the run in shared mode ("" for a
// run no node owns, such as a queued run, or any run in single-owner
// mode), or an error wrapping history.ErrRunNotFound.
func (s *Store) RunOwner(ctx context.Context, runID string) (string, error) {
	if err := s.enter("read run owner", runID); err != nil {
		return "", err
	}
	defer s.mu.RUnlock()
	var owner *string
	err := s.pool.QueryRow(ctx, `SELECT owner_node FROM chorus_runs WHERE id = $1`, runID).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%sread run owner %q: %w", errPrefix, runID, history.ErrRunNotFound)
	}
	if err != nil {
		return "", mapErr(ctx, err, nil, fmt.Sprintf("read run owner %q", runID))
	}
	if owner == nil {
		return "", nil
	}
	return *owner, nil
}

// Shared reports whether the store was opened in shared mode.
func (s *Store) Shared() bool { return s.shared }

// OwnsRun implements [history.RunAdopter]: in shared mode, whether the
// run belongs to this node; in single-owner mode, whether it exists.
func (s *Store) OwnsRun(ctx context.Context, runID string) (bool, error) {
	owner, err := s.RunOwner(ctx, runID)
	if errors.Is(err, history.ErrRunNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !s.shared || owner == s.owner, nil
}

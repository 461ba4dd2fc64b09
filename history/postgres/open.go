package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chorusdev/chorus/history"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options configure [Open]. The zero value (or nil) is valid.
type Options struct {
	// Owner names this engine in the lease row, for operators and in the
	// error of an engine refused because another one holds the lease. The
	// default is the host name, the process ID and a random suffix.
	Owner string
	// LeaseTTL is how long the lease lasts without being renewed: how long
	// a standby waits before it takes over from an owner that died (or was
	// cut off from the database). The store renews it every LeaseTTL/3.
	// The default is 15 s; it must be at least 100 ms.
	LeaseTTL time.Duration
	// Standby makes Open wait while another live engine holds the lease,
	// and take the database over when that lease expires (or is released
	// by a Close). Without it, Open fails at once with an error wrapping
	// [history.ErrLocked], as the SQLite store does for a file another
	// engine has open. Open's ctx bounds the wait.
	Standby bool
	// MaxConns caps the store's connection pool; the default is pgxpool's
	// (the larger of 4 and the number of CPUs).
	MaxConns int32
	// Shared lets several engines (processes) execute workflow code on the
	// database at once; see "Ownership" in the package documentation.
	// Each shared store registers a node named Owner, leased like the
	// database's lease (LeaseTTL, renewed every third); each run belongs to
	// the node that created it, and only that node writes to it (a batch
	// on another node's run fails with [history.ErrNotOwner]); Tasks
	// returns the tasks of this node's runs only. When a node's lease
	// expires, a live node adopts its runs (see [Store.Adopted]) and the
	// dead node, should it wake up, is fenced. Standby makes Open wait
	// while a live node has the same Owner name. Every engine of a
	// database must use the same mode: a shared store is refused while a
	// single-owner engine holds the database, and the other way round.
	Shared bool
}

// Store is a [history.Store] kept in a PostgreSQL database, in the tables
// its migrations create in the schema the connection's search_path names
// first. One engine at a time owns a database: the store holds a lease
// (see [Options.Standby]), renews it in the background, and checks it in
// every write transaction; a store whose lease was taken over fails every
// write with [ErrFenced]. A Store is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	owner  string
	ttl    time.Duration
	epoch  int64
	shared bool

	// mu is held shared by every operation and exclusively by Close.
	mu     sync.RWMutex
	closed bool

	lostOnce sync.Once
	lost     chan struct{} // closed when the lease is found taken over

	stopRenew chan struct{}
	renewDone chan struct{}

	// Shared mode: the adoption of dead nodes' runs, started by the first
	// call of Adopted.
	adoptOnce sync.Once
	adopted   chan []string
	adoptDone chan struct{} // closed when the watcher stopped; nil until started

	// frozen stops the renewals and adoptions, as if the process had died
	// (tests only, see export_test.go).
	frozen atomic.Bool
}

var _ history.Store = (*Store)(nil)

// leaseName is the name of the lease row of the whole database.
const leaseName = "engine"

// Open connects to the PostgreSQL database of connString (a URL or a
// key=value string, as pgx takes), creates or upgrades the store's tables,
// and takes the database's ownership lease. A database whose tables were
// made by a newer Chorus fails with an error wrapping
// [history.ErrSchemaTooNew]; one whose lease another live engine holds
// fails with [history.ErrLocked] unless opts.Standby is set.
func Open(ctx context.Context, connString string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 15 * time.Second
	}
	if o.LeaseTTL < 100*time.Millisecond {
		return nil, fmt.Errorf("%sopen: LeaseTTL %v is below the minimum of 100ms", errPrefix, o.LeaseTTL)
	}
	if o.Owner == "" {
		o.Owner = defaultOwner()
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("%sopen: %v", errPrefix, err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	// A process paused inside a write transaction (SIGSTOP, a VM frozen,
	// a stalled network) holds the lease row's lock, and a standby's
	// takeover would wait for it forever: the server ends a transaction
	// left idle for a lease's TTL, and the standby takes over once the
	// lease has expired too. The store's own transactions never wait on
	// the client that long: each goes out in one pipeline.
	if _, set := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(o.LeaseTTL.Milliseconds(), 10)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, mapErr(ctx, err, nil, "open: connect")
	}
	s := &Store{pool: pool, owner: o.Owner, ttl: o.LeaseTTL, shared: o.Shared, lost: make(chan struct{}),
		stopRenew: make(chan struct{}), renewDone: make(chan struct{}), adopted: make(chan []string)}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	acquire := s.acquire
	if s.shared {
		acquire = s.register
	}
	if err := acquire(ctx, o.Standby); err != nil {
		pool.Close()
		return nil, err
	}
	go s.renew()
	return s, nil
}

// defaultOwner names this process: host, PID and a random suffix (two
// stores of one process have different names).
func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// migration is one numbered file of migrations/.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %q has no number", e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: want number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the schema to the latest version, in one transaction that
// holds an advisory lock, so that processes opening a new database
// together apply each migration once.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("%sopen: %v", errPrefix, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.chorus_migrate'))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS chorus_schema_version (
			version    INTEGER PRIMARY KEY,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM chorus_schema_version`).Scan(&have); err != nil {
			return err
		}
		if have > len(ms) {
			return fmt.Errorf("%sopen: %w: the database is at schema version %d, this code knows up to %d",
				errPrefix, history.ErrSchemaTooNew, have, len(ms))
		}
		for _, m := range ms[have:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%sopen: migration %s: %v", errPrefix, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO chorus_schema_version (version) VALUES ($1)`, m.version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !strings.HasPrefix(err.Error(), errPrefix) {
		return mapErr(ctx, err, nil, "open: migrate")
	}
	return err
}

// acquire takes the lease, or waits for it with standby.
func (s *Store) acquire(ctx context.Context, standby bool) error {
	for {
		var epoch int64
		var node string
		err := s.pool.QueryRow(ctx, `SELECT name FROM chorus_nodes WHERE expires_at > now() LIMIT 1`).Scan(&node)
		if err == nil {
			return fmt.Errorf("%sopen: %w: shared engines use the database (node %q is live); open with Options.Shared",
				errPrefix, history.ErrLocked, node)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return mapErr(ctx, err, nil, "open: read the nodes")
		}
		err = s.pool.QueryRow(ctx, `INSERT INTO chorus_lease (name, owner, epoch, expires_at)
			VALUES ($1, $2, 1, now() + $3 * interval '1 microsecond')
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, epoch = chorus_lease.epoch + 1, expires_at = excluded.expires_at
			WHERE chorus_lease.expires_at <= now()
			RETURNING epoch`, leaseName, s.owner, s.ttl.Microseconds()).Scan(&epoch)
		if err == nil {
			s.epoch = epoch
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return mapErr(ctx, err, nil, "open: take the lease")
		}
		var holder string
		var left float64
		err = s.pool.QueryRow(ctx, `SELECT owner, extract(epoch FROM expires_at - now()) FROM chorus_lease WHERE name = $1`,
			leaseName).Scan(&holder, &left)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released and deleted meanwhile: try again
		}
		if err != nil {
			return mapErr(ctx, err, nil, "open: read the lease")
		}
		if !standby {
			return fmt.Errorf("%sopen: %w: engine %q holds the lease for %.1fs more (close it first, or open with Options.Standby to take over when it expires)",
				errPrefix, history.ErrLocked, holder, max(left, 0))
		}
		// Poll at least every quarter of the lease, so that a lease
		// released by a Close is taken over soon.
		wait := min(time.Duration(left*float64(time.Second)), s.ttl/4)
		wait = max(wait, 10*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%sopen: waiting for the lease held by %q: %w", errPrefix, holder, ctx.Err())
		case <-t.C:
		}
	}
}

// renew extends the lease every third of its TTL until Close. A renewal
// that finds the lease taken over marks the store lost; one that fails
// otherwise (the database is unreachable) is tried again: the lease may
// still be this store's, and every commit checks it anyway.
func (s *Store) renew() {
	defer close(s.renewDone)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stopRenew:
			return
		case <-s.lost:
			return
		case <-t.C:
		}
		if s.frozen.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl/3)
		tag, err := s.pool.Exec(ctx, s.renewSQL(), s.leaseKey(), s.epoch, s.ttl.Microseconds())
		cancel()
		if err == nil && tag.RowsAffected() == 0 {
			s.markLost()
			return
		}
	}
}

// markLost records that another engine took the database over.
func (s *Store) markLost() { s.lostOnce.Do(func() { close(s.lost) }) }

// Lost returns a channel that is closed once the store finds that another
// engine took the database over (a renewal of the lease, or a commit,
// found a newer epoch). From then on every write fails with [ErrFenced].
// A process should then close its engine; it may open a new store as a
// standby.
func (s *Store) Lost() <-chan struct{} { return s.lost }

// Epoch returns the fencing token of the store's lease: 1 for the first
// engine that opened the database, one more for each takeover since.
func (s *Store) Epoch() int64 { return s.epoch }

// Owner returns the name of this store in the lease row.
func (s *Store) Owner() string { return s.owner }

// isLost reports whether the lease was found taken over.
func (s *Store) isLost() bool {
	select {
	case <-s.lost:
		return true
	default:
		return false
	}
}

// fence checks, inside write transaction tx, that the lease is still this
// store's, and holds the lease row (FOR SHARE) until tx ends, so that a
// takeover waits for tx and a takeover before it fails it.
func (s *Store) fence(ctx context.Context, tx pgx.Tx, what string) error {
	if s.isLost() {
		return fencedErr(what)
	}
	var epoch int64
	err := tx.QueryRow(ctx, s.fenceSQL(), s.leaseKey()).Scan(&epoch)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return mapErr(ctx, err, nil, what+": check the lease")
	}
	if err != nil || epoch != s.epoch {
		s.markLost()
		return fencedErr(what)
	}
	return nil
}

// Close stops renewing the lease, releases it (a standby takes over at
// once; in shared mode, another node adopts this node's runs at its next
// look), and closes the connections. It waits for operations in flight;
// afterwards every method returns an error wrapping
// history.ErrStoreClosed. Closing a closed store does nothing.
func (s *Store) Close() error {
	// Either Adopted started the watcher, which closes the channel when it
	// stops, or no watcher will start.
	s.adoptOnce.Do(func() { close(s.adopted) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.stopRenew)
	<-s.renewDone
	if s.adoptDone != nil {
		<-s.adoptDone
	}
	var err error
	if !s.isLost() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = s.pool.Exec(ctx, s.releaseSQL(), s.leaseKey(), s.epoch)
		cancel()
	}
	s.pool.Close()
	if err != nil {
		return fmt.Errorf("%sclose: release the lease: %v", errPrefix, err)
	}
	return nil
}

// enter takes the shared lock for one operation, or reports that the store
// is closed. The caller must call s.mu.RUnlock when enter returns nil.
func (s *Store) enter(what, runID string) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		if runID != "" {
			return fmt.Errorf("%s%s %q: %w", errPrefix, what, runID, history.ErrStoreClosed)
		}
		return fmt.Errorf("%s%s: %w", errPrefix, what, history.ErrStoreClosed)
	}
	return nil
}

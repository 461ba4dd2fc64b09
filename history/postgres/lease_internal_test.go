package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history/postgres/pgtest"
)

// An owner paused inside a write transaction (here: a transaction that
// took the lease row's lock and then waits, while the owner renews its
// lease no more) does not keep a standby out: the server ends the idle
// transaction after a lease's TTL, the standby takes over once the lease
// has expired, and the paused owner's transaction cannot commit.
func TestPausedTransactionDoesNotBlockTakeover(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	const ttl = 300 * time.Millisecond
	a, err := Open(ctx, url, &Options{LeaseTTL: ttl, Owner: "paused"})
	require.NoError(t, err)
	t.Cleanup(a.pool.Close)
	// A paused process renews nothing.
	close(a.stopRenew)
	<-a.renewDone
	tx, err := a.pool.Begin(ctx)
	require.NoError(t, err)
	var epoch int64
	require.NoError(t, tx.QueryRow(ctx, `SELECT epoch FROM chorus_lease WHERE name = $1 FOR SHARE`, leaseName).Scan(&epoch))
	require.EqualValues(t, 1, epoch)

	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	b, err := Open(octx, url, &Options{Standby: true, LeaseTTL: ttl, Owner: "standby"})
	require.NoError(t, err, "the standby never took over from the paused owner")
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	require.EqualValues(t, 2, b.Epoch())
	require.Error(t, tx.Commit(ctx), "the paused owner's transaction was ended by the server")
}

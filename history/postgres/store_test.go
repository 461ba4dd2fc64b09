package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/history/historytest"
	"github.com/chorusdev/chorus/history/postgres"
	"github.com/chorusdev/chorus/history/postgres/pgtest"
)

// openStore opens a store on a fresh schema of CHORUS_POSTGRES_URL (or
// skips t without it).
func openStore(t *testing.T) history.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.URL(t), &postgres.Options{LeaseTTL: 5 * time.Second, MaxConns: 4})
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	pgtest.BaseURL(t)
	historytest.Run(t, openStore)
}

func TestAttrsConformance(t *testing.T) {
	pgtest.BaseURL(t)
	historytest.RunAttrs(t, openStore)
}

func TestPurgeConformance(t *testing.T) {
	pgtest.BaseURL(t)
	historytest.RunPurge(t, openStore)
}

func TestQueueConformance(t *testing.T) {
	pgtest.BaseURL(t)
	historytest.RunQueue(t, openStore)
}

func TestReuseConformance(t *testing.T) {
	pgtest.BaseURL(t)
	historytest.RunReuse(t, openStore)
}

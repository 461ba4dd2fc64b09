package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// driver is what every engine adapter implements. Each method is written
// against the engine's own public API; the workloads (workloads.go) only
// call these methods, so every engine runs the same shapes of work.
type driver interface {
	// Open opens (or creates) the engine's SQLite database at path and
	// registers every workflow and activity of the benchmark. It returns
	// once the engine accepts new work.
	Open(ctx context.Context, path string) error
	// Close stops the engine cleanly, keeping in-flight runs in the file.
	Close(ctx context.Context) error
	// Abandon leaves the process's engine as if the process were killed
	// (no shutdown); used where a clean shutdown would end parked runs.
	Abandon()

	// StartThree starts a run of the three-activity workflow and returns
	// once the engine acknowledged the start; wait blocks for its result.
	StartThree(ctx context.Context, id string, n int) (wait func() error, err error)
	// FanOut runs one workflow that runs n activities concurrently and
	// returns when its result is in.
	FanOut(ctx context.Context, id string, n int) error
	// StartParked starts a run that waits for the "wake" signal.
	StartParked(ctx context.Context, id string) error
	// WaitParked waits until the n runs started with StartParked are
	// durably waiting for their signal (at once where StartParked already
	// implies it), or until deadline; it returns how many are parked.
	WaitParked(ctx context.Context, n int, deadline time.Time) (int, error)
	// Wake signals a parked run and waits for its result.
	Wake(ctx context.Context, id string) error
	// WakeHistory does the same for the run BuildHistory made.
	WakeHistory(ctx context.Context, id string) error
	// BuildHistory runs a workflow that runs activities (in waves of 100
	// concurrent ones) and then waits for the "wake" signal; it returns once
	// the run waits, with the length of its journal as the engine counts it.
	BuildHistory(ctx context.Context, id string, activities int) (events int, err error)
	// Query asks a run for its progress (Chorus only; others return errNA).
	Query(ctx context.Context, id string) error
	// ReplayExport replays a run offline from its exported history
	// (Chorus's replay package only; others return errNA).
	// It returns the time replay took, without the export.
	ReplayExport(ctx context.Context, id string) (time.Duration, error)
}

// errNA marks a feature the engine does not have.
var errNA = fmt.Errorf("n/a")

// engineInfo describes one engine configuration of the table.
type engineInfo struct {
	Key     string // flag name of the configuration
	Family  string // -engines value that selects it
	Label   string // column header
	Sync    string // FULL or NORMAL
	Comment string
	New     func() driver
	// PG marks a configuration on PostgreSQL (CHORUS_POSTGRES_URL): it
	// runs W1 to W3 only.
	PG bool
}

var allEngines = []engineInfo{
	{Key: "chorus", Family: "chorus", Label: "Chorus FULL", Sync: "FULL",
		Comment: "chorus.Open, synchronous=FULL (its default)", New: func() driver { return &chorusDriver{} }},
	{Key: "chorus-normal", Family: "chorus", Label: "Chorus NORMAL", Sync: "NORMAL",
		Comment: "chorus.Options{Synchronous: NORMAL}", New: func() driver { return &chorusDriver{normal: true} }},
	{Key: "gow", Family: "gow", Label: "go-workflows", Sync: "FULL",
		Comment: "go-workflows v1.2.0 SQLite backend, default worker options (200 ms polling)", New: func() driver { return &gowDriver{} }},
	{Key: "gow-mono", Family: "gow", Label: "go-wf mono", Sync: "FULL",
		Comment: "same, wrapped in backend/monoprocess (in-process wake-ups)", New: func() driver { return &gowDriver{mono: true} }},
	{Key: "dbos", Family: "dbos", Label: "DBOS FULL", Sync: "FULL",
		Comment: "DBOS Transact Go v1.8.0, SQLite system DB, its pool settings with synchronous=FULL", New: func() driver { return &dbosDriver{full: true} }},
	{Key: "dbos-normal", Family: "dbos", Label: "DBOS NORMAL", Sync: "NORMAL",
		Comment: "same through its own sqlite: URL, i.e. its default synchronous=NORMAL", New: func() driver { return &dbosDriver{} }},
	{Key: "chorus-pg", Family: "pg", Label: "Chorus PG", Sync: "PG", PG: true,
		Comment: "history/postgres (pgx) on CHORUS_POSTGRES_URL's server, a new database per measurement, chorus.OpenStore", New: func() driver { return &chorusDriver{pg: true} }},
	{Key: "dbos-pg", Family: "pg", Label: "DBOS PG", Sync: "PG", PG: true,
		Comment: "DBOS Transact Go v1.8.0, its system database on the same PostgreSQL server, a new database per measurement", New: func() driver { return &dbosDriver{pg: true} }},
}

func engineByKey(k string) (engineInfo, bool) {
	for _, e := range allEngines {
		if e.Key == k {
			return e, true
		}
	}
	return engineInfo{}, false
}

// selectEngines expands the -engines flag: a family name (chorus, gow,
// dbos, pg) selects all its configurations, a configuration key just
// itself.
func selectEngines(flag string) ([]engineInfo, bool, error) {
	var out []engineInfo
	seen := map[string]bool{}
	raw := false
	for _, f := range strings.Split(flag, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if (f == "pg" || f == "chorus-pg" || f == "dbos-pg") && os.Getenv(postgresEnv) == "" {
			return nil, false, fmt.Errorf("engine %q runs on PostgreSQL: set %s to a postgres:// URL (.ci/postgres.sh shows how to start a server)", f, postgresEnv)
		}
		if f == "sqlite" || f == "raw" {
			raw = true
			continue
		}
		found := false
		for _, e := range allEngines {
			if e.Family == f || e.Key == f {
				found = true
				if !seen[e.Key] {
					seen[e.Key] = true
					out = append(out, e)
				}
			}
		}
		if !found {
			return nil, false, fmt.Errorf("unknown engine %q (want chorus, gow, dbos, sqlite or one of %s)", f, engineKeys())
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return engineIndex(out[i].Key) < engineIndex(out[j].Key) })
	return out, raw, nil
}

func engineIndex(k string) int {
	for i, e := range allEngines {
		if e.Key == k {
			return i
		}
	}
	return len(allEngines)
}

func engineKeys() string {
	var ks []string
	for _, e := range allEngines {
		ks = append(ks, e.Key)
	}
	return strings.Join(ks, ", ")
}

// Package killtest holds the cross-process durability test of the
// PostgreSQL store: engines in child processes share one database, the one
// that owns it is SIGKILLed (or paused) again and again, a standby takes
// over, and the test checks that no acknowledged run was lost and that no
// activity whose completion was journaled ran again. It has no code outside
// its tests; it needs CHORUS_POSTGRES_URL (see .ci/postgres.sh).
package killtest

// Package inspect derives what people read about runs from a store: a run's
// summary (status, input, outcome, what it waits for, children,
// compensations), its timeline, and list rows. The chorus command and the
// dashboard both print these documents, so `chorus runs show --json` and the
// dashboard's run JSON are the same.
package inspect

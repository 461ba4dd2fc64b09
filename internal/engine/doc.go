// Package engine is the runtime behind the chorus package: the registry, the
// per-run deterministic scheduler, replay against the journal, the group
// commit writer and the activity worker pool. Users never import it; the
// chorus, workflow and activity packages wrap it with typed APIs.
//
// # How a step flows
//
// Everything that happens to a run arrives as an input in its inbox (start,
// activity result, cancellation). One goroutine at a time drains a run's
// inbox: it loads the run if it is not cached (replaying the journal), applies
// each input, runs the workflow code until every coroutine blocks, and hands
// the resulting batch (input events plus the commands the code issued) to the
// writer. The writer commits the batches of many runs in one transaction and
// only then are tasks dispatched and callers answered, so nothing is
// acknowledged before it is durable.
package engine

// Package remote runs activities in worker processes that reach the engine
// only by an outbound HTTP connection: hub and spoke.
//
// The hub is the process that has the engine open. [NewHub] takes the
// activities that run elsewhere, each bound to a queue by its
// activity.Options.Queue, and registers in the engine a stand-in for each:
// when workflow code calls one, the stand-in offers the task to workers
// instead of running it. The hub is an [http.Handler]; mount it on any
// server and path.
//
// A worker ([NewWorker]) runs anywhere that can open an HTTP connection to
// the hub: an on-premises agent behind a firewall, a machine in another
// region. It long-polls for the tasks of the queues it serves, runs the
// activity registered under the task's name, renews its lease on the task
// while it runs, relays the activity's heartbeats, and posts the result or
// the failure back. Workflow code does not change: it calls the activity
// as it would call a local one.
//
// # Authentication
//
// Every request carries a bearer token. The hub knows each worker's token
// ([WorkerToken]) and the queues that token may serve; tokens are compared
// in constant time. A request without a known token is refused with 401,
// one for a queue its token may not serve with 403. The token is a bearer
// credential: serve the hub over HTTPS wherever the network is not
// trusted.
//
// # Delivery
//
// Activities are at least once, here as everywhere in Chorus: hand the
// idempotency key (activity.Info.IdempotencyKey, which reaches the worker)
// to whatever the activity changes. A task handed to a worker is leased to
// it for [HubOptions].LeaseTimeout; the worker renews the lease while the
// activity runs. A worker that dies (or is cut off) stops renewing, and the
// task is offered again when its lease expires. When the hub's engine
// closes with tasks outstanding, the engine runs those attempts again when
// it reopens, and the new hub offers them again; an answer to a lease of
// the closed hub is refused with 409 and the worker drops it. An answer to
// a task that is no longer the worker's (its lease expired, the activity
// was canceled or timed out) is refused with 409; a repeated answer to the
// same lease (a retried POST) is acknowledged and ignored.
//
// # Limits
//
// Each task outstanding at a worker holds one of the engine's
// MaxConcurrentActivities slots on the hub (a parked goroutine, no CPU):
// bound a remote queue with chorus.Queue.Concurrency so that it cannot take
// them all. The activity's options (timeouts, retries, heartbeat timeout)
// are applied by the hub's engine as for a local activity; its queue is the
// one of the definition given to [NewHub] (a queue given to one call with
// workflow.WithActivityOptions does not reroute it). Heartbeat details and
// the previous attempt's details travel as JSON.
package remote

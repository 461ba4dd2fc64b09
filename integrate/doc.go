// Package integrate turns calls to other services' HTTP APIs into resilient
// Chorus activities, declared once:
//
//	var GetStock = integrate.HTTP[StockReq, Stock]("inventory.get-stock", "https://inventory.internal/stock",
//		&integrate.HTTPOptions[StockReq, Stock]{Timeout: 2 * time.Second})
//
//	stock, err := workflow.ExecuteActivity(ctx, GetStock, StockReq{SKU: "A-1"}).Get(ctx)
//
// Register the returned definition with the engine like any activity.
//
// # What a call does
//
// Each request has a timeout ([HTTPOptions].Timeout). A request that gets
// no answer (connection refused, reset, the timeout) or an answer of 408,
// 429 or 5xx is retried inside the activity attempt, up to
// [RetryOptions].MaxAttempts, after the wait the server asked for with
// Retry-After (seconds or an HTTP-date) or else an exponential backoff
// with jitter. Other 4xx answers are the caller's fault: the call fails at
// once with a [*StatusError] that the engine records as non-retryable, of
// type [TypeHTTPStatus], with the status and the start of the body.
//
// Every request carries the activity's idempotency key
// (activity.Info.IdempotencyKey, the same across retries, crashes and the
// fallback) in the Idempotency-Key header, so a server that honours it
// applies a repeated request once.
//
// # Breakers, limits and fallbacks
//
// Each endpoint has a circuit breaker ([Breaker]): after
// [BreakerOptions].FailureThreshold failures in a row (transport errors,
// 408 and 5xx, not 4xx or 429) it opens and refuses calls at once with a
// [*CircuitOpenError] ([ErrCircuitOpen], type [TypeCircuitOpen],
// non-retryable) for OpenTimeout, then lets trial calls through
// (half-open) that close it again if they succeed. A [Limiter] spaces
// requests on the client side so a partner's rate limit is never passed;
// share one between every call counting against the same quota. When the
// breaker is open, the limiter refuses, or the retries run out on an
// outage, the call goes to its FallbackEndpoint or Fallback function if it
// has one.
//
// # Routing on failures in workflow code
//
// The workflow gets a *workflow.ActivityError that unwraps to an
// *activity.Error of one of this package's Type constants; [StatusOf],
// [IsCircuitOpen] and [IsRateLimited] read it:
//
//	_, err := workflow.ExecuteActivity(ctx, Ship, req).Get(ctx)
//	if integrate.IsCircuitOpen(err) {
//		_, err = workflow.ExecuteActivity(ctx, ShipWithBackup, req).Get(ctx)
//	}
//
// # Metrics
//
// [Snapshot] returns the counters of every breaker, limiter and call of the
// process (the dashboard's Integrations page shows them, see
// ui.Options.Integrations); an [Observer] hears each decision as it is
// made, and package integrate/integrateotel is one that records them as
// OpenTelemetry metrics.
//
// # Beyond HTTP
//
// For gRPC, package integrate/grpccall (a module of its own, so that gRPC
// reaches only the programs that import it) is a unary client interceptor
// with the same timeouts, retries, idempotency key, breakers and limiters.
// [Breaker], [Limiter] and [ParseRetryAfter] are also usable on their own,
// around any client (a database, a message broker): Limiter.Wait before the
// call, Breaker.Allow around it.
//
// # Validation
//
// [HTTPOptions].Validator checks requests and responses; package
// integrate/openapi provides one for an OpenAPI 3 document, in its own
// package so that its dependency reaches only the programs that use it.
package integrate

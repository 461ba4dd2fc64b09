package workflow

// rootContext returns the context the workflow function is called with:
// c, with the values the engine's context propagators extract from the
// run's propagated header (see chorus.Options.ContextPropagators). A
// propagator that fails blocks the run with its error.
func rootContext(c *wfContext) Context {
	x := c.r.ExtractToWorkflow(c)
	ctx, ok := x.(Context)
	if !ok || ctx == nil {
		return c
	}
	return ctx
}

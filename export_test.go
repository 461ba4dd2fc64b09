package chorus

// SetOnWatch lets a test act once a caller waits for a run's outcome (see
// the engine's SetOnWatch).
func SetOnWatch(e *Engine, f func(id string, running bool)) { e.core.SetOnWatch(f) }

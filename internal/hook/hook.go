// Package hook lets Chorus's own packages (the test environment, the
// replayer) reach the engine behind a *chorus.Engine without widening the
// public API.
package hook

import "github.com/chorusdev/chorus/internal/engine"

// Core returns the engine behind a *chorus.Engine. The chorus package sets
// it in its init.
var Core func(e any) *engine.Engine

// PublicErr turns an error of the engine's own types into the matching
// type of the chorus package, which sets it in its init.
var PublicErr func(err error) error

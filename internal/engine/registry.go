package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/history"
)

// WorkflowSpec is what the engine needs of a workflow definition.
type WorkflowSpec interface {
	Name() string
	// Execute runs the workflow function in a coroutine of run r: it decodes
	// input, calls the function and encodes its result.
	Execute(r *Run, input []byte) ([]byte, error)
}

// ActivitySpec is what the engine needs of an activity definition.
type ActivitySpec interface {
	Name() string
	Invoke(ctx context.Context, codec history.Codec, input []byte) ([]byte, error)
	Options() *activity.Options
}

type registry struct {
	mu         sync.RWMutex
	workflows  map[string]WorkflowSpec
	activities map[string]ActivitySpec
}

func newRegistry() *registry {
	return &registry{workflows: map[string]WorkflowSpec{}, activities: map[string]ActivitySpec{}}
}

func (g *registry) addWorkflow(w WorkflowSpec) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.workflows[w.Name()]; ok {
		return fmt.Errorf("%w: workflow %q is registered already", ErrDuplicateRegistration, w.Name())
	}
	g.workflows[w.Name()] = w
	return nil
}

func (g *registry) addActivity(a ActivitySpec) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.activities[a.Name()]; ok {
		return fmt.Errorf("%w: activity %q is registered already", ErrDuplicateRegistration, a.Name())
	}
	if err := a.Options().Validate(); err != nil {
		return fmt.Errorf("chorus: register activity %q: %w", a.Name(), err)
	}
	g.activities[a.Name()] = a
	return nil
}

func (g *registry) workflow(name string) (WorkflowSpec, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	w, ok := g.workflows[name]
	return w, ok
}

func (g *registry) activity(name string) (ActivitySpec, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	a, ok := g.activities[name]
	return a, ok
}

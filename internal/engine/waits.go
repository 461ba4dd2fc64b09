package engine

import (
	"cmp"
	"slices"
)

// Unregistered is work of a run that waits for a workflow or activity name
// the engine has no registration for.
type Unregistered struct {
	Kind    string // "activity" or "workflow"
	Name    string // the name that is not registered
	Run     string // the run that waits
	Step    int64  // the step of Run that waits: the activity's, or the child's start
	Child   string // for a child whose workflow is missing: the child run to start
	Attempt int    // for an activity: the attempt that waits
}

// Unregistered returns the work that waits for a registration, of run id
// or, when id is "", of every run, ordered by run and step. An activity
// appears once the engine has tried to run it, a child once the engine has
// tried to start it.
func (e *Engine) Unregistered(id string) []Unregistered {
	var out []Unregistered
	e.mu.Lock()
	for name, ps := range e.parked {
		for _, p := range ps {
			// Only a child's start is parked before its run exists; other
			// inputs wait for the workflow of a run that exists, which the
			// run's own description reports.
			if p.in.kind == inStart && p.in.parent != "" && (id == "" || p.in.parent == id) {
				out = append(out, Unregistered{Kind: "workflow", Name: name, Run: p.in.parent, Step: p.in.parentStep, Child: p.run})
			}
		}
	}
	e.mu.Unlock()
	p := e.acts
	p.mu.Lock()
	for name, ts := range p.parked {
		for _, t := range ts {
			if id == "" || t.RunID == id {
				out = append(out, Unregistered{Kind: "activity", Name: name, Run: t.RunID, Step: t.Step, Attempt: t.Attempt})
			}
		}
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b Unregistered) int {
		return cmp.Or(cmp.Compare(a.Run, b.Run), cmp.Compare(a.Step, b.Step), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out
}

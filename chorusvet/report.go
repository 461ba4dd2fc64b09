package chorusvet

import (
	"fmt"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// This file holds what follows the walk of the package: propagating facts
// along calls, and reporting each finding with the call path from the
// workflow that reaches it.

// propagate computes which functions lead to a finding and exports that as
// a fact. Each round extends chains by one call, so a function gets the
// shortest chain there is.
func (c *checker) propagate() {
	for _, n := range c.order {
		for _, f := range n.finds {
			if !c.ignored(f.pos) {
				n.fact = &Nondeterministic{Op: f.op, Kind: f.kind, Why: f.why, At: c.where(f.pos)}
				break
			}
		}
	}
	for {
		var next []*node
		var facts []*Nondeterministic
		for _, n := range c.order {
			if n.fact != nil || n.ignored {
				continue
			}
			for _, e := range n.calls {
				if c.ignored(e.pos) {
					continue
				}
				if f := c.factOf(e.fn); f != nil {
					next = append(next, n)
					facts = append(facts, &Nondeterministic{
						Via: append([]string{funcName(e.fn)}, f.Via...),
						Op:  f.Op, Kind: f.Kind, Why: f.Why, At: f.At,
					})
					break
				}
			}
		}
		if len(next) == 0 {
			break
		}
		for i, n := range next {
			n.fact = facts[i]
		}
	}
	for _, n := range c.order {
		if n.obj != nil && n.fact != nil {
			c.pass.ExportObjectFact(n.obj, n.fact)
		}
	}
}

// factOf returns what is known of fn: computed here for this package's
// functions, imported for others.
func (c *checker) factOf(fn *types.Func) *Nondeterministic {
	if n, ok := c.funcs[fn]; ok {
		return n.fact
	}
	if fn.Pkg() == c.pass.Pkg {
		return nil
	}
	var f Nondeterministic
	if c.pass.ImportObjectFact(fn, &f) {
		return &f
	}
	return nil
}

func (c *checker) where(pos token.Pos) string {
	p := c.pass.Fset.Position(pos)
	return fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line)
}

// report walks from each workflow through this package's functions and
// reports every finding reachable, once, with the chain that reaches it.
func (c *checker) report() {
	for _, r := range c.roots {
		var start *node
		if r.lit != nil {
			start = c.lits[r.lit]
		} else if n, ok := c.funcs[r.fn]; ok {
			start = n
		} else {
			// A workflow function of another package.
			if f := c.factOf(r.fn); f != nil && !c.ignored(r.pos) {
				c.emit(r.pos, f.Kind, r.name, []string{"runs " + funcName(r.fn)}, f)
			}
			continue
		}
		c.reach(r.name, start)
	}
}

// reach reports what the workflow named wf reaches from start, breadth
// first so that each finding is reported with its shortest chain.
func (c *checker) reach(wf string, start *node) {
	type item struct {
		n     *node
		chain []string
	}
	seen := map[*node]bool{start: true}
	queue := []item{{start, nil}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if it.n.ignored {
			continue
		}
		for _, f := range it.n.finds {
			if c.ignored(f.pos) || c.reported[f.pos] {
				continue
			}
			c.reported[f.pos] = true
			c.pass.Report(analysis.Diagnostic{
				Pos:      f.pos,
				Category: f.kind,
				Message:  message(wf, append(prefixCalls(it.chain), f.op), f.why),
			})
		}
		for _, e := range it.n.calls {
			if c.ignored(e.pos) {
				continue
			}
			chain := append(append([]string(nil), it.chain...), funcName(e.fn))
			if n, ok := c.funcs[e.fn]; ok {
				if !seen[n] {
					seen[n] = true
					queue = append(queue, item{n, chain})
				}
				continue
			}
			if f := c.factOf(e.fn); f != nil {
				c.emit(e.pos, f.Kind, wf, prefixCalls(chain), f)
			}
		}
	}
}

// emit reports at pos a finding of another package, reached through the
// calls in lead and then f's chain.
func (c *checker) emit(pos token.Pos, kind, wf string, lead []string, f *Nondeterministic) {
	if c.reported[pos] {
		return
	}
	c.reported[pos] = true
	parts := append(append(lead, prefixCalls(f.Via)...), fmt.Sprintf("%s (%s)", f.Op, f.At))
	c.pass.Report(analysis.Diagnostic{Pos: pos, Category: kind, Message: message(wf, parts, f.Why)})
}

func message(wf string, parts []string, why string) string {
	return fmt.Sprintf("%s %s: %s", wf, strings.Join(parts, " which "), why)
}

func prefixCalls(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "calls " + n
	}
	return out
}

// Package chorusvet reports code that would make a Chorus workflow
// non-deterministic, before it runs.
//
// Workflow code is replayed: after a crash, or when a run is evicted from
// memory, the engine runs the workflow function again from the start and
// feeds it its journal, so the function must take the same path each time
// it sees the same inputs. [Analyzer] finds, in code reachable from a
// workflow function, what breaks that:
//
//   - wall-clock time: time.Now, Since, Until, Sleep, After, Tick, NewTimer,
//     NewTicker, AfterFunc (use workflow.Now, workflow.Sleep,
//     workflow.NewTimer);
//   - go statements (use workflow.Go);
//   - Go channels: make(chan), send, receive, close, range over a channel,
//     and select (use workflow.NewChannel and workflow.NewSelector);
//   - range over a map, or over maps.Keys, maps.Values or maps.All, whose
//     order changes from run to run. Two kinds of loop are accepted, as
//     their result does not depend on the order: one that only appends the
//     keys to a slice which a later statement of the same block sorts, and
//     one that only counts or sums into integers and stores into maps under
//     the range's key (with pure expressions, possibly under an if);
//   - math/rand and math/rand/v2's package-level functions, all of
//     crypto/rand, and github.com/google/uuid's generators (use
//     workflow.NewRandom, workflow.NewUUID or workflow.SideEffect);
//   - file, network and OS access: os, os/exec, net, net/http, io/ioutil,
//     syscall, database/sql and the like (do it in an activity);
//   - writes to package-level variables, which every run and replay share.
//
// # Which code is workflow code
//
// A workflow function is the function passed to workflow.New. Workflow code
// is that function and every function it can reach through static calls or
// references: functions and methods of concrete types, in its own package
// and in other packages of the module being checked (each function's
// finding crosses packages as an analysis fact). Calls through interfaces
// and function values cannot be resolved and are trusted, as are the Chorus
// packages themselves and packages of versioned dependencies. A helper is
// reported only if a forbidden operation is actually reachable from a
// workflow, so a pure helper is never reported, whatever package it lives
// in.
//
// Escape hatches that exist to run non-deterministic code are exempt: the
// function given to workflow.SideEffect (or workflow.MutableSideEffect), a
// query handler given to workflow.SetQueryHandler, and activities
// (activity.New). A function given to workflow.Go, a selector callback or a
// workflow.Await condition is workflow code.
//
// # Findings
//
// A finding in the package being checked is reported where it is, with the
// chain of calls from the workflow:
//
//	place-order calls shop.fmtTotal which calls time.Now: wall-clock time in workflow code; use workflow.Now
//
// A finding in another package is reported at the call that leads to it,
// naming the chain and where the operation is:
//
//	place-order calls helper.Stamp which calls time.Now (stamp.go:9): wall-clock time in workflow code; use workflow.Now
//
// # Ignoring a finding
//
// A comment
//
//	//chorusvet:ignore <reason>
//
// at the end of a line, or alone on the line before it, accepts the
// findings on that line (a call that leads to another package's finding
// included). In a function declaration's doc comment it accepts the whole
// function: it is trusted as deterministic. The reason is required: an
// ignore comment without one is itself reported and has no effect.
//
// # Limits
//
// Writes through a pointer or a method (a global's Add method, a pointer
// copied into a local) are not followed; neither are calls into versioned
// dependencies, apart from the uuid generators named above.
// Printing and workflow.Logger are allowed: they do not change the path a
// replay takes. A map range whose body is order-independent in another way
// than the two above (a float sum, a maximum, a call) is still reported;
// sort the keys, or ignore it with a reason.
package chorusvet

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Analyzer reports non-deterministic code reachable from Chorus workflow
// functions. Use it with go vet (cmd/chorusvet), or from any driver of
// golang.org/x/tools/go/analysis, golangci-lint's plugins included.
var Analyzer = &analysis.Analyzer{
	Name:      "chorusvet",
	Doc:       "report non-deterministic code reachable from Chorus workflow functions\n\nSee https://pkg.go.dev/github.com/chorusdev/chorus/chorusvet for what is reported and how to accept a finding with //chorusvet:ignore <reason>.",
	URL:       "https://pkg.go.dev/github.com/chorusdev/chorus/chorusvet",
	Run:       run,
	FactTypes: []analysis.Fact{new(Nondeterministic)},
}

// Nondeterministic is the fact exported for a function from which a
// forbidden operation is reachable; calls from other packages read it.
type Nondeterministic struct {
	Via  []string // the functions called on the way, outermost first
	Op   string   // what was found, e.g. "calls time.Now"
	Kind string   // the kind of finding, e.g. "wall-clock"
	Why  string   // the explanation and what to use instead
	At   string   // where the operation is, file:line
}

// AFact marks Nondeterministic as an analysis fact.
func (*Nondeterministic) AFact() {}

func (f *Nondeterministic) String() string {
	return strings.Join(append(prefixCalls(f.Via), f.Op), " which ")
}

const (
	module      = "github.com/chorusdev/chorus"
	workflowPkg = module + "/workflow"
	activityPkg = module + "/activity"
	ignoreTag   = "//chorusvet:ignore"
	uuidPkg     = "github.com/google/uuid"
)

// isLibrary reports whether path is one of Chorus's own packages, trusted
// to be deterministic where it should be. The examples are user code.
func isLibrary(path string) bool {
	if path == module {
		return true
	}
	rest, ok := strings.CutPrefix(path, module+"/")
	return ok && rest != "examples" && !strings.HasPrefix(rest, "examples/")
}

// exempt lists the calls whose function arguments are not workflow code.
var exempt = map[string]bool{
	workflowPkg + ".SideEffect":        true,
	workflowPkg + ".MutableSideEffect": true,
	workflowPkg + ".SetQueryHandler":   true,
	activityPkg + ".New":               true,
}

func run(pass *analysis.Pass) (any, error) {
	path := pass.Pkg.Path()
	if isStd(path) || isLibrary(path) {
		return nil, nil
	}
	// A versioned dependency is someone else's code: neither its findings
	// nor its facts are ours to report.
	if pass.Module != nil && pass.Module.Version != "" {
		return nil, nil
	}
	c := &checker{
		pass:     pass,
		funcs:    map[*types.Func]*node{},
		lits:     map[*ast.FuncLit]*node{},
		skip:     map[ast.Node]bool{},
		ignores:  map[string]map[int]bool{},
		sorted:   map[*ast.RangeStmt]bool{},
		reported: map[token.Pos]bool{},
		quiet:    map[ast.Node]bool{},
		sources:  map[string][]byte{},
	}
	c.readIgnores()
	c.findRoots()
	c.build()
	c.propagate()
	c.report()
	return nil, nil
}

// A node is a function of the package being checked: a declared function
// or method, or the function literal given to workflow.New.
type node struct {
	name    string
	obj     *types.Func // nil for a literal
	body    *ast.BlockStmt
	ignored bool // a reasoned ignore in its doc comment
	finds   []finding
	calls   []edge
	fact    *Nondeterministic
}

type finding struct {
	pos  token.Pos
	op   string
	kind string
	why  string
}

type edge struct {
	pos token.Pos
	fn  *types.Func
}

type root struct {
	name string    // the workflow's name
	pos  token.Pos // where it is registered
	lit  *ast.FuncLit
	fn   *types.Func
}

type checker struct {
	pass     *analysis.Pass
	funcs    map[*types.Func]*node
	lits     map[*ast.FuncLit]*node
	order    []*node
	roots    []root
	skip     map[ast.Node]bool       // arguments that are not workflow code here
	ignores  map[string]map[int]bool // file -> lines a reasoned ignore covers
	sorted   map[*ast.RangeStmt]bool // map ranges that only collect keys to sort
	reported map[token.Pos]bool
	quiet    map[ast.Node]bool // channel operations a reported select holds
	sources  map[string][]byte
}

// findRoots finds the workflow functions and the arguments of exempt calls.
func (c *checker) findRoots() {
	for _, f := range c.pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn := callee(c.pass.TypesInfo, call)
			if fn == nil || fn.Pkg() == nil {
				return true
			}
			key := fn.Pkg().Path() + "." + fn.Name()
			switch {
			case key == workflowPkg+".New" && len(call.Args) == 2:
				c.addRoot(call)
			case exempt[key]:
				for _, a := range call.Args {
					c.skipFunc(a)
				}
			}
			return true
		})
	}
}

func (c *checker) addRoot(call *ast.CallExpr) {
	r := root{pos: call.Pos(), name: types.ExprString(call.Args[0])}
	if tv, ok := c.pass.TypesInfo.Types[call.Args[0]]; ok && tv.Value != nil {
		r.name = strings.Trim(tv.Value.ExactString(), `"`)
	}
	switch a := ast.Unparen(call.Args[1]).(type) {
	case *ast.FuncLit:
		r.lit = a
	default:
		if id := funcIdent(a); id != nil {
			r.fn, _ = c.pass.TypesInfo.Uses[id].(*types.Func)
		}
	}
	if r.lit == nil && r.fn == nil {
		return // a function value: cannot be followed
	}
	if r.fn != nil {
		r.fn = r.fn.Origin()
	}
	c.skipFunc(call.Args[1])
	c.roots = append(c.roots, r)
}

// skipFunc marks a function argument as not part of the code around it.
func (c *checker) skipFunc(e ast.Expr) {
	e = ast.Unparen(e)
	if lit, ok := e.(*ast.FuncLit); ok {
		c.skip[lit] = true
		return
	}
	if id := funcIdent(e); id != nil {
		c.skip[id] = true
	}
}

// build collects each function's findings and calls.
func (c *checker) build() {
	for _, f := range c.pass.Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			obj, _ := c.pass.TypesInfo.Defs[fd.Name].(*types.Func)
			if obj == nil {
				continue
			}
			n := &node{name: funcName(obj), obj: obj, body: fd.Body, ignored: c.docIgnores(fd.Doc)}
			c.funcs[obj] = n
			c.order = append(c.order, n)
		}
	}
	for _, r := range c.roots {
		if r.lit != nil {
			n := &node{name: r.name, body: r.lit.Body}
			c.lits[r.lit] = n
			c.order = append(c.order, n)
		}
	}
	for _, n := range c.order {
		if !n.ignored {
			c.walk(n)
		}
	}
}

// walk records what n's body does. Function literals inside it belong to
// it (a closure defined in workflow code runs as workflow code), except
// those given to workflow.New or to an exempt call.
func (c *checker) walk(n *node) {
	info := c.pass.TypesInfo
	add := func(pos token.Pos, kind, op, why string) {
		n.finds = append(n.finds, finding{pos: pos, op: op, kind: kind, why: why})
	}
	ast.Inspect(n.body, func(x ast.Node) bool {
		if c.skip[x] {
			return false
		}
		switch x := x.(type) {
		case *ast.BlockStmt:
			c.markSortedKeys(x.List)
		case *ast.CaseClause:
			c.markSortedKeys(x.Body)
		case *ast.CommClause:
			c.markSortedKeys(x.Body)
		case *ast.GoStmt:
			add(x.Pos(), kindGo, "starts a goroutine (go statement)",
				"goroutines run outside the engine's scheduling and replay; use workflow.Go")
		case *ast.SelectStmt:
			add(x.Pos(), kindChannel, "uses select",
				"select on Go channels in workflow code; use workflow.NewSelector")
			// The select is the finding; its cases' sends and receives
			// would only repeat it.
			for _, cl := range x.Body.List {
				if cc, ok := cl.(*ast.CommClause); ok && cc.Comm != nil {
					ast.Inspect(cc.Comm, func(y ast.Node) bool {
						if u, ok := y.(*ast.UnaryExpr); ok && u.Op == token.ARROW {
							c.quiet[u] = true
						} else if s, ok := y.(*ast.SendStmt); ok {
							c.quiet[s] = true
						}
						return true
					})
				}
			}
		case *ast.SendStmt:
			if c.quiet[x] {
				break
			}
			add(x.Pos(), kindChannel, "sends on a Go channel", chanWhy)
		case *ast.UnaryExpr:
			if x.Op == token.ARROW && !c.quiet[x] {
				add(x.Pos(), kindChannel, "receives from a Go channel", chanWhy)
			}
		case *ast.RangeStmt:
			c.rangeStmt(x, add)
		case *ast.AssignStmt:
			if x.Tok != token.DEFINE {
				for _, l := range x.Lhs {
					c.globalWrite(l, add)
				}
			}
		case *ast.IncDecStmt:
			c.globalWrite(x.X, add)
		case *ast.CallExpr:
			c.builtinCall(x, add)
		case *ast.SelectorExpr:
			// A qualified identifier is reported at its start.
			if _, isPkg := info.Uses[identOf(x.X)].(*types.PkgName); isPkg {
				c.use(n, x.Sel, x.Pos(), add)
				return false
			}
		case *ast.Ident:
			c.use(n, x, x.Pos(), add)
		}
		return true
	})
}

const chanWhy = "Go channels in workflow code block outside the engine's control; use workflow.NewChannel"

// use handles a reference to a function or variable: a forbidden function
// of the standard library, or a function that may lead to one.
func (c *checker) use(n *node, id *ast.Ident, pos token.Pos, add func(token.Pos, string, string, string)) {
	if c.skip[id] {
		return
	}
	switch obj := c.pass.TypesInfo.Uses[id].(type) {
	case *types.Func:
		fn := obj.Origin()
		if fn.Pkg() == nil {
			return
		}
		if isStd(fn.Pkg().Path()) || fn.Pkg().Path() == uuidPkg {
			if r, ok := knownRule(fn); ok {
				add(pos, r.kind, "calls "+funcName(fn), r.why)
			}
			return
		}
		if isInterfaceMethod(fn) {
			return
		}
		n.calls = append(n.calls, edge{pos: pos, fn: fn})
	case *types.Var:
		if obj.Pkg() != nil && obj.Pkg().Path() == "crypto/rand" && obj.Name() == "Reader" {
			add(pos, kindRandom, "reads crypto/rand.Reader",
				"random bytes in workflow code differ on replay; use workflow.NewUUID, workflow.SideEffect or an activity")
		}
	}
}

func (c *checker) builtinCall(call *ast.CallExpr, add func(token.Pos, string, string, string)) {
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok || len(call.Args) == 0 {
		return
	}
	if _, ok := c.pass.TypesInfo.Uses[id].(*types.Builtin); !ok {
		return
	}
	switch id.Name {
	case "make":
		if isChan(c.pass.TypesInfo.TypeOf(call.Args[0])) {
			add(call.Pos(), kindChannel, "makes a Go channel", chanWhy)
		}
	case "close":
		if isChan(c.pass.TypesInfo.TypeOf(call.Args[0])) {
			add(call.Pos(), kindChannel, "closes a Go channel", chanWhy)
		}
	case "delete", "clear":
		c.globalWrite(call.Args[0], add)
	}
}

// globalWrite reports an assignment whose target lives in a package-level
// variable: the variable itself, a field, an element, or what it points to.
func (c *checker) globalWrite(e ast.Expr, add func(token.Pos, string, string, string)) {
	info := c.pass.TypesInfo
	target := e
	for {
		switch x := target.(type) {
		case *ast.ParenExpr:
			target = x.X
			continue
		case *ast.SelectorExpr:
			if _, ok := info.Selections[x]; ok {
				target = x.X
			} else {
				target = x.Sel // a qualified identifier
			}
			continue
		case *ast.IndexExpr:
			target = x.X
			continue
		case *ast.StarExpr:
			target = x.X
			continue
		case *ast.Ident:
			v, ok := info.Uses[x].(*types.Var)
			if !ok || v.IsField() || v.Pkg() == nil || v.Parent() != v.Pkg().Scope() {
				return
			}
			name := v.Name()
			if v.Pkg() != c.pass.Pkg {
				name = v.Pkg().Name() + "." + name
			}
			add(e.Pos(), kindGlobal, "writes package-level variable "+name,
				"a package-level variable is shared by every run and is not restored on replay; keep workflow state in local variables")
		}
		return
	}
}

// callee returns the function or method a call statically calls, or nil.
func callee(info *types.Info, call *ast.CallExpr) *types.Func {
	id := funcIdent(call.Fun)
	if id == nil {
		return nil
	}
	fn, _ := info.Uses[id].(*types.Func)
	if fn == nil {
		return nil
	}
	return fn.Origin()
}

// funcIdent returns the identifier naming a function in e (f, pkg.f,
// x.Method, f[T]), or nil.
func funcIdent(e ast.Expr) *ast.Ident {
	switch x := ast.Unparen(e).(type) {
	case *ast.Ident:
		return x
	case *ast.SelectorExpr:
		return x.Sel
	case *ast.IndexExpr:
		return funcIdent(x.X)
	case *ast.IndexListExpr:
		return funcIdent(x.X)
	}
	return nil
}

// identOf returns e if it is an identifier, or nil.
func identOf(e ast.Expr) *ast.Ident {
	id, _ := ast.Unparen(e).(*ast.Ident)
	return id
}

func isChan(t types.Type) bool {
	if t == nil {
		return false
	}
	_, ok := t.Underlying().(*types.Chan)
	return ok
}

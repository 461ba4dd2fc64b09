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
	"bytes"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
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

// readIgnores records the lines covered by reasoned ignore comments and
// reports those without a reason.
func (c *checker) readIgnores() {
	for _, f := range c.pass.Files {
		for _, g := range f.Comments {
			for _, cm := range g.List {
				reason, ok := ignoreReason(cm)
				if !ok {
					continue
				}
				if reason == "" {
					c.pass.Report(analysis.Diagnostic{
						Pos:      cm.Pos(),
						Category: kindIgnore,
						Message:  "chorusvet:ignore needs a reason: write //chorusvet:ignore <why this is deterministic>",
					})
					continue
				}
				p := c.pass.Fset.PositionFor(cm.Pos(), false) // the file as written: its bytes are read
				lines := c.ignores[p.Filename]
				if lines == nil {
					lines = map[int]bool{}
					c.ignores[p.Filename] = lines
				}
				line := p.Line
				if c.aloneOnLine(p) {
					line++ // it speaks of the next line
				}
				lines[line] = true
			}
		}
	}
}

// ignoreReason returns the reason of an ignore comment, and false if cm is
// not one.
func ignoreReason(cm *ast.Comment) (string, bool) {
	rest, ok := strings.CutPrefix(cm.Text, ignoreTag)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// aloneOnLine reports whether only blanks precede the comment at p on its
// line.
func (c *checker) aloneOnLine(p token.Position) bool {
	src, ok := c.sources[p.Filename]
	if !ok {
		read := c.pass.ReadFile
		if read == nil {
			read = os.ReadFile
		}
		src, _ = read(p.Filename) // unreadable: taken as a trailing comment
		c.sources[p.Filename] = src
	}
	if p.Offset > len(src) {
		return false
	}
	start := bytes.LastIndexByte(src[:p.Offset], '\n') + 1
	return len(bytes.TrimSpace(src[start:p.Offset])) == 0
}

// ignored reports whether a reasoned ignore covers pos: at the end of its
// line, or alone on the line before.
func (c *checker) ignored(pos token.Pos) bool {
	p := c.pass.Fset.PositionFor(pos, false)
	return c.ignores[p.Filename][p.Line]
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

func (c *checker) docIgnores(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	for _, cm := range doc.List {
		if reason, ok := ignoreReason(cm); ok && reason != "" {
			return true
		}
	}
	return false
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

func (c *checker) rangeStmt(r *ast.RangeStmt, add func(token.Pos, string, string, string)) {
	t := c.pass.TypesInfo.TypeOf(r.X)
	if t == nil {
		return
	}
	switch t.Underlying().(type) {
	case *types.Chan:
		add(r.Pos(), kindChannel, "ranges over a Go channel", chanWhy)
	case *types.Map:
		if !c.sorted[r] && !orderFree(c.pass.TypesInfo, r) {
			add(r.Pos(), kindMap, "ranges over a map", mapWhy)
		}
	case *types.Signature:
		// An iterator over a map from the maps package.
		if call, ok := ast.Unparen(r.X).(*ast.CallExpr); ok {
			if fn := callee(c.pass.TypesInfo, call); fn != nil && fn.Pkg() != nil && fn.Pkg().Path() == "maps" {
				switch fn.Name() {
				case "Keys", "Values", "All":
					add(r.Pos(), kindMap, "ranges over maps."+fn.Name(), mapWhy)
				}
			}
		}
	}
}

const mapWhy = "map iteration order is random, so the workflow can take another path on replay; sort the keys first (slices.Sorted(maps.Keys(m)))"

// markSortedKeys marks the map ranges in stmts that only append the map's
// keys to a slice that a later statement of the same block sorts.
func (c *checker) markSortedKeys(stmts []ast.Stmt) {
	info := c.pass.TypesInfo
	for i, s := range stmts {
		r, ok := s.(*ast.RangeStmt)
		if !ok || r.Key == nil || len(r.Body.List) != 1 {
			continue
		}
		if t := info.TypeOf(r.X); t == nil {
			continue
		} else if _, ok := t.Underlying().(*types.Map); !ok {
			continue
		}
		if v, ok := r.Value.(*ast.Ident); r.Value != nil && (!ok || v.Name != "_") {
			continue
		}
		key := info.ObjectOf(identOf(r.Key))
		slice := appendedTo(info, r.Body.List[0], key)
		if slice == nil {
			continue
		}
		for _, later := range stmts[i+1:] {
			if sortsSlice(info, later, slice) {
				c.sorted[r] = true
				break
			}
		}
	}
}

// appendedTo returns the variable s of a statement "s = append(s, key)".
func appendedTo(info *types.Info, st ast.Stmt, key types.Object) types.Object {
	as, ok := st.(*ast.AssignStmt)
	if !ok || key == nil || as.Tok != token.ASSIGN || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
		return nil
	}
	lhs := info.ObjectOf(identOf(as.Lhs[0]))
	call, ok := ast.Unparen(as.Rhs[0]).(*ast.CallExpr)
	if !ok || lhs == nil || len(call.Args) != 2 || call.Ellipsis.IsValid() {
		return nil
	}
	if id, ok := ast.Unparen(call.Fun).(*ast.Ident); !ok || id.Name != "append" {
		return nil
	} else if _, ok := info.Uses[id].(*types.Builtin); !ok {
		return nil
	}
	if info.ObjectOf(identOf(call.Args[0])) != lhs || info.ObjectOf(identOf(call.Args[1])) != key {
		return nil
	}
	return lhs
}

// orderFree reports whether the body of a map range gives the same result
// in any order: it only counts or sums into integers, and stores into maps
// under the range's key, with pure expressions, under pure conditions.
func orderFree(info *types.Info, r *ast.RangeStmt) bool {
	key := info.ObjectOf(identOf(r.Key))
	var ok func(stmts []ast.Stmt) bool
	ok = func(stmts []ast.Stmt) bool {
		for _, st := range stmts {
			switch st := st.(type) {
			case *ast.IncDecStmt:
				if !isInteger(info.TypeOf(st.X)) || !pure(info, st.X) {
					return false
				}
			case *ast.AssignStmt:
				if len(st.Lhs) != 1 || len(st.Rhs) != 1 || !pure(info, st.Rhs[0]) {
					return false
				}
				switch st.Tok {
				case token.ADD_ASSIGN, token.SUB_ASSIGN, token.OR_ASSIGN, token.AND_ASSIGN, token.XOR_ASSIGN:
					// Integer arithmetic commutes; float and string sums do not.
					if !isInteger(info.TypeOf(st.Lhs[0])) || !pure(info, st.Lhs[0]) {
						return false
					}
				case token.ASSIGN:
					// Each key is stored once, so the order of stores does not matter.
					ix, isIndex := ast.Unparen(st.Lhs[0]).(*ast.IndexExpr)
					if !isIndex || key == nil || info.ObjectOf(identOf(ix.Index)) != key || !pure(info, ix.X) {
						return false
					}
					if t := info.TypeOf(ix.X); t == nil {
						return false
					} else if _, isMap := t.Underlying().(*types.Map); !isMap {
						return false
					}
				default:
					return false
				}
			case *ast.IfStmt:
				if st.Init != nil || !pure(info, st.Cond) || !ok(st.Body.List) {
					return false
				}
				if st.Else != nil {
					els, isBlock := st.Else.(*ast.BlockStmt)
					if !isBlock || !ok(els.List) {
						return false
					}
				}
			default:
				return false
			}
		}
		return true
	}
	return ok(r.Body.List)
}

// pure reports whether evaluating e has no effect and depends on nothing
// but its operands: no calls other than conversions and len, cap, min and
// max, and no channel receive.
func pure(info *types.Info, e ast.Expr) bool {
	clean := true
	ast.Inspect(e, func(x ast.Node) bool {
		switch x := x.(type) {
		case *ast.CallExpr:
			if tv, ok := info.Types[x.Fun]; ok && tv.IsType() {
				return clean // a conversion
			}
			if id, ok := ast.Unparen(x.Fun).(*ast.Ident); ok {
				if _, builtin := info.Uses[id].(*types.Builtin); builtin {
					switch id.Name {
					case "len", "cap", "min", "max":
						return clean
					}
				}
			}
			clean = false
		case *ast.UnaryExpr:
			if x.Op == token.ARROW {
				clean = false
			}
		case *ast.FuncLit:
			clean = false
		}
		return clean
	})
	return clean
}

func isInteger(t types.Type) bool {
	if t == nil {
		return false
	}
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsInteger != 0
}

// sortFuncs are the functions that sort the slice given as first argument.
var sortFuncs = set("sort.Strings", "sort.Ints", "sort.Float64s", "sort.Slice", "sort.SliceStable",
	"slices.Sort", "slices.SortFunc", "slices.SortStableFunc")

// sortsSlice reports whether st contains a call sorting the slice s.
func sortsSlice(info *types.Info, st ast.Stmt, s types.Object) bool {
	found := false
	ast.Inspect(st, func(x ast.Node) bool {
		call, ok := x.(*ast.CallExpr)
		if !ok || found || len(call.Args) == 0 {
			return !found
		}
		fn := callee(info, call)
		if fn != nil && fn.Pkg() != nil && sortFuncs[fn.Pkg().Path()+"."+fn.Name()] &&
			info.ObjectOf(identOf(call.Args[0])) == s {
			found = true
		}
		return !found
	})
	return found
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

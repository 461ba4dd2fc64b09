package chorusvet

import (
	"go/ast"
	"go/token"
	"go/types"
)

// This file holds the checks of range statements: ranging over a map is
// reported unless the loop's result does not depend on the order (its keys
// are appended to a slice that is then sorted, or the body only counts or
// sums integers and stores under the range's key).

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

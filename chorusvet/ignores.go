package chorusvet

import (
	"bytes"
	"go/ast"
	"go/token"
	"os"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// This file holds the ignore comments: //chorusvet:ignore with a reason
// accepts the findings of one line (of a whole function, in its doc
// comment); one without a reason is itself reported.

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

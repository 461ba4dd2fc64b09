// Command chorusvet reports non-deterministic code reachable from Chorus
// workflow functions: wall-clock time, goroutines, Go channels and select,
// map iteration, random numbers, I/O and writes to package-level variables.
// See package github.com/chorusdev/chorus/chorusvet for the rules.
//
// Run it on its own, or as a go vet tool:
//
//	chorusvet ./...
//	go vet -vettool=$(which chorusvet) ./...
//
// A finding is accepted with a comment "//chorusvet:ignore <reason>" on its
// line or the line before, or in the doc comment of the function.
package main

import (
	"golang.org/x/tools/go/analysis/singlechecker"

	"github.com/chorusdev/chorus/chorusvet"
)

func main() { singlechecker.Main(chorusvet.Analyzer) }

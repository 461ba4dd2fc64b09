//go:build chorus_nochain

package sqlite

// chainOn is false in this build: see chain_on.go.
const chainOn = false

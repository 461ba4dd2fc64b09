//go:build !chorus_nochain

package sqlite

// chainOn is false only in a build with the chorus_nochain tag, which
// exists to measure what the hash chain costs (BENCHMARKS.md): such a
// build writes no chain hashes and its files do not verify. Never ship it.
const chainOn = true

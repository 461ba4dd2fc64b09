//go:build !(amd64 || arm64) || purego

package engine

// curg identifies the calling goroutine by its number, read from the
// header of its stack trace: slower than the assembly version for amd64
// and arm64, with the same meaning.
func curg() uintptr { return uintptr(goid()) }

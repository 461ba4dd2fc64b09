//go:build (amd64 || arm64) && !purego

package engine

// curg identifies the calling goroutine: the address of its runtime
// descriptor, which no other live goroutine shares. It costs a register
// read, so the workflow API can check its caller on every call.
func curg() uintptr

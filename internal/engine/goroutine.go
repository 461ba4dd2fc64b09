package engine

import (
	"bytes"
	"runtime"
	"strconv"
)

// goid returns the calling goroutine's number, as stack traces show it.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	n, _ := strconv.ParseUint(string(b), 10, 64)
	return n
}

// goroutineStack returns the stack trace of goroutine id, or "" if it is
// gone. It stops the world to read every goroutine's stack, so it is only
// for rare diagnostics.
func goroutineStack(id uint64) string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	head := []byte("goroutine " + strconv.FormatUint(id, 10) + " [")
	for _, tr := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.HasPrefix(tr, head) {
			return string(tr)
		}
	}
	return ""
}

package chorus_test

import "runtime"

func runtimeGosched() { runtime.Gosched() }

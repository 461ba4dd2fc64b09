package engine

import "testing"

// TestComputingStates pins which goroutine states the deadlock detector
// takes as blocked (abandoned at the first timeout) and which as possibly
// still making progress (given computeFactor timeouts): a goroutine held up
// by the garbage collector or preempted on a loaded machine must not be
// abandoned while it still runs workflow code.
func TestComputingStates(t *testing.T) {
	for state, want := range map[string]bool{
		"running":                 true,
		"runnable":                true,
		"preempted":               true,
		"GC assist wait":          true,
		"GC assist marking":       true,
		"copystack":               true,
		"chan receive":            false,
		"chan send (nil chan)":    false,
		"select":                  false,
		"select (no cases)":       false,
		"sleep":                   false,
		"IO wait":                 false,
		"sync.Mutex.Lock":         false,
		"sync.WaitGroup.Wait":     false,
		"semacquire":              false,
		"syscall":                 false,
		"chan receive, 2 minutes": false,
	} {
		stack := "goroutine 42 [" + state + "]:\nmain.f()\n"
		if got := computing(stack); got != want {
			t.Errorf("computing(%q) = %v, want %v", state, got, want)
		}
	}
	if computing("") {
		t.Error(`computing("") = true for a goroutine that is gone`)
	}
}

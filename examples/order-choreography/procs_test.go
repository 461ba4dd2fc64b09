package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary play a service process, as the example's
// binary does, when the supervisor of TestProcessesKilledMidFlow starts it.
func TestMain(m *testing.M) {
	if service := os.Getenv(envService); service != "" {
		if err := serve(service); err != nil {
			os.Stderr.WriteString(service + " service: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Each service in a process of its own, service processes SIGKILLed at
// random moments and started again: every order still ends once, as it
// should, and each service ran one workflow per event (checked from the
// databases by runProcs).
func TestProcessesKilledMidFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills service processes; skipped with -short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := runProcs(&b, procsConfig{Orders: 20, Kills: 4, Seed: 20261204, Exe: exe}); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	out := b.String()
	if !strings.Contains(out, "20 orders: 16 shipped, 4 cancelled with a refund; 0 problems") {
		t.Fatalf("summary missing:\n%s", out)
	}
	if n := strings.Count(out, "with SIGKILL"); n == 0 {
		t.Fatalf("no process was killed:\n%s", out)
	} else {
		t.Logf("%d kills", n)
	}
}

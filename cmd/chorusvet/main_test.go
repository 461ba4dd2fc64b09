package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVetTool runs the command the way go vet -vettool does, where each
// package is checked in its own process and findings cross packages only
// through the facts files go vet passes along.
func TestVetTool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs go vet")
	}
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	bin := filepath.Join(t.TempDir(), "chorusvet")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	gopath, err := filepath.Abs("../../chorusvet/testdata")
	if err != nil {
		t.Fatal(err)
	}
	vet := exec.Command(gobin, "vet", "-vettool="+bin, "example.com/shop")
	vet.Dir = gopath
	vet.Env = append(os.Environ(), "GOPATH="+gopath, "GO111MODULE=off", "GOFLAGS=")
	out, err := vet.CombinedOutput()
	if err == nil {
		t.Fatalf("go vet passed on bad workflow code:\n%s", out)
	}
	for _, want := range []string{
		"place-order calls time.Now: wall-clock time in workflow code; use workflow.Now",
		"place-order calls helper.Deep which calls helper.inner which calls os.Getenv (helper.go:25)",
		"remote runs helper.Workflow which calls time.Now (helper.go:57)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("go vet output lacks %q:\n%s", want, out)
		}
	}
}

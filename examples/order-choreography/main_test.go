package main

import (
	"strings"
	"testing"
)

func TestStory(t *testing.T) {
	var b strings.Builder
	if err := run(&b); err != nil {
		t.Fatalf("run: %v\n%s", err, b.String())
	}
	want := `orders:    A-1001 placed (espresso machine, 249.00)
billing:   charged 249.00 for A-1001
inventory: reserved 1 x espresso machine for A-1001
shipping:  label printed for A-1001
orders:    A-1001 shipped, tracking trk-A-1001
orders:    B-2002 placed (gold-plated kettle, 89.00)
billing:   charged 89.00 for B-2002
inventory: no gold-plated kettle left for B-2002
billing:   refunded 89.00 for B-2002
orders:    B-2002 cancelled, payment refunded (rfnd-B-2002)
done: four services, four databases, no direct call between them
`
	if got := b.String(); got != want {
		t.Fatalf("story:\n%s\nwant:\n%s", got, want)
	}
}

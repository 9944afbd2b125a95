package proxy

import "testing"

// TestLogGate: one line a second goes through; the next one let through
// reports how many were held back.
func TestLogGate(t *testing.T) {
	var g logGate
	if ok, n := g.allow(); !ok || n != 0 {
		t.Fatalf("first line: %v %d, want logged with none held back", ok, n)
	}
	for range 5 {
		if ok, _ := g.allow(); ok {
			t.Fatal("a line within the second was let through")
		}
	}
	g.next.Store(0) // the second has passed
	if ok, n := g.allow(); !ok || n != 5 {
		t.Fatalf("after the second: %v %d, want logged with 5 held back", ok, n)
	}
}

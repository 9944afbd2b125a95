package proxy

import "testing"

// TestCleanPath pins the review finding that //admin, /./admin and
// /x/../admin were matched as written, past a route for /admin, and then
// resolved to /admin by the origin.
func TestCleanPath(t *testing.T) {
	tests := []struct {
		in    string
		dirty bool
		want  string
	}{
		{"/", false, "/"},
		{"/admin/x", false, "/admin/x"},
		{"/a/b/", false, "/a/b/"},
		{"/.well-known/x", false, "/.well-known/x"},
		{"/a..b/c.", false, "/a..b/c."},
		{"//admin/x", true, "/admin/x"},
		{"/./admin/x", true, "/admin/x"},
		{"/x/../admin/x", true, "/admin/x"},
		{"/x/..", true, "/"},
		{"/x/.", true, "/x/"},
		{"/../../etc/passwd", true, "/etc/passwd"},
		{"/a//b///c/", true, "/a/b/c/"},
		{"relative", true, "/relative"},
		{"*", false, "*"},
	}
	for _, tt := range tests {
		if got := needsClean(tt.in); got != tt.dirty {
			t.Errorf("needsClean(%q) = %v, want %v", tt.in, got, tt.dirty)
		}
		if !tt.dirty {
			continue
		}
		if got := cleanPath(tt.in); got != tt.want {
			t.Errorf("cleanPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "//a", "/./a", "/a/../b", "/a/.", "/..", "x", "/a//b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !needsClean(p) {
			return
		}
		c := cleanPath(p)
		if needsClean(c) {
			t.Fatalf("cleanPath(%q) = %q is not clean", p, c)
		}
		if cleanPath(c) != c && c != "/" {
			t.Fatalf("cleanPath is not idempotent on %q: %q", c, cleanPath(c))
		}
	})
}

package cache

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestCanonicalQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a=1", "a=1"},
		{"b=2&a=1", "a=1&b=2"},
		{"a=1&&b=2", "a=1&b=2"},
		{"&a=1", "a=1"},
		{"a=1&", "a=1"},
		{"&", ""},
		{"&&&", ""},
		{"a=1&a=1", "a=1&a=1"},
		{"z&y&x", "x&y&z"},
		{"a=2&a=1", "a=1&a=2"},
	} {
		if got := CanonicalQuery(tc.in); got != tc.want {
			t.Errorf("CanonicalQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := isCanonicalQuery(tc.in); got != (tc.in == tc.want) {
			t.Errorf("isCanonicalQuery(%q) = %v, want %v", tc.in, got, tc.in == tc.want)
		}
	}
}

// bigQuery is 15,000 parameters in about 60 KB, in reverse order: the
// query of issue 16, which took 381 ms per insertion sort.
func bigQuery() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	ps := make([]string, 15000)
	for i := range ps {
		n := len(ps) - i
		ps[i] = string([]byte{alphabet[n/(62*62)], alphabet[n/62%62], alphabet[n%62]})
	}
	return strings.Join(ps, "&")
}

// TestCanonicalQueryLarge: the 60 KB query sorts like the standard
// library's sort, and its canonical form is recognised in place.
func TestCanonicalQueryLarge(t *testing.T) {
	q := bigQuery()
	if len(q) > 64<<10 {
		t.Fatalf("query of %d bytes; the test wants one under the header limit", len(q))
	}
	want := strings.Split(q, "&")
	slices.Sort(want)
	got := CanonicalQuery(q)
	if got != strings.Join(want, "&") {
		t.Fatal("the 15,000 parameters are not in byte order")
	}
	if !isCanonicalQuery(got) {
		t.Fatal("the canonical form is not recognised as canonical")
	}
}

// TestCanonicalQueryReused: the key computes the canonical query once and
// leaves it in the request, and computing it again on that form (the
// forwarded request, a second key) allocates nothing.
func TestCanonicalQueryReused(t *testing.T) {
	c, err := New(Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://a.example/p?"+bigQuery(), nil)
	var k reqKey
	c.newKey(&k, "t", "", r, querySorted)
	if r.URL.RawQuery != k.query || !isCanonicalQuery(r.URL.RawQuery) {
		t.Fatal("the request does not carry the canonical query the key used")
	}
	q := r.URL.RawQuery
	if n := testing.AllocsPerRun(10, func() { _ = CanonicalQuery(q) }); n != 0 {
		t.Errorf("CanonicalQuery of a canonical query allocates %v times", n)
	}
	if n := testing.AllocsPerRun(10, func() { c.newKey(&k, "t", "", r, querySorted) }); n != 0 {
		t.Errorf("a second key of the same request allocates %v times", n)
	}
}

func BenchmarkCanonicalQuery(b *testing.B) {
	q := bigQuery()
	sorted := CanonicalQuery(q)
	b.Run("60KB-unsorted", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(q)))
		for b.Loop() {
			CanonicalQuery(q)
		}
	})
	b.Run("60KB-canonical", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(sorted)))
		for b.Loop() {
			CanonicalQuery(sorted)
		}
	})
	b.Run("small", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			CanonicalQuery("z=1&b=2&a=3")
		}
	})
}

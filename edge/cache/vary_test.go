package cache

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// RFC 9111 §4.1: responses with Vary are stored per variant, keyed by the
// request's values of the named fields; Vary: * is never served.
func TestVary(t *testing.T) {
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding, accept-language")
		w.Write([]byte("enc=" + r.Header.Get("Accept-Encoding") + " lang=" + r.Header.Get("Accept-Language")))
	})
	steps := []struct {
		hdr  []string
		body string
		cs   string
	}{
		{[]string{"Accept-Encoding", "gzip"}, "enc=gzip lang=", "wedge; fwd=uri-miss; stored"},
		{[]string{"Accept-Encoding", "gzip"}, "enc=gzip lang=", "wedge; hit"},
		{[]string{"Accept-Encoding", "  gzip "}, "enc=gzip lang=", "wedge; hit"}, // trimmed
		{[]string{"Accept-Encoding", "br"}, "enc=br lang=", "wedge; fwd=vary-miss; stored"},
		{nil, "enc= lang=", "wedge; fwd=vary-miss; stored"},
		{[]string{"Accept-Encoding", "gzip", "Accept-Language", "fr"}, "enc=gzip lang=fr", "wedge; fwd=vary-miss; stored"},
		{[]string{"Accept-Encoding", "br"}, "enc=br lang=", "wedge; hit"},
		{nil, "enc= lang=", "wedge; hit"},
		{[]string{"Accept-Encoding", "gzip", "Accept-Language", "fr"}, "enc=gzip lang=fr", "wedge; hit"},
	}
	for i, s := range steps {
		r := e.get("/v", s.hdr...)
		if r.body != s.body || r.cs() != s.cs {
			t.Fatalf("step %d %q: %q %q, want %q %q", i, s.hdr, r.body, r.cs(), s.body, s.cs)
		}
	}
	if s := e.c.Stats(); s.Entries != 4 {
		t.Fatalf("%d entries, want 4 variants", s.Entries)
	}
	if n := e.c.PurgeURL("acme", "http", e.front.Listener.Addr().String(), "/v"); n != 4 {
		t.Fatalf("purge removed %d, want 4", n)
	}
	if s := e.c.Stats(); s.Entries != 0 || s.Bytes != 0 {
		t.Fatalf("after purge: %+v", s)
	}
}

// A new response with other Vary names replaces the variants.
func TestVaryNamesChange(t *testing.T) {
	vary := "Accept-Encoding"
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", vary)
		w.Write([]byte(vary))
	})
	e.get("/v", "Accept-Encoding", "gzip")
	e.get("/v", "Accept-Encoding", "br")
	vary = "Origin"
	e.get("/v", "Accept-Encoding", "zstd") // a vary-miss: stored with the new names
	if s := e.c.Stats(); s.Entries != 1 {
		t.Fatalf("%d entries, want 1", s.Entries)
	}
	if r := e.get("/v", "Accept-Encoding", "gzip"); !isHit(r) || r.body != "Origin" {
		t.Fatalf("%q %q", r.body, r.cs()) // Origin absent in both: same variant
	}
}

func TestVaryStar(t *testing.T) {
	e := newEnv(t, Policy{}, fixed(200, "x", "Cache-Control", "max-age=60", "Vary", "Accept, *"))
	e.get("/s")
	if r := e.get("/s"); isHit(r) {
		t.Fatal("Vary: * served from cache")
	}
}

// TestVaryNamesBounded pins the review finding that a Vary of thousands
// of names cost seconds of CPU per miss: parsing stops past the bound, and
// such a response is not stored.
func TestVaryNamesBounded(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "X-H%d, ", i)
	}
	names, star := varyNames([]string{b.String()})
	if star || len(names) != maxVaryNames+1 {
		t.Fatalf("varyNames kept %d names (star %v), want %d", len(names), star, maxVaryNames+1)
	}
	if !slices.IsSorted(names) {
		t.Fatal("names not sorted")
	}
	names, _ = varyNames([]string{"accept-encoding, Accept-Encoding", "origin"})
	if !slices.Equal(names, []string{"Accept-Encoding", "Origin"}) {
		t.Fatalf("names = %q", names)
	}
}

package cache

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// storedCache returns a cache holding a response for req under tenant
// "t" with policy p.
func storedCache(tb testing.TB, p Policy, req *http.Request, respHdr ...string) (*Cache, http.Handler) {
	tb.Helper()
	c, err := New(Config{MaxBytes: 64 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	h := c.Handler("t", p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i+1 < len(respHdr); i += 2 {
			w.Header().Set(respHdr[i], respHdr[i+1])
		}
		w.Write(make([]byte, 1024))
	}))
	h.ServeHTTP(httptest.NewRecorder(), req)
	return c, h
}

// lookupOnce is the hit lookup: key, hash, shard, verify.
func lookupOnce(c *Cache, req *http.Request, mode byte) *entry {
	var k reqKey
	c.newKey(&k, "t", "", req, mode)
	e, _ := c.lookup(&k, req.Header)
	return e
}

// TestHitLookupNoAlloc pins the zero-allocation hit lookup, plain, with a
// sorted query, and through a Vary marker.
func TestHitLookupNoAlloc(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		mode byte
		url  string
		hdr  []string
	}{
		{"plain", Policy{}, queryExact, "http://Example.COM:8080/a/b?x=1&y=2", nil},
		{"sorted", Policy{SortQuery: true}, querySorted, "http://example.com/a?z=1&b=2&a=3", nil},
		{"ignore", Policy{IgnoreQuery: true}, queryNone, "http://example.com/a?z=1", nil},
		{"vary", Policy{}, queryExact, "http://example.com/v", []string{"Vary", "Accept-Encoding, Accept-Language"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.url, nil)
			req.Header.Set("Accept-Encoding", "gzip, br")
			req.Header.Set("Accept-Language", "en")
			c, _ := storedCache(t, tt.p, req, tt.hdr...)
			if lookupOnce(c, req, tt.mode) == nil {
				t.Fatal("not stored")
			}
			if n := testing.AllocsPerRun(200, func() { lookupOnce(c, req, tt.mode) }); n != 0 {
				t.Fatalf("hit lookup allocates %v times", n)
			}
		})
	}
}

func BenchmarkHitLookup(b *testing.B) {
	req := httptest.NewRequest("GET", "http://example.com/static/app.js?v=3", nil)
	c, _ := storedCache(b, Policy{}, req)
	b.ReportAllocs()
	for b.Loop() {
		if lookupOnce(c, req, queryExact) == nil {
			b.Fatal("miss")
		}
	}
}

// discard is a minimal ResponseWriter.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkHitParallel(b *testing.B) {
	const keys = 1024
	c, err := New(Config{MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	h := c.Handler("t", Policy{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		w.Write(make([]byte, 1024))
	}))
	reqs := make([]*http.Request, keys)
	for i := range reqs {
		reqs[i] = httptest.NewRequest("GET", "http://example.com/k/"+strconv.Itoa(i), nil)
		h.ServeHTTP(httptest.NewRecorder(), reqs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discard{h: http.Header{}}
		i := 0
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, reqs[i%keys])
			i++
		}
	})
	if s := c.Stats(); s.Misses != keys {
		b.Fatalf("misses %d", s.Misses)
	}
}

func BenchmarkMissStore(b *testing.B) {
	c, err := New(Config{MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 4096)
	h := c.Handler("t", Policy{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "4096")
		w.Write(body)
	}))
	reqs := make([]*http.Request, 1<<14)
	for i := range reqs {
		reqs[i] = httptest.NewRequest("GET", "http://example.com/m/"+strconv.Itoa(i), nil)
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, reqs[i%len(reqs)])
		i++
		if i%len(reqs) == 0 {
			b.StopTimer()
			for _, r := range reqs {
				c.PurgeURL("t", "http", "example.com", r.URL.Path)
			}
			b.StartTimer()
		}
	}
}

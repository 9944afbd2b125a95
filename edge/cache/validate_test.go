package cache

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// RFC 9111 §4.3: a stale entry is revalidated with its validators; a 304
// updates the stored header fields and serves the stored body; a 200
// replaces the entry.
func TestRevalidation(t *testing.T) {
	tests := []struct {
		name      string
		validator []string // response header pairs
		wantINM   string
		wantIMS   bool
	}{
		{"etag", []string{"ETag", `"v1"`}, `"v1"`, false},
		{"weak etag", []string{"ETag", `W/"v1"`}, `W/"v1"`, false},
		{"last-modified", []string{"Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT"}, "", true},
		{"both", []string{"ETag", `"v1"`, "Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT"}, `"v1"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var answer304 atomic.Bool
			e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=10")
				for i := 0; i+1 < len(tt.validator); i += 2 {
					w.Header().Set(tt.validator[i], tt.validator[i+1])
				}
				if answer304.Load() {
					w.Header().Set("X-Updated", "yes")
					w.Header().Set("Content-Length", "999") // must not replace the stored one
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("X-Updated", "no")
				w.Header().Set("X-Kept", "kept")
				w.Write([]byte("stored body"))
			})
			e.get("/v")
			e.clk.advance(11 * time.Second)
			answer304.Store(true)
			r := e.get("/v", "If-None-Match", `"client"`)
			if r.status != 200 || r.body != "stored body" {
				t.Fatalf("after 304: %d %q", r.status, r.body)
			}
			if r.cs() != "wedge; fwd=stale; fwd-status=304" {
				t.Fatalf("Cache-Status %q", r.cs())
			}
			if r.header.Get("X-Updated") != "yes" || r.header.Get("X-Kept") != "kept" || r.header.Get("Content-Length") != "11" {
				t.Fatalf("header not updated per §4.3.4: %v", r.header)
			}
			last := e.origin.lastRequest()
			if got := last.Header.Get("If-None-Match"); got != tt.wantINM {
				t.Fatalf("If-None-Match sent %q, want %q", got, tt.wantINM)
			}
			if got := last.Header.Get("If-Modified-Since") != ""; got != tt.wantIMS {
				t.Fatalf("If-Modified-Since sent = %v", got)
			}
			// Fresh again after the 304: a hit with the updated header.
			r = e.get("/v")
			if !isHit(r) || r.header.Get("X-Updated") != "yes" || r.body != "stored body" || r.header.Get("Age") != "0" {
				t.Fatalf("after update: %q %v %q", r.cs(), r.header, r.body)
			}
		})
	}
}

func TestRevalidationReplaces(t *testing.T) {
	var version atomic.Int32
	version.Store(1)
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		v := `"v` + string(rune('0'+version.Load())) + `"`
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", v)
		if r.Header.Get("If-None-Match") == v {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("body " + v))
	})
	e.get("/r")
	e.clk.advance(11 * time.Second)
	version.Store(2)
	r := e.get("/r")
	if r.body != `body "v2"` || r.cs() != "wedge; fwd=stale; fwd-status=200; stored" {
		t.Fatalf("replace: %q %q", r.body, r.cs())
	}
	if r = e.get("/r"); !isHit(r) || r.body != `body "v2"` {
		t.Fatalf("not replaced: %q %q", r.body, r.cs())
	}
	// A revalidation answered by a non-storable 200 drops the entry.
	e.clk.advance(11 * time.Second)
	e.origin.set(fixed(200, "private now", "Cache-Control", "private"))
	if r = e.get("/r"); r.body != "private now" {
		t.Fatalf("got %q", r.body)
	}
	if s := e.c.Stats(); s.Entries != 0 {
		t.Fatalf("superseded entry kept: %d entries", s.Entries)
	}
}

// RFC 9110 §13: client preconditions evaluated against a fresh stored
// response.
func TestClientConditionals(t *testing.T) {
	lm := "Mon, 02 Jan 2006 15:04:05 GMT"
	e := newEnv(t, Policy{}, fixed(200, "body", "Cache-Control", "max-age=60", "ETag", `W/"abc"`, "Last-Modified", lm, "Content-Type", "text/plain"))
	e.get("/c")
	tests := []struct {
		hdr    []string
		status int
	}{
		{[]string{"If-None-Match", `"abc"`}, 304}, // weak comparison
		{[]string{"If-None-Match", `W/"abc"`}, 304},
		{[]string{"If-None-Match", `"x", W/"abc"`}, 304},
		{[]string{"If-None-Match", `"x", "y"`}, 200},
		{[]string{"If-None-Match", `*`}, 304},
		{[]string{"If-Modified-Since", lm}, 304},
		{[]string{"If-Modified-Since", "Tue, 03 Jan 2006 15:04:05 GMT"}, 304},
		{[]string{"If-Modified-Since", "Sun, 01 Jan 2006 15:04:05 GMT"}, 200},
		{[]string{"If-Modified-Since", "garbage"}, 200},
		{[]string{"If-None-Match", `"x"`, "If-Modified-Since", lm}, 200}, // INM wins
	}
	for _, tt := range tests {
		r := e.get("/c", tt.hdr...)
		if r.status != tt.status || !isHit(r) {
			t.Errorf("%q: %d %q, want %d from cache", tt.hdr, r.status, r.cs(), tt.status)
		}
		if tt.status == 304 && (r.body != "" || r.header.Get("Content-Type") != "" || r.header.Get("ETag") != `W/"abc"`) {
			t.Errorf("%q: 304 carries %q %v", tt.hdr, r.body, r.header)
		}
	}
	if n := e.origin.hits.Load(); n != 1 {
		t.Errorf("origin hits %d", n)
	}
}

// RFC 9111 §4.4: unsafe methods go upstream; a non-error response
// invalidates the target URI and same-origin Location/Content-Location.
func TestInvalidation(t *testing.T) {
	tests := []struct {
		method   string
		status   int
		location string // Location header of the unsafe response
		gone     []string
	}{
		{"POST", 200, "", []string{"/a"}},
		{"PUT", 201, "/b", []string{"/a", "/b"}},
		{"DELETE", 204, "", []string{"/a"}},
		{"PATCH", 200, "", []string{"/a"}},
		{"PURGEX", 200, "", []string{"/a"}}, // unknown method: unsafe
		{"POST", 303, "/b?q=1", []string{"/a", "/b?q=1"}},
		{"POST", 500, "", nil},
		{"POST", 404, "", nil},
		{"POST", 200, "http://elsewhere.example/b", []string{"/a"}},
		{"OPTIONS", 200, "", nil}, // safe
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+http.StatusText(tt.status), func(t *testing.T) {
			e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					w.Header().Set("Cache-Control", "max-age=60")
					w.Write([]byte("get " + r.URL.String()))
					return
				}
				if tt.location != "" {
					w.Header().Set("Location", tt.location)
				}
				w.WriteHeader(tt.status)
			})
			paths := []string{"/a", "/b", "/b?q=1", "/c"}
			for _, p := range paths {
				e.get(p)
			}
			r := e.do(tt.method, "/a")
			if r.status != tt.status || isHit(r) {
				t.Fatalf("%s: %d %q", tt.method, r.status, r.cs())
			}
			for _, p := range paths {
				gone := false
				for _, g := range tt.gone {
					gone = gone || g == p
				}
				if r := e.get(p); isHit(r) == gone {
					t.Errorf("%s: hit=%v after invalidation, want gone=%v", p, isHit(r), gone)
				}
			}
		})
	}
}

// Unsafe methods are never answered from storage, not even for a URL
// with a fresh entry.
func TestUnsafeNeverServedFromCache(t *testing.T) {
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte(r.Method))
	})
	e.get("/x")
	r := e.do("POST", "/x")
	if r.body != "POST" || !strings.Contains(r.cs(), "fwd=method") {
		t.Fatalf("POST: %q %q", r.body, r.cs())
	}
}

// RFC 9111 §4.3.4: a 304 whose ETag is not the stored one updates
// nothing; the response is fetched whole.
func TestRevalidationETagMismatch(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=10")
		switch {
		case n == 1:
			w.Header().Set("ETag", `"v1"`)
			w.Write([]byte("one"))
		case r.Header.Get("If-None-Match") != "":
			w.Header().Set("ETag", `"v2"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("ETag", `"v3"`)
			w.Write([]byte("three"))
		}
	})
	e.get("/m")
	e.clk.advance(11 * time.Second)
	if r := e.get("/m"); r.status != 200 || r.body != "three" {
		t.Fatalf("%d %q %q", r.status, r.body, r.cs())
	}
	if r := e.get("/m"); !isHit(r) || r.body != "three" {
		t.Fatalf("%q %q", r.body, r.cs())
	}
}

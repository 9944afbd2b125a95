package cache

import (
	"net/http"
	"testing"
)

// RFC 9111 §3 and §3.5: what a shared cache stores.
func TestStorability(t *testing.T) {
	tests := []struct {
		name   string
		status int
		resp   []string // response header pairs
		req    []string // request header pairs
		policy Policy
		stored bool
	}{
		{"200 max-age", 200, []string{"Cache-Control", "max-age=60"}, nil, Policy{}, true},
		{"200 no explicit, no heuristic", 200, nil, nil, Policy{}, false}, // storable, but zero lifetime: revalidate/refetch
		{"200 DefaultTTL", 200, nil, nil, Policy{DefaultTTL: 60e9}, true},
		{"no-store response", 200, []string{"Cache-Control", "max-age=60, no-store"}, nil, Policy{}, false},
		{"no-store request", 200, []string{"Cache-Control", "max-age=60"}, []string{"Cache-Control", "no-store"}, Policy{}, false},
		{"private", 200, []string{"Cache-Control", "private, max-age=60"}, nil, Policy{}, false},
		{"qualified private", 200, []string{"Cache-Control", `private="X-User", max-age=60`}, nil, Policy{}, false},
		{"authorization plain", 200, []string{"Cache-Control", "max-age=60"}, []string{"Authorization", "Bearer x"}, Policy{}, false},
		{"authorization public", 200, []string{"Cache-Control", "public, max-age=60"}, []string{"Authorization", "Bearer x"}, Policy{}, true},
		{"authorization s-maxage", 200, []string{"Cache-Control", "s-maxage=60"}, []string{"Authorization", "Bearer x"}, Policy{}, true},
		{"authorization must-revalidate", 200, []string{"Cache-Control", "max-age=60, must-revalidate"}, []string{"Authorization", "Bearer x"}, Policy{}, true},
		{"set-cookie default", 200, []string{"Cache-Control", "max-age=60", "Set-Cookie", "a=b"}, nil, Policy{}, false},
		{"set-cookie allowed", 200, []string{"Cache-Control", "max-age=60", "Set-Cookie", "a=b"}, nil, Policy{CacheSetCookie: true}, true},
		{"vary star", 200, []string{"Cache-Control", "max-age=60", "Vary", "*"}, nil, Policy{}, false},
		{"404 heuristic DefaultTTL", 404, nil, nil, Policy{DefaultTTL: 60e9}, true},
		{"410 max-age", 410, []string{"Cache-Control", "max-age=60"}, nil, Policy{}, true},
		{"301 DefaultTTL", 301, []string{"Location", "/x"}, nil, Policy{DefaultTTL: 60e9}, true},
		{"302 DefaultTTL only", 302, []string{"Location", "/x"}, nil, Policy{DefaultTTL: 60e9}, false},
		{"302 max-age", 302, []string{"Location", "/x", "Cache-Control", "max-age=60"}, nil, Policy{}, true},
		{"500 DefaultTTL", 500, nil, nil, Policy{DefaultTTL: 60e9}, false},
		{"500 max-age", 500, []string{"Cache-Control", "max-age=60"}, nil, Policy{}, true},
		{"302 public heuristic", 302, []string{"Location", "/x", "Cache-Control", "public"}, nil, Policy{DefaultTTL: 60e9}, true},
		{"206 never whole", 206, []string{"Cache-Control", "max-age=60", "Content-Range", "bytes 0-1/10"}, nil, Policy{}, false},
		{"no content-length", 200, []string{"Cache-Control", "max-age=60", "X-Chunked", "1"}, nil, Policy{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.policy, func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i+1 < len(tt.resp); i += 2 {
					w.Header().Add(tt.resp[i], tt.resp[i+1])
				}
				if w.Header().Get("X-Chunked") != "" {
					w.WriteHeader(tt.status)
					w.Write([]byte("part1 "))
					w.(http.Flusher).Flush()
					w.Write([]byte("part2"))
					return
				}
				w.WriteHeader(tt.status)
				w.Write([]byte("body"))
			})
			req := append([]string(nil), tt.req...)
			first := e.get("/p", req...)
			if first.status != tt.status {
				t.Fatalf("status %d", first.status)
			}
			// The second request without request directives: a hit
			// only if the first response was stored (and fresh).
			var second resp
			if len(req) > 0 && req[0] == "Authorization" {
				second = e.get("/p", req...)
			} else {
				second = e.get("/p")
			}
			if got := isHit(second); got != tt.stored {
				t.Fatalf("stored = %v, want %v (first %q, second %q)", got, tt.stored, first.cs(), second.cs())
			}
			if tt.stored && second.body != first.body {
				t.Fatalf("hit body %q, want %q", second.body, first.body)
			}
			if want := int64(1); tt.stored && e.origin.hits.Load() != want {
				t.Fatalf("origin hits %d", e.origin.hits.Load())
			}
		})
	}
}

// RFC 9111 §3: only GET is stored; HEAD is answered from the stored GET
// without a body, and a HEAD miss is not stored.
func TestHeadFromGet(t *testing.T) {
	e := newEnv(t, Policy{}, fixed(200, "hello", "Cache-Control", "max-age=60"))
	r := e.do(http.MethodHead, "/h")
	if r.status != 200 || r.body != "" || isHit(r) {
		t.Fatalf("HEAD miss: %d %q %q", r.status, r.body, r.cs())
	}
	if r = e.do(http.MethodHead, "/h"); isHit(r) {
		t.Fatalf("a HEAD response was stored: %q", r.cs())
	}
	e.get("/h")
	r = e.do(http.MethodHead, "/h")
	if r.status != 200 || r.body != "" || !isHit(r) || r.header.Get("Content-Length") != "5" {
		t.Fatalf("HEAD from GET: %d %q %q CL=%q", r.status, r.body, r.cs(), r.header.Get("Content-Length"))
	}
}

// A body larger than MaxObjectBytes streams through whole and is not
// stored, with or without Content-Length.
func TestMaxObjectBytes(t *testing.T) {
	big := make([]byte, 5000)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	for _, chunked := range []bool{false, true} {
		e := newEnv(t, Policy{MaxObjectBytes: 1000}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			if chunked {
				w.Write(big[:10])
				w.(http.Flusher).Flush()
				w.Write(big[10:])
				return
			}
			w.Write(big)
		})
		for i := 0; i < 2; i++ {
			r := e.get("/big")
			if r.body != string(big) || isHit(r) {
				t.Fatalf("chunked=%v: body %d bytes, %q", chunked, len(r.body), r.cs())
			}
		}
		if s := e.c.Stats(); s.Entries != 0 {
			t.Fatalf("chunked=%v: %d entries stored", chunked, s.Entries)
		}
	}
}

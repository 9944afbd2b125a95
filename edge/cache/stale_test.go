package cache

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// RFC 5861 §3: within stale-while-revalidate a stale entry is served at
// once and refreshed in the background, once.
func TestStaleWhileRevalidate(t *testing.T) {
	var version atomic.Int32
	release := make(chan struct{})
	var e *env
	e = newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		if version.Load() > 0 {
			<-release // hold the refresh so that concurrent stale hits see it in flight
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=30")
		w.Write([]byte{byte('0' + version.Load())})
	})
	e.get("/s")
	version.Store(1)
	e.clk.advance(15 * time.Second)
	for i := 0; i < 5; i++ {
		r := e.get("/s")
		if r.body != "0" || r.cs() != "wedge; hit; detail=stale-while-revalidate" || r.header.Get("Age") != "15" {
			t.Fatalf("stale hit %d: %q %q Age=%q", i, r.body, r.cs(), r.header.Get("Age"))
		}
	}
	close(release)
	e.c.bg.Wait()
	if n := e.origin.hits.Load(); n != 2 {
		t.Fatalf("origin hits %d, want 2 (one refresh)", n)
	}
	if r := e.get("/s"); r.body != "1" || r.cs() != "wedge; hit" {
		t.Fatalf("after refresh: %q %q", r.body, r.cs())
	}
	// Past the window: revalidated in the foreground.
	e.clk.advance(41 * time.Second)
	if r := e.get("/s"); r.body != "1" || isHit(r) {
		t.Fatalf("past the window: %q %q", r.body, r.cs())
	}
}

func TestStaleWhileRevalidateNotWithMustRevalidate(t *testing.T) {
	e := newEnv(t, Policy{}, fixed(200, "x", "Cache-Control", "max-age=10, stale-while-revalidate=30, must-revalidate"))
	e.get("/s")
	e.clk.advance(15 * time.Second)
	if r := e.get("/s"); isHit(r) {
		t.Fatalf("served stale despite must-revalidate: %q", r.cs())
	}
}

// RFC 5861 §4: stale-if-error serves the stale entry when the upstream
// answers 500, 502, 503 or 504, or cannot be reached, within the window.
func TestStaleIfError(t *testing.T) {
	tests := []struct {
		name    string
		cc      string // of the stored response
		reqCC   string
		fail    string // "503", "500", "404", "down"
		advance time.Duration
		stale   bool
	}{
		{"503 within window", "max-age=10, stale-if-error=60", "", "503", 30 * time.Second, true},
		{"500 within window", "max-age=10, stale-if-error=60", "", "500", 30 * time.Second, true},
		{"origin down", "max-age=10, stale-if-error=60", "", "down", 30 * time.Second, true},
		{"past the window", "max-age=10, stale-if-error=60", "", "503", 80 * time.Second, false},
		{"404 is not an error", "max-age=10, stale-if-error=60", "", "404", 30 * time.Second, false},
		{"request directive", "max-age=10", "stale-if-error=60", "503", 30 * time.Second, true},
		{"no directive", "max-age=10", "", "503", 30 * time.Second, false},
		{"must-revalidate wins", "max-age=10, stale-if-error=60, must-revalidate", "", "503", 30 * time.Second, false},
		{"proxy-revalidate wins", "max-age=10, stale-if-error=60, proxy-revalidate", "stale-if-error=60", "down", 30 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Policy{}, fixed(200, "good", "Cache-Control", tt.cc, "ETag", `"e"`))
			e.get("/e")
			e.clk.advance(tt.advance)
			switch tt.fail {
			case "down":
				e.origin.Close()
			case "503":
				e.origin.set(fixed(503, "overloaded"))
			case "500":
				e.origin.set(fixed(500, "broken"))
			case "404":
				e.origin.set(fixed(404, "gone"))
			}
			var hdr []string
			if tt.reqCC != "" {
				hdr = []string{"Cache-Control", tt.reqCC}
			}
			r := e.get("/e", hdr...)
			if got := r.status == 200 && r.body == "good"; got != tt.stale {
				t.Fatalf("served stale = %v (%d %q %q), want %v", got, r.status, r.body, r.cs(), tt.stale)
			}
			if tt.stale {
				want := map[string]string{
					"503":  "wedge; fwd=stale; fwd-status=503; detail=stale-if-error",
					"500":  "wedge; fwd=stale; fwd-status=500; detail=stale-if-error",
					"down": "wedge; fwd=stale; fwd-status=502; detail=stale-if-error",
				}[tt.fail]
				if r.cs() != want {
					t.Fatalf("Cache-Status %q, want %q", r.cs(), want)
				}
			}
		})
	}
}

// RFC 9111 §5.2.1.7: only-if-cached answers 504 without a usable entry
// and never goes upstream.
func TestOnlyIfCached(t *testing.T) {
	e := newEnv(t, Policy{}, fixed(200, "x", "Cache-Control", "max-age=10"))
	r := e.get("/o", "Cache-Control", "only-if-cached")
	if r.status != http.StatusGatewayTimeout || e.origin.hits.Load() != 0 {
		t.Fatalf("uncached: %d, origin hits %d", r.status, e.origin.hits.Load())
	}
	e.get("/o")
	if r = e.get("/o", "Cache-Control", "only-if-cached"); r.status != 200 || !isHit(r) {
		t.Fatalf("cached: %d %q", r.status, r.cs())
	}
	e.clk.advance(20 * time.Second)
	if r = e.get("/o", "Cache-Control", "only-if-cached"); r.status != http.StatusGatewayTimeout {
		t.Fatalf("stale: %d", r.status)
	}
	if r = e.get("/o", "Cache-Control", "only-if-cached, max-stale=30"); r.status != 200 || !isHit(r) {
		t.Fatalf("stale allowed by max-stale: %d %q", r.status, r.cs())
	}
	if n := e.origin.hits.Load(); n != 1 {
		t.Fatalf("origin hits %d", n)
	}
}

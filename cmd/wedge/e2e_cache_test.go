package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestE2ECache serves a cacheable response through a route with the cache
// enabled: the origin is asked once, later requests are hits with an Age,
// concurrent misses are coalesced, another tenant's identical URL is its
// own entry, and a route without the cache always forwards.
func TestE2ECache(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	origin := startOrigin(t, map[string]http.Handler{
		"/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := hits.Add(1)
			w.Header().Set("Cache-Control", "max-age=60")
			fmt.Fprintf(w, "%s %s #%d", r.Host, r.URL.Path, n)
		}),
	})
	n := startWedge(t, fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
cache: {max_bytes: 16777216}
tenants:
  - name: acme
    domains: [app.test]
    upstreams:
      - name: origin
        endpoints: [%[1]s]
    routes:
      - match: {path_prefix: /nocache/}
        upstream: origin
      - upstream: origin
        cache: {enabled: true}
  - name: other
    domains: [other.test]
    upstreams:
      - name: origin
        endpoints: [%[1]s]
    routes:
      - upstream: origin
        cache: {enabled: true}
`, origin), "http")
	c := newClient(t, protoH1, n.addr("http"))

	resp, first := get(t, c, "http://app.test/page")
	if !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=") {
		t.Errorf("first request Cache-Status = %q, want a forward", resp.Header.Get("Cache-Status"))
	}
	for range 3 {
		resp, body := get(t, c, "http://app.test/page")
		if body != first {
			t.Fatalf("cached body %q, want %q", body, first)
		}
		if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") || resp.Header.Get("Age") == "" {
			t.Fatalf("Cache-Status %q Age %q, want a hit with an Age", cs, resp.Header.Get("Age"))
		}
	}
	if got := hits.Load(); got != 1 {
		t.Fatalf("origin asked %d times for one cacheable URL, want 1", got)
	}

	// Another tenant's same path is a separate entry.
	if _, body := get(t, c, "http://other.test/page"); !strings.HasPrefix(body, "other.test /page") {
		t.Fatalf("other tenant got %q", body)
	}

	// 50 concurrent misses for a new URL: one upstream request.
	before := hits.Load()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", "http://app.test/burst", nil)
			resp, err := c.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if got := hits.Load() - before; got != 1 {
		t.Errorf("50 concurrent misses made %d upstream requests, want 1", got)
	}

	// A route without the cache forwards every time.
	before = hits.Load()
	get(t, c, "http://app.test/nocache/x")
	get(t, c, "http://app.test/nocache/x")
	if got := hits.Load() - before; got != 2 {
		t.Errorf("uncached route: origin asked %d times for 2 requests", got)
	}
}

// TestE2ECacheKeyFollowsWhatTheOriginSees pins the cache review's
// findings: routes that pick different upstreams by header do not share
// entries; with ignore_query the query does not reach the origin; and a
// trusted proxy's X-Forwarded-Proto bypasses the cache.
func TestE2ECacheKeyFollowsWhatTheOriginSees(t *testing.T) {
	t.Parallel()
	mk := func(name string) string {
		return startOrigin(t, map[string]http.Handler{
			"/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				fmt.Fprintf(w, "%s q=%q xfp=%q", name, r.URL.RawQuery, r.Header.Get("X-Forwarded-Proto"))
			}),
		})
	}
	prod, beta := mk("prod"), mk("beta")
	n := startWedge(t, fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
    trusted_proxies: [127.0.0.1/32]
tenants:
  - name: acme
    domains: [app.test]
    upstreams:
      - name: prod
        endpoints: [%s]
      - name: beta
        endpoints: [%s]
    routes:
      - match: {headers: [{name: X-Beta, value: "1"}]}
        upstream: beta
        cache: {enabled: true}
      - match: {path_prefix: /noq/}
        upstream: prod
        cache: {enabled: true, key: {ignore_query: true}}
      - upstream: prod
        cache: {enabled: true}
`, prod, beta), "http")
	c := newClient(t, protoH1, n.addr("http"))

	req, _ := http.NewRequest("GET", "http://app.test/page", nil)
	req.Header.Set("X-Beta", "1")
	if _, body := do(t, c, req); !strings.HasPrefix(body, "beta") {
		t.Fatalf("beta route answered %q", body)
	}
	if _, body := get(t, c, "http://app.test/page"); !strings.HasPrefix(body, "prod") {
		t.Fatalf("the prod route was served the beta route's cached answer: %q", body)
	}

	if _, body := get(t, c, "http://app.test/noq/x?evil=%3Cscript%3E"); !strings.Contains(body, `q=""`) {
		t.Fatalf("ignore_query route forwarded the query: %q", body)
	}

	req, _ = http.NewRequest("GET", "http://app.test/scheme", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	if resp, body := do(t, c, req); !strings.Contains(body, `xfp="https"`) || strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
		t.Fatalf("trusted X-Forwarded-Proto: %q, Cache-Status %q; want it forwarded and not stored", body, resp.Header.Get("Cache-Status"))
	}
	if _, body := get(t, c, "http://app.test/scheme"); !strings.Contains(body, `xfp="http"`) {
		t.Fatalf("plain request got %q: another scheme's answer", body)
	}
}

package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/config"
)

// benchServer starts a real loopback origin answering 1 KiB (cacheable
// for a minute), and a Wedge listener (real net/http server) forwarding
// to it, through the cache when cached is set.
func benchServer(b *testing.B, cached bool) (front string) {
	return benchServerLimits(b, cached, config.TenantLimits{})
}

// benchServerLimits is benchServer with the tenant's limits.
func benchServerLimits(b *testing.B, cached bool, lim config.TenantLimits) (front string) {
	body := strings.Repeat("x", 1024)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, body)
	}))
	b.Cleanup(origin.Close)
	c, err := cache.New(cache.Config{MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	s := New(c)
	route := config.Route{Upstream: "origin"}
	if cached {
		route.Cache = &config.RouteCache{Enabled: true}
	}
	snap, err := s.Build([]config.Tenant{{
		Name:      "bench",
		Domains:   []string{"bench.test"},
		Limits:    lim,
		Upstreams: []config.Upstream{{Name: "origin", Endpoints: []string{origin.Listener.Addr().String()}}},
		Routes:    []config.Route{route},
	}})
	if err != nil {
		b.Fatal(err)
	}
	s.Swap(snap)
	front = httptest.NewServer(s.Handler(Listener{Name: "bench"})).Listener.Addr().String()
	return front
}

// BenchmarkProxy1KiB is one proxied HTTP/1.1 request, client to origin and
// back, over real loopback connections. Allocations include the client,
// the origin and net/http's server; compare runs, not absolutes.
func BenchmarkProxy1KiB(b *testing.B) { benchFront(b, benchServer(b, false)) }

// BenchmarkProxy1KiBRateLimited is BenchmarkProxy1KiB with a request
// rate on the tenant that the benchmark stays within: the cost of the
// check on the allowed path. Compare the two in one run.
func BenchmarkProxy1KiBRateLimited(b *testing.B) {
	benchFront(b, benchServerLimits(b, false, config.TenantLimits{RequestRate: 1e6, RequestBurst: 1e6}))
}

// BenchmarkCacheHit1KiB is one cache hit served through a real listener.
func BenchmarkCacheHit1KiB(b *testing.B) { benchFront(b, benchServer(b, true)) }

func benchFront(b *testing.B, front string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DialContext: (&net.Dialer{}).DialContext}
	c := &http.Client{Transport: tr}
	req, _ := http.NewRequest("GET", "http://"+front+"/x", nil)
	req.Host = "bench.test"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != 1024 {
				b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
			}
		}
	})
}

// BenchmarkOutboundHeader is the request-header rewrite on its own.
func BenchmarkOutboundHeader(b *testing.B) {
	r := httptest.NewRequest("GET", "http://bench.test/x", nil)
	r.Header = http.Header{
		"Accept":          {"*/*"},
		"User-Agent":      {"bench"},
		"Accept-Encoding": {"gzip"},
		"Cookie":          {"a=b"},
		"Connection":      {"keep-alive"},
	}
	l := &Listener{}
	b.ReportAllocs()
	for b.Loop() {
		outboundHeader(r, l)
	}
}

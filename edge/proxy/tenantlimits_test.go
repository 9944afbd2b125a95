package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// fakeClock is the request-rate clock of a test: it moves when told.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() int64              { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// limitsFixture is a Server with a fake request-rate clock, filters whose
// log lines are kept, a loopback origin answering "hello", and a front
// listener.
type limitsFixture struct {
	t      *testing.T
	s      *Server
	clock  *fakeClock
	logs   *syncBuffer
	origin string
	front  string
}

func newLimitsFixture(t *testing.T) *limitsFixture {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	t.Cleanup(origin.Close)
	f := &limitsFixture{t: t, s: New(nil), clock: &fakeClock{}, logs: &syncBuffer{}, origin: origin.Listener.Addr().String()}
	f.s.now = f.clock.now
	f.s.UseFilters(Filters{Engine: testEngine(t), Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	t.Cleanup(func() { closeUnused(f.s.snap.Load(), nil) })
	front := httptest.NewServer(f.s.Handler(Listener{Name: "test"}))
	t.Cleanup(front.Close)
	f.front = front.Listener.Addr().String()
	return f
}

// tenant is a tenant named name owning name+".test", whose one route
// forwards to the origin through filters.
func (f *limitsFixture) tenant(name string, lim config.TenantLimits, filters ...config.Filter) config.Tenant {
	return config.Tenant{
		Name: name, Domains: []string{name + ".test"}, Limits: lim,
		Upstreams: []config.Upstream{{Name: "origin", Endpoints: []string{f.origin}}},
		Routes:    []config.Route{{Upstream: "origin", Filters: filters}},
	}
}

// apply builds and swaps in tenants.
func (f *limitsFixture) apply(tenants ...config.Tenant) {
	f.t.Helper()
	snap, err := f.s.Build(tenants)
	if err != nil {
		f.t.Fatal(err)
	}
	f.s.Swap(snap)
}

// get sends GET / to the front for host.
func (f *limitsFixture) get(host string) (int, http.Header, string) {
	f.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+f.front+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// expect sends n requests for host and fails unless each gets status.
func (f *limitsFixture) expect(host string, n, status int) {
	f.t.Helper()
	for i := range n {
		if got, _, body := f.get(host); got != status {
			f.t.Fatalf("%s request %d of %d: %d %q, want %d", host, i+1, n, got, body, status)
		}
	}
}

// expectLimited sends one request for host and fails unless it gets 429
// with Retry-After retry, naming the limit.
func (f *limitsFixture) expectLimited(host, retry, limit string) {
	f.t.Helper()
	status, h, body := f.get(host)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != retry || !strings.Contains(body, limit) {
		f.t.Fatalf("%s: %d Retry-After %q %q, want 429 Retry-After %s naming %s", host, status, h.Get("Retry-After"), body, retry, limit)
	}
}

// TestTenantRequestRate: a tenant's burst passes, the next request gets
// 429 with Retry-After (whole seconds, rounded up) and a body naming the
// limit, before its filters run; the bucket refills at the rate; another
// tenant of the node is not limited.
func TestTenantRequestRate(t *testing.T) {
	f := newLimitsFixture(t)
	headers := config.Filter{Name: "headers", Module: "../../bin/filters/headers.wasm",
		Config: config.FilterConfig(`{"response":{"set":{"x-filtered":"1"}}}`)}
	f.apply(
		f.tenant("a", config.TenantLimits{RequestRate: 1, RequestBurst: 3}, headers),
		f.tenant("b", config.TenantLimits{}),
		f.tenant("slow", config.TenantLimits{RequestRate: 0.1}), // burst 1; one request per 10s
	)
	f.expect("a.test", 3, 200)
	status, h, body := f.get("a.test")
	if status != 429 || h.Get("Retry-After") != "1" || body != "wedge: tenant \"a\" is over its request rate (1/s, burst 3)\n" {
		t.Fatalf("4th request: %d Retry-After %q %q", status, h.Get("Retry-After"), body)
	}
	if h.Get("X-Filtered") != "" || h.Get("Cache-Control") != "no-store" || h.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("429 headers: %v", h)
	}
	f.expect("b.test", 20, 200) // b has no limit, and a's does not touch it

	f.clock.advance(500 * time.Millisecond) // half a token
	f.expectLimited("a.test", "1", "(1/s, burst 3)")
	f.clock.advance(500 * time.Millisecond)
	if status, h, _ := f.get("a.test"); status != 200 || h.Get("X-Filtered") != "1" {
		t.Fatalf("after a second: %d %v, want 200 through the filter", status, h)
	}
	f.expectLimited("a.test", "1", "(1/s, burst 3)")
	f.clock.advance(time.Hour) // the bucket holds no more than its burst
	f.expect("a.test", 3, 200)
	f.expectLimited("a.test", "1", "(1/s, burst 3)")
	// HEAD is refused too, without a body.
	req, _ := http.NewRequest("HEAD", "http://"+f.front+"/", nil)
	req.Host = "a.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || n != 0 {
		t.Fatalf("HEAD: %d %v, %d body bytes", resp.StatusCode, resp.Header, n)
	}

	f.expect("slow.test", 1, 200)
	f.expectLimited("slow.test", "10", `tenant "slow" is over its request rate (0.1/s, burst 1)`)
	f.clock.advance(2500 * time.Millisecond)
	f.expectLimited("slow.test", "8", "(0.1/s, burst 1)") // 7.5s, rounded up

}

// TestTenantRequestRateAcrossSwaps: a tenant's bucket carries over a new
// snapshot while its rate and burst are unchanged (other changes
// notwithstanding), starts afresh when they change, and goes with its
// rate.
func TestTenantRequestRateAcrossSwaps(t *testing.T) {
	f := newLimitsFixture(t)
	lim := config.TenantLimits{RequestRate: 2, RequestBurst: 2}
	f.apply(f.tenant("a", lim), f.tenant("b", config.TenantLimits{}))
	first := f.s.snap.Load().limiters["a"]
	f.expect("a.test", 2, 200)
	f.expectLimited("a.test", "1", "(2/s, burst 2)")

	// Unchanged limits, another tenant changed: a's bucket is still empty.
	f.apply(f.tenant("a", lim), f.tenant("b", config.TenantLimits{RequestRate: 100}))
	if got := f.s.snap.Load().limiters["a"]; got != first {
		t.Fatal("a's limiter was replaced though its limits did not change")
	}
	f.expectLimited("a.test", "1", "(2/s, burst 2)")

	// A new burst: a new, full bucket.
	f.apply(f.tenant("a", config.TenantLimits{RequestRate: 2, RequestBurst: 5}), f.tenant("b", config.TenantLimits{}))
	f.expect("a.test", 5, 200)
	f.expectLimited("a.test", "1", "(2/s, burst 5)")

	// A new rate: the default burst is ceil(rate).
	f.apply(f.tenant("a", config.TenantLimits{RequestRate: 3.5}), f.tenant("b", config.TenantLimits{}))
	f.expect("a.test", 4, 200)
	f.expectLimited("a.test", "1", "(3.5/s, burst 4)")

	// No rate: no limiter, nothing refused.
	f.apply(f.tenant("a", config.TenantLimits{FilterCallDeadline: config.Duration(time.Second)}), f.tenant("b", config.TenantLimits{}))
	if n := len(f.s.snap.Load().limiters); n != 0 {
		t.Fatalf("%d limiters for tenants without a rate", n)
	}
	f.expect("a.test", 20, 200)
}

// hostileFilter is hostile.wat misbehaving as cfg, with own limits.
func hostileFilter(cfg string, own config.FilterLimits) config.Filter {
	own.Instances = 1
	return config.Filter{Name: "hostile", Module: "../../bin/wat/hostile.wasm", Config: config.FilterConfig(cfg), Limits: own}
}

// TestTenantFilterCaps: a tenant's caps lower its filters' memory and
// call deadline (a memory bomb stops at the tenant's cap, a loop at its
// deadline), never raise them, and a change of caps restarts the plugin
// on the next Build while unchanged caps keep it.
func TestTenantFilterCaps(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name string
		cfg  string
		own  config.FilterLimits
		caps config.TenantLimits
		want string // in the log line of the discarded instance
	}{
		{"memory: no own limit, capped", "grow:request_headers", config.FilterLimits{},
			config.TenantLimits{FilterMaxMemoryBytes: 4 * mib}, "memory grow past 64 pages (4 MiB)"},
		{"memory: own limit above the cap", "grow:request_headers", config.FilterLimits{MaxMemoryBytes: 32 * mib},
			config.TenantLimits{FilterMaxMemoryBytes: 3 * mib}, "memory grow past 48 pages (3 MiB)"},
		{"memory: own limit below the cap", "grow:request_headers", config.FilterLimits{MaxMemoryBytes: 2 * mib},
			config.TenantLimits{FilterMaxMemoryBytes: 8 * mib}, "memory grow past 32 pages (2 MiB)"},
		{"memory: a cap above the default does not raise it", "grow:request_headers", config.FilterLimits{},
			config.TenantLimits{FilterMaxMemoryBytes: 1 << 30}, "memory grow past 1024 pages (64 MiB)"},
		{"deadline: own deadline above the cap", "loop:request_headers", config.FilterLimits{CallDeadline: config.Duration(time.Minute)},
			config.TenantLimits{FilterCallDeadline: config.Duration(20 * time.Millisecond)}, "call ran longer than 20ms"},
		{"deadline: no own deadline, capped", "loop:request_headers", config.FilterLimits{},
			config.TenantLimits{FilterCallDeadline: config.Duration(30 * time.Millisecond)}, "call ran longer than 30ms"},
		{"deadline: a cap above the default does not raise it", "loop:request_headers", config.FilterLimits{},
			config.TenantLimits{FilterCallDeadline: config.Duration(time.Hour)}, "call ran longer than 100ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLimitsFixture(t)
			f.apply(f.tenant("a", tc.caps, hostileFilter(tc.cfg, tc.own)))
			status, _, body := f.get("a.test")
			if status != 503 || !strings.Contains(body, `filter "hostile" failed`) {
				t.Fatalf("%d %q, want 503 naming the filter", status, body)
			}
			if logs := f.logs.String(); !strings.Contains(logs, tc.want) {
				t.Fatalf("the log does not say %q:\n%s", tc.want, logs)
			}
		})
	}
}

// TestTenantFilterCapChangeRestartsPlugin: the plugin is kept while the
// tenant's caps leave its limits as they are, and replaced, with the new
// limits, when they change them.
func TestTenantFilterCapChangeRestartsPlugin(t *testing.T) {
	f := newLimitsFixture(t)
	bomb := hostileFilter("grow:request_headers", config.FilterLimits{})
	plugin := func() any {
		ps := f.s.snap.Load().plugins
		if len(ps) != 1 {
			t.Fatalf("%d plugins, want 1", len(ps))
		}
		for _, p := range ps {
			return p
		}
		return nil
	}
	f.apply(f.tenant("a", config.TenantLimits{FilterMaxMemoryBytes: 4 << 20}, bomb))
	first := plugin()
	// A change that leaves the filter's limits as they are keeps it.
	f.apply(f.tenant("a", config.TenantLimits{FilterMaxMemoryBytes: 4 << 20, RequestRate: 1000}, bomb))
	if plugin() != first {
		t.Fatal("the plugin was restarted though its limits did not change")
	}
	// A cap that still leaves the default deadline keeps it too.
	f.apply(f.tenant("a", config.TenantLimits{FilterMaxMemoryBytes: 4 << 20, FilterCallDeadline: config.Duration(time.Second)}, bomb))
	if plugin() != first {
		t.Fatal("the plugin was restarted for a deadline cap above the default")
	}
	f.apply(f.tenant("a", config.TenantLimits{FilterMaxMemoryBytes: 2 << 20}, bomb))
	if plugin() == first {
		t.Fatal("the plugin was kept though the tenant's memory cap changed")
	}
	if status, _, _ := f.get("a.test"); status != 503 {
		t.Fatalf("memory bomb: %d, want 503", status)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "memory grow past 32 pages (2 MiB)") {
		t.Fatalf("the new plugin did not run with the new cap:\n%s", logs)
	}
}

// TestLimiterConcurrentBurst: requests racing for one bucket at one
// instant get exactly its burst between them.
func TestLimiterConcurrentBurst(t *testing.T) {
	clock := &fakeClock{}
	clock.advance(time.Hour)
	lim := newLimiter("a", config.TenantLimits{RequestRate: 10, RequestBurst: 100}, clock.now)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if ok, wait := lim.allow(); ok {
					allowed.Add(1)
				} else if wait <= 0 || wait > 100*time.Millisecond {
					t.Errorf("refused with wait %v, want (0, 100ms]", wait)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 100 {
		t.Fatalf("%d of 400 requests allowed, want the burst, 100", n)
	}
}

// TestLimitedAllowedPathDoesNotAllocate: a request within its tenant's
// rate costs the limiter no allocation.
func TestLimitedAllowedPathDoesNotAllocate(t *testing.T) {
	a, w, r := limitedBench()
	if n := testing.AllocsPerRun(1000, func() { a.serve(w, r, nil, nil) }); n != 0 {
		t.Fatalf("%v allocations per allowed request, want 0", n)
	}
	if w.status != 0 {
		t.Fatalf("a request within the rate was refused: %d", w.status)
	}
}

// nopAction answers nothing; nopWriter discards everything.
type nopAction struct{}

func (nopAction) serve(http.ResponseWriter, *http.Request, *http.Request, *Listener) {}

type nopWriter struct {
	h      http.Header
	status int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(status int)      { w.status = status }

// limitedBench is a rate-limited route, on the real clock, whose rate no
// benchmark reaches.
func limitedBench() (*routeEntry, *nopWriter, *http.Request) {
	lim := newLimiter("bench", config.TenantLimits{RequestRate: 1e6, RequestBurst: 1e6}, monotonic)
	lim.interval = 1 // a billion a second: every request is allowed
	return &routeEntry{lim: lim, act: nopAction{}}, &nopWriter{h: http.Header{}}, httptest.NewRequest("GET", "http://bench.test/", nil)
}

// BenchmarkLimitedAllowed is the rate check of an allowed request, on
// the real clock.
func BenchmarkLimitedAllowed(b *testing.B) {
	a, w, r := limitedBench()
	b.ReportAllocs()
	for b.Loop() {
		a.serve(w, r, nil, nil)
	}
}

// BenchmarkLimitedAllowedParallel is the same with every P on the one
// tenant's bucket: the compare-and-swap under contention.
func BenchmarkLimitedAllowedParallel(b *testing.B) {
	a, _, r := limitedBench()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			a.serve(w, r, nil, nil)
		}
	})
}

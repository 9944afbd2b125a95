package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/runtime"
)

var (
	engineOnce sync.Once
	engine     *runtime.Engine
	engineErr  error
)

// testEngine is one engine for the package's tests, with a compilation
// cache shared by every test run on the machine: the Go filters compile
// once.
func testEngine(t testing.TB) *runtime.Engine {
	engineOnce.Do(func() {
		engine, engineErr = runtime.NewEngine(context.Background(), runtime.Config{
			CacheDir: filepath.Join(os.TempDir(), "wedge-test-wasm-cache"),
		})
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return engine
}

// filterFront starts a loopback origin (echoing the request headers it got
// as x-got-<name>), and a Wedge front whose one route runs filters.
func filterFront(t testing.TB, filters ...config.Filter) string {
	t.Helper()
	return filterRoutes(t, config.Route{Upstream: "origin", Filters: filters})
}

// filterRoutes is filterFront with several routes.
func filterRoutes(t testing.TB, routes ...config.Route) string {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, vv := range r.Header {
			w.Header()["X-Got-"+k] = vv
		}
		w.Header().Set("Server", "origin")
		body, _ := io.ReadAll(r.Body)
		w.Write([]byte("hello " + string(body)))
	}))
	t.Cleanup(origin.Close)
	e := testEngine(t)
	s := New(nil)
	s.UseFilters(Filters{Engine: e})
	for ri := range routes {
		fs := routes[ri].Filters
		for i := range fs {
			if !filepath.IsAbs(fs[i].Module) {
				fs[i].Module = filepath.Join("..", "..", fs[i].Module)
			}
		}
	}
	snap, err := s.Build([]config.Tenant{{
		Name:      "t",
		Domains:   []string{"site.test"},
		Upstreams: []config.Upstream{{Name: "origin", Endpoints: []string{origin.Listener.Addr().String()}}},
		Routes:    routes,
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(snap)
	t.Cleanup(func() { closeUnused(s.snap.Load(), nil) })
	front := httptest.NewServer(s.Handler(Listener{Name: "test"}))
	t.Cleanup(front.Close)
	return front.Listener.Addr().String()
}

func TestHeadersFilterThroughProxy(t *testing.T) {
	front := filterFront(t, config.Filter{Name: "headers", Module: "bin/filters/headers.wasm",
		Config: config.FilterConfig(`{"request":{"set":{"x-from-filter":"yes"}},"response":{"set":{"x-filtered":"1"},"remove":["server"]}}`)})
	req, _ := http.NewRequest("GET", "http://"+front+"/x", nil)
	req.Host = "site.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello " {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Got-X-From-Filter"); got != "yes" {
		t.Errorf("origin got x-from-filter %q, want yes", got)
	}
	if got := resp.Header.Get("X-Filtered"); got != "1" {
		t.Errorf("x-filtered %q, want 1", got)
	}
	if got := resp.Header.Get("Server"); got != "" {
		t.Errorf("server %q, want removed", got)
	}
}

// BenchmarkProxyHeadersFilter is BenchmarkProxy1KiB's exchange with the
// headers filter on the route; compare the two in one run.
func BenchmarkProxyHeadersFilter(b *testing.B) {
	front := filterFront(b, config.Filter{Name: "headers", Module: "bin/filters/headers.wasm",
		Config: config.FilterConfig(`{"request":{"set":{"x-from-filter":"yes"}},"response":{"set":{"x-filtered":"1"}}}`)})
	benchGet(b, front)
}

// BenchmarkProxyNoFilter is the same front with no filter.
func BenchmarkProxyNoFilter(b *testing.B) { benchGet(b, filterFront(b)) }

func benchGet(b *testing.B, front string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	c := &http.Client{Transport: tr}
	req, _ := http.NewRequest("GET", "http://"+front+"/x", nil)
	req.Host = "site.test"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

// get sends GET path to front for site.test and returns status, headers
// and body.
func get(t testing.TB, front, path string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+front+path, nil)
	req.Host = "site.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func hostile(cfg, mode string) config.Filter {
	return config.Filter{Name: "hostile", Module: "bin/wat/hostile.wasm", Config: config.FilterConfig(cfg),
		FailureMode: mode, Limits: config.FilterLimits{CallDeadline: config.Duration(100 * time.Millisecond), Instances: 1}}
}

func TestFilterFailureModes(t *testing.T) {
	tests := []struct {
		name, cfg, mode string
		status          int
		body            string
	}{
		{"trap closed", "trap:request_headers", "closed", 503, `filter "hostile" failed (trap)`},
		{"trap open", "trap:request_headers", "open", 200, "hello "},
		{"loop closed", "loop:request_headers", "closed", 503, `filter "hostile" failed (deadline exceeded)`},
		{"loop open", "loop:request_headers", "open", 200, "hello "},
		{"response trap closed", "trap:response_headers", "closed", 503, `filter "hostile" failed (trap)`},
		{"response trap open", "trap:response_headers", "open", 200, "hello "},
		{"memory closed", "grow:request_headers", "closed", 503, `filter "hostile" failed (memory limit)`},
		{"ok", "ok", "closed", 200, "hello "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := hostile(tc.cfg, tc.mode)
			f.Limits.MaxMemoryBytes = 4 << 20
			front := filterFront(t, f)
			for i := 0; i < 4; i++ {
				// The first failures replace the instance at once; then
				// the plugin is backed off and answers "unavailable".
				status, _, body := get(t, front, "/x")
				backedOff := i >= 2 && tc.status == 503 && strings.Contains(body, `filter "hostile" failed (unavailable)`)
				if status != tc.status || !strings.Contains(body, tc.body) && !backedOff {
					t.Fatalf("request %d: %d %q, want %d with %q", i, status, body, tc.status, tc.body)
				}
			}
		})
	}
}

// TestLoopingFilterDoesNotStopOtherRoutes: one route's filter loops
// forever in every request; another route of the node keeps answering
// while those requests are stuck.
func TestLoopingFilterDoesNotStopOtherRoutes(t *testing.T) {
	bad := hostile("loop:request_headers", "closed")
	bad.Limits.CallDeadline = config.Duration(2 * time.Second)
	// The healthy filter's deadline is one no loaded machine reaches: it
	// is the looping one's that this test is about.
	good := config.Filter{Name: "headers", Module: "bin/filters/headers.wasm",
		Config: config.FilterConfig(`{"response":{"set":{"x-filtered":"1"}}}`),
		Limits: config.FilterLimits{CallDeadline: config.Duration(10 * time.Second)}}
	front := filterRoutes(t,
		config.Route{Match: config.Match{PathPrefix: "/bad"}, Upstream: "origin", Filters: []config.Filter{bad}},
		config.Route{Upstream: "origin", Filters: []config.Filter{good}},
	)
	var stuck sync.WaitGroup
	var badDone atomic.Int32
	for i := 0; i < 4; i++ {
		stuck.Go(func() {
			status, _, _ := get(t, front, "/bad")
			if status != 503 {
				t.Errorf("looping route answered %d, want 503", status)
			}
			badDone.Add(1)
		})
	}
	served := 0
	for badDone.Load() == 0 {
		status, h, _ := get(t, front, "/good")
		if status != 200 || h.Get("X-Filtered") != "1" {
			t.Fatalf("healthy route: %d %v", status, h)
		}
		served++
	}
	stuck.Wait()
	if served < 20 {
		t.Fatalf("the healthy route served %d requests while the looping filter held its instance for 2s", served)
	}
	t.Logf("healthy route served %d requests while the looping one was stuck", served)
}

// TestBadFilterRefusedAtBuild: a broken module or configuration refuses
// the whole change, naming the route and filter, and starts nothing.
func TestBadFilterRefusedAtBuild(t *testing.T) {
	e := testEngine(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.wasm")
	os.WriteFile(junk, []byte("not wasm at all"), 0o644)
	tests := []struct {
		name string
		f    config.Filter
		want string
	}{
		{"missing file", config.Filter{Name: "f", Module: filepath.Join(dir, "nope.wasm")}, "no such file"},
		{"not wasm", config.Filter{Name: "f", Module: junk}, "invalid WebAssembly module"},
		{"no abi", config.Filter{Name: "f", Module: "../../bin/wat/no_abi.wasm"}, "no supported Proxy-Wasm ABI marker"},
		{"unknown host module", config.Filter{Name: "f", Module: "../../bin/wat/unknown_module.wasm"}, `unknown host module "not_env"`},
		{"configure refuses", config.Filter{Name: "f", Module: "../../bin/wat/config_echo.wasm", Config: config.FilterConfig("no")}, "proxy_on_configure returned false"},
		{"bad headers config", config.Filter{Name: "f", Module: "../../bin/filters/headers.wasm", Config: config.FilterConfig(`{"request":{"set":{"bad name":"x"}}}`)}, "proxy_on_configure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(nil)
			s.UseFilters(Filters{Engine: e})
			_, err := s.Build([]config.Tenant{{
				Name: "t", Domains: []string{"site.test"},
				Upstreams: []config.Upstream{{Name: "origin", Endpoints: []string{"127.0.0.1:1"}}},
				Routes:    []config.Route{{Upstream: "origin", Filters: []config.Filter{tc.f}}},
			}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `tenants[0].routes[0].filters[0] (filter "f")`) {
				t.Fatalf("err = %v, want it to name the filter and contain %q", err, tc.want)
			}
		})
	}
}

func post(t testing.TB, front, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+front+path, strings.NewReader(body))
	req.Host = "site.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRequestBodyFilter: a filter that pauses until the end of the body
// gets it whole and rewrites it; when what the edge holds for it passes
// the body limit, the client gets 413.
func TestRequestBodyFilter(t *testing.T) {
	f := config.Filter{Name: "upper", Module: "bin/wat/body_upper.wasm", Limits: config.FilterLimits{MaxBodyBytes: 64}}
	front := filterFront(t, f)
	if status, body := post(t, front, "/x", "hello, wasm!"); status != 200 || body != "hello HELLO, WASM!" {
		t.Fatalf("got %d %q", status, body)
	}
	status, body := post(t, front, "/x", strings.Repeat("a", 100<<10)) // several reads
	if status != 413 || !strings.Contains(body, `filter "upper"`) {
		t.Fatalf("oversized body: %d %q, want 413 naming the filter", status, body)
	}
	// The node still serves the route.
	if status, body := post(t, front, "/x", "ok"); status != 200 || body != "hello OK" {
		t.Fatalf("after 413: %d %q", status, body)
	}
}

// TestLocalResponseFilter: a filter answering at the edge; the upstream
// is not called.
func TestLocalResponseFilter(t *testing.T) {
	front := filterFront(t, config.Filter{Name: "deny", Module: "bin/wat/local_response.wasm"})
	status, h, body := get(t, front, "/x")
	if status != 403 || body != "denied by wat" || h.Get("X-Denied") != "yes" || h.Get("X-Got-User-Agent") != "" {
		t.Fatalf("got %d %v %q", status, h, body)
	}
}

// TestTrailerFilters: trailer callbacks run on request and response
// trailers, and what the filter adds reaches the origin and the client.
func TestTrailerFilters(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "X-Origin-Trailer")
		w.Header().Set("X-Got-Request-Trailer", r.Trailer.Get("X-Wat-Request-Trailer"))
		w.Write([]byte("body"))
		w.Header().Set("X-Origin-Trailer", "o")
	}))
	defer origin.Close()
	s := New(nil)
	s.UseFilters(Filters{Engine: testEngine(t)})
	snap, err := s.Build([]config.Tenant{{
		Name: "t", Domains: []string{"site.test"},
		Upstreams: []config.Upstream{{Name: "origin", Endpoints: []string{origin.Listener.Addr().String()}}},
		Routes: []config.Route{{Upstream: "origin", Filters: []config.Filter{
			{Name: "trailers", Module: "../../bin/wat/trailers.wasm"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(snap)
	defer closeUnused(s.snap.Load(), nil)
	front := httptest.NewServer(s.Handler(Listener{Name: "test"}))
	defer front.Close()

	req, _ := http.NewRequest("POST", front.URL+"/x", io.NopCloser(strings.NewReader("data")))
	req.Host = "site.test"
	req.ContentLength = -1 // chunked, so it can carry trailers
	req.Trailer = http.Header{"X-Client-Trailer": {"c"}}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "body" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if got := resp.Trailer.Get("X-Origin-Trailer"); got != "o" {
		t.Errorf("origin trailer %q, want o", got)
	}
	if got := resp.Trailer.Get("X-Wat-Trailer"); got != "1" {
		t.Errorf("filter's response trailer %q, want 1 (trailers: %v)", got, resp.Trailer)
	}
	if got := resp.Header.Get("X-Got-Request-Trailer"); got != "1" {
		t.Errorf("the origin got request trailer %q from the filter, want 1", got)
	}
}

// TestResponseBodyLimit: a filter that pauses on the response body until
// its end makes the edge buffer it; past the filter's limit the client
// gets 502 naming the filter, and the node keeps serving. A filter that
// does not pause is not limited: its chunks are not held.
func TestResponseBodyLimit(t *testing.T) {
	// The origin answers "hello " + the request body.
	hold := config.Filter{Name: "hold", Module: "bin/wat/response_hold.wasm", Limits: config.FilterLimits{MaxBodyBytes: 64}}
	front := filterFront(t, hold)
	big := strings.Repeat("a", 100<<10) // several chunks
	status, body := post(t, front, "/x", big)
	if status != 502 || !strings.Contains(body, `filter "hold": the response body is larger`) {
		t.Fatalf("oversized response: %d %.80q, want 502 naming the filter", status, body)
	}
	if status, body := post(t, front, "/x", "ok"); status != 200 || body != "hello ok" {
		t.Fatalf("after 502: %d %q", status, body)
	}
	pass := filterFront(t, config.Filter{Name: "upper", Module: "bin/wat/body_upper.wasm", Limits: config.FilterLimits{MaxBodyBytes: 64}})
	if status, _, body := get(t, pass, "/x"); status != 200 || body != "hello " {
		t.Fatalf("a filter that does not pause: %d %q", status, body)
	}
}

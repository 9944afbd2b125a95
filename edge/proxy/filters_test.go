package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/runtime"
)

// filterFront starts a loopback origin (echoing the request headers it got
// as x-got-<name>), and a Wedge front whose one route runs filters.
func filterFront(t testing.TB, filters ...config.Filter) string {
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
	e, err := runtime.NewEngine(context.Background(), runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	s := New(nil)
	s.UseFilters(Filters{Engine: e})
	for i := range filters {
		if !filepath.IsAbs(filters[i].Module) {
			filters[i].Module = filepath.Join("..", "..", filters[i].Module)
		}
	}
	snap, err := s.Build([]config.Tenant{{
		Name:      "t",
		Domains:   []string{"site.test"},
		Upstreams: []config.Upstream{{Name: "origin", Endpoints: []string{origin.Listener.Addr().String()}}},
		Routes:    []config.Route{{Upstream: "origin", Filters: filters}},
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

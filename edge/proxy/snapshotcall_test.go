package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// TestHTTPCallUsesTheRequestsSnapshot (issue 10 item 10): a filter's
// HTTP call goes to the pool of the snapshot its request holds, not the
// newest one. The first filter's call to "gate" holds the request until
// the test has swapped in a snapshot whose pool "auth" points elsewhere;
// the second filter's call to "auth" must still reach the old service.
func TestHTTPCallUsesTheRequestsSnapshot(t *testing.T) {
	oldAuth, newAuth := newAuthService(t), newAuthService(t)
	release := make(chan struct{})
	var gated atomic.Int32
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gated.Add(1) == 1 {
			<-release
		}
		w.Header().Set("X-User", "gate")
	}))
	defer gate.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "origin saw "+r.Header.Get("X-User"))
	}))
	defer origin.Close()

	mod, _ := filepath.Abs(filepath.Join("..", "..", "bin", "filters", "extauth.wasm"))
	call := func(name, pool string) config.Filter {
		return config.Filter{Name: name, Module: mod, HTTPUpstreams: []string{pool},
			Config: config.FilterConfig(`{"upstream":"` + pool + `","path":"/check","forward_headers":["authorization"],` +
				`"allowed_response_headers":["x-user"],"failure":"deny","timeout_ms":20000}`),
			Limits: config.FilterLimits{CallDeadline: config.Duration(10 * time.Second)}}
	}
	tenant := func(auth string) []config.Tenant {
		return []config.Tenant{{Name: "t", Domains: []string{"site.test"},
			Upstreams: []config.Upstream{
				{Name: "origin", Endpoints: []string{origin.Listener.Addr().String()}},
				{Name: "gate", Endpoints: []string{gate.Listener.Addr().String()}},
				{Name: "auth", Endpoints: []string{auth}},
			},
			Routes: []config.Route{{Upstream: "origin", Filters: []config.Filter{call("gate", "gate"), call("auth", "auth")}}},
		}}
	}
	s := New(nil)
	s.UseFilters(Filters{Engine: testEngine(t)})
	first, err := s.Build(tenant(oldAuth.srv.Listener.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(first)
	front := httptest.NewServer(s.Handler(Listener{Name: "test"}))
	defer front.Close()
	defer func() { closeUnused(s.snap.Load(), nil) }()

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", front.URL+"/x", nil)
		req.Host = "site.test"
		req.Header.Set("Authorization", "Bearer good")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	for gated.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second, err := s.Build(tenant(newAuth.srv.Listener.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(second)
	close(release)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.status != 200 || res.body != "origin saw alice" {
		t.Fatalf("got %d %q, want 200 %q", res.status, res.body, "origin saw alice")
	}
	if o, n := oldAuth.hits.Load(), newAuth.hits.Load(); o != 1 || n != 0 {
		t.Fatalf("the request's snapshot's auth service got %d checks, the newer snapshot's %d; want 1 and 0", o, n)
	}
}

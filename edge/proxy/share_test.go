package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
)

// shareFront serves tenants a (max 2 requests in flight, 1 tunnel) and
// b (the node's defaults) from one origin: /hold blocks until release is
// closed, /ws switches protocols and holds the tunnel until then too.
func shareFront(t *testing.T, release chan struct{}, entered chan struct{}) string {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hold":
			entered <- struct{}{}
			<-release
			io.WriteString(w, "held")
		case "/ws":
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
			brw.Flush()
			entered <- struct{}{}
			<-release
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(origin.Close)
	s := New(nil)
	s.UseTenantShare(config.TenantShare{MaxConcurrentRequests: 100, MaxTunnels: 100})
	ups := []config.Upstream{{Name: "origin", Endpoints: []string{origin.Listener.Addr().String()}}}
	snap, err := s.Build([]config.Tenant{
		{Name: "a", Domains: []string{"a.test"}, Upstreams: ups, Routes: []config.Route{{Upstream: "origin"}},
			Limits: config.TenantLimits{MaxConcurrentRequests: 2, MaxTunnels: 1}},
		{Name: "b", Domains: []string{"b.test"}, Upstreams: ups, Routes: []config.Route{{Upstream: "origin"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(snap)
	front := httptest.NewServer(s.Handler(Listener{Name: "test"}))
	t.Cleanup(front.Close)
	return front.Listener.Addr().String()
}

func hostGet(t *testing.T, front, host, path string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+front+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestTenantConcurrentRequests (issue 11 item 8): a tenant at its limit
// of requests in flight gets 503 with Retry-After, naming the limit;
// another tenant is served meanwhile; once the requests end, the tenant
// is served again.
func TestTenantConcurrentRequests(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 4)
	front := shareFront(t, release, entered)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if status, _, body := hostGet(t, front, "a.test", "/hold"); status != 200 || body != "held" {
				t.Errorf("a held request: %d %q", status, body)
			}
		})
	}
	<-entered
	<-entered
	status, h, body := hostGet(t, front, "a.test", "/x")
	if status != 503 || h.Get("Retry-After") != "1" || !strings.Contains(body, `tenant "a" has 2 requests in flight on this node, its limit`) {
		t.Fatalf("a third request of a: %d %v %q, want 503 naming the limit with Retry-After", status, h, body)
	}
	if status, _, body := hostGet(t, front, "b.test", "/x"); status != 200 || body != "ok" {
		t.Fatalf("tenant b while a is at its limit: %d %q", status, body)
	}
	close(release)
	wg.Wait()
	if status, _, body := hostGet(t, front, "a.test", "/x"); status != 200 || body != "ok" {
		t.Fatalf("a after its requests ended: %d %q", status, body)
	}
}

// TestTenantTunnels: a tenant at its limit of open tunnels gets 503 for
// another upgrade.
func TestTenantTunnels(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 4)
	front := shareFront(t, release, entered)
	upgrade := func() (*http.Response, net.Conn) {
		conn, err := net.Dial("tcp", front)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp, conn
	}
	first, c1 := upgrade()
	defer c1.Close()
	if first.StatusCode != 101 {
		t.Fatalf("first upgrade: %d", first.StatusCode)
	}
	<-entered
	second, c2 := upgrade()
	defer c2.Close()
	b, _ := io.ReadAll(second.Body)
	if second.StatusCode != 503 || !strings.Contains(string(b), `tenant "a" has 1 tunnels open on this node, its limit`) {
		t.Fatalf("second upgrade: %d %q, want 503 naming the limit", second.StatusCode, b)
	}
	close(release)
}

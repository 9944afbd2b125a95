package node

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// dataDir is the node tests' data directory: each test gets its own
// store.
var dataDir string

// allowLoopback is the egress policy of the node tests, whose origins
// are on loopback, which a node refuses by default.
var allowLoopback = config.Egress{Allow: []string{"127.0.0.0/8", "::1"}}

func cfgWith(originAddr, hello string) *config.Config {
	return &config.Config{
		DataDir:   dataDir,
		Listeners: []config.Listener{{Name: "http", Address: "127.0.0.1:0"}},
		Egress:    allowLoopback,
		Tenants: []config.Tenant{{
			Name:      "acme",
			Domains:   []string{"acme.test"},
			Upstreams: []config.Upstream{{Name: "web", Endpoints: []string{originAddr}}},
			Routes: []config.Route{
				{Match: config.Match{Path: "/hello"}, Respond: &config.Respond{Body: hello}},
				{Upstream: "web"},
			},
		}},
	}
}

func fetch(t *testing.T, c *http.Client, addr, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Host = "acme.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestApplyKeepsUpstreamConnections checks that a reload swaps the routes
// at once and that an unchanged pool keeps its keep-alive connection.
func TestApplyKeepsUpstreamConnections(t *testing.T) {
	var conns atomic.Int32
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "origin")
	}))
	origin.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	origin.Start()
	defer origin.Close()
	addr := origin.Listener.Addr().String()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dataDir = t.TempDir()
	n, err := New(cfgWith(addr, "one"), log, "")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	front := n.Addrs()[0].String()
	c := &http.Client{}

	if got := fetch(t, c, front, "/hello"); got != "one" {
		t.Fatalf("before reload: %q", got)
	}
	if got := fetch(t, c, front, "/x"); got != "origin" {
		t.Fatalf("before reload: %q", got)
	}
	if err := n.Apply(cfgWith(addr, "two")); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, c, front, "/hello"); got != "two" {
		t.Fatalf("after reload: %q", got)
	}
	if got := fetch(t, c, front, "/x"); got != "origin" {
		t.Fatalf("after reload: %q", got)
	}
	if got := conns.Load(); got != 1 {
		t.Fatalf("origin saw %d connections across a reload that kept the pool, want 1", got)
	}
}

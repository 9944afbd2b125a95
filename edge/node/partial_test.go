package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

const partialOperator = "partial-operator-token"

// startNode runs a node on cfg until the test ends.
func startNode(t *testing.T, cfg *config.Config) *Node {
	t.Helper()
	n, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), partialOperator)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return n
}

// admin sends one operator request to n's admin API.
func admin(t *testing.T, n *Node, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+n.AdminAddr().String()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+partialOperator)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustAdmin(t *testing.T, n *Node, want int, method, path, body string) {
	t.Helper()
	if code, b := admin(t, n, method, path, body); code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
}

// served polls what n answers for host until it is want.
func served(t *testing.T, n *Node, host, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a bound
	var got []byte
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", "http://"+n.Addrs()[0].String()+"/", nil)
		req.Host = host
		if resp, err := http.DefaultClient.Do(req); err == nil {
			got, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Equal(got, []byte(want)) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s answers %q, want %q", host, got, want)
}

func respondRoutes(body string) string {
	return `{"routes":[{"respond":{"body":"` + body + `"}}]}`
}

// TestOneTenantDoesNotHoldBackTheOthers: the store holds a tenant this
// node cannot serve (its file gives the tenant's domain to another
// tenant, as a point of presence with its own local tenants may). The
// node serves every other store tenant, is ready, reports the refusal,
// and keeps applying the others' changes.
func TestOneTenantDoesNotHoldBackTheOthers(t *testing.T) {
	dir := t.TempDir()
	nodeCfg := func(file []config.Tenant) *config.Config {
		return &config.Config{
			DataDir:   dir,
			Admin:     "127.0.0.1:0",
			Listeners: []config.Listener{{Name: "http", Address: "127.0.0.1:0"}},
			Egress:    allowLoopback,
			Tenants:   file,
		}
	}

	// A node with no file tenants writes two store tenants.
	first := startNode(t, nodeCfg(nil))
	<-first.Ready()
	mustAdmin(t, first, 201, "PUT", "/v1/tenants/shop", "")
	mustAdmin(t, first, 201, "PUT", "/v1/tenants/shop/domains/x.test", "")
	mustAdmin(t, first, 200, "PUT", "/v1/tenants/shop/routes", respondRoutes("shop"))
	mustAdmin(t, first, 201, "PUT", "/v1/tenants/blog", "")
	mustAdmin(t, first, 201, "PUT", "/v1/tenants/blog/domains/blog.test", "")
	mustAdmin(t, first, 200, "PUT", "/v1/tenants/blog/routes", respondRoutes("blog v1"))
	served(t, first, "x.test", "shop")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// The same store under a node whose file gives x.test to "legacy".
	legacy := config.Tenant{
		Name: "legacy", Domains: []string{"x.test"},
		Routes: []config.Route{{Respond: &config.Respond{Body: "legacy"}}},
	}
	n := startNode(t, nodeCfg([]config.Tenant{legacy}))
	select {
	case <-n.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the node never became ready: one tenant held back the whole store")
	}
	served(t, n, "blog.test", "blog v1")
	served(t, n, "x.test", "legacy")
	st := n.Status()
	if !strings.Contains(st.LastError, `tenant "shop" is not served`) || !strings.Contains(st.LastError, "x.test") {
		t.Errorf("status last_error %q: want the refused tenant and why", st.LastError)
	}

	// The others' changes keep landing.
	mustAdmin(t, n, 200, "PUT", "/v1/tenants/blog/routes", respondRoutes("blog v2"))
	served(t, n, "blog.test", "blog v2")
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/news", "")
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/news/domains/news.test", "")
	mustAdmin(t, n, 200, "PUT", "/v1/tenants/news/routes", respondRoutes("news"))
	served(t, n, "news.test", "news")
	served(t, n, "x.test", "legacy")

	// The refused tenant gives x.test up: the node then serves all of it.
	mustAdmin(t, n, 204, "DELETE", "/v1/tenants/shop/domains/x.test", "")
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/shop/domains/shop.test", "")
	served(t, n, "shop.test", "shop")
	deadline := time.Now().Add(30 * time.Second)
	for n.Status().LastError != "" {
		if time.Now().After(deadline) {
			t.Fatalf("status still reports %q once every tenant applies", n.Status().LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

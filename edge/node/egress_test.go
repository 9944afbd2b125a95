package node

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// refusedBody is the start of the body of a request whose upstream the
// egress policy refused; the request ID and a newline follow.
const refusedBody = "wedge: the upstream's address is refused by the node's egress policy (request "

// putProblems sends an operator PUT that must be refused with 400 and
// returns its problems.
func putProblems(t *testing.T, n *Node, path, body string) []string {
	t.Helper()
	code, b := admin(t, n, "PUT", path, body)
	if code != http.StatusBadRequest {
		t.Fatalf("PUT %s %s: %d %s, want 400", path, body, code, b)
	}
	var doc struct {
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(b), &doc); err != nil {
		t.Fatalf("PUT %s: %v in %s", path, err, b)
	}
	return doc.Problems
}

// answer polls GET path on host until the node answers status, and
// returns the body (the route may take a moment to be applied).
func answer(t *testing.T, n *Node, host, path string, status int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a bound
	var got string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", "http://"+n.Addrs()[0].String()+path, nil)
		req.Host = host
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got = resp.Status + " " + string(b)
			if resp.StatusCode == status {
				return string(b)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("GET %s%s: %s, want status %d", host, path, got, status)
	return ""
}

func countingOrigin(t *testing.T, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, body)
	}))
	t.Cleanup(o.Close)
	return o, &hits
}

// TestNodeEgressDefault: a node file without egress refuses tenants
// loopback and link-local (cloud metadata) destinations. A literal
// address is refused when written, with 400 naming the field; a name
// passes, and is refused when dialled, on the address it resolves to
// (localhost is 127.0.0.1): 502 naming the policy, and nothing reaches
// the origin. On main before the policy, every one of these was
// accepted and forwarded.
func TestNodeEgressDefault(t *testing.T) {
	origin, hits := countingOrigin(t, "origin")
	_, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	n := startNode(t, &config.Config{
		DataDir:   t.TempDir(),
		Admin:     "127.0.0.1:0",
		Listeners: []config.Listener{{Name: "http", Address: "127.0.0.1:0"}},
	})
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/acme", "")
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/acme/domains/app.test", "")
	for _, tc := range []struct{ pool, endpoint, problem string }{
		{"meta", "169.254.169.254:80", "upstreams[meta].endpoints[0]: 169.254.169.254:80 is refused by the node's egress policy (link-local)"},
		{"local", origin.Listener.Addr().String(), "upstreams[local].endpoints[0]: " + origin.Listener.Addr().String() + " is refused by the node's egress policy (loopback)"},
		{"mapped", "[::ffff:127.0.0.1]:" + port, "upstreams[mapped].endpoints[0]: [::ffff:127.0.0.1]:" + port + " is refused by the node's egress policy (loopback)"},
		{"v6", "[::1]:" + port, "upstreams[v6].endpoints[0]: [::1]:" + port + " is refused by the node's egress policy (loopback)"},
	} {
		got := putProblems(t, n, "/v1/tenants/acme/upstreams/"+tc.pool, `{"endpoints":["`+tc.endpoint+`"]}`)
		if len(got) != 1 || got[0] != tc.problem {
			t.Errorf("PUT pool %s at %s: problems %q, want [%q]", tc.pool, tc.endpoint, got, tc.problem)
		}
	}
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/acme/upstreams/byname", `{"endpoints":["localhost:`+port+`"]}`)
	mustAdmin(t, n, 200, "PUT", "/v1/tenants/acme/routes", `{"routes":[{"upstream":"byname"}]}`)
	body := answer(t, n, "app.test", "/", http.StatusBadGateway)
	if !strings.HasPrefix(body, refusedBody) || !strings.HasSuffix(body, ")\n") {
		t.Errorf("502 body %q, want %q…", body, refusedBody)
	}
	if h := hits.Load(); h != 0 {
		t.Errorf("the origin got %d requests, want 0", h)
	}
}

// TestNodeEgressOwnEndpoints: with loopback allowed, the node's own
// admin API, on loopback too, stays refused: as a literal address at
// write time, and through a name at dial time, while the origin the
// operator allowed is served. With the admin API on a wildcard address,
// each of the host's addresses with its port is the node's own.
func TestNodeEgressOwnEndpoints(t *testing.T) {
	origin, hits := countingOrigin(t, "origin")
	n := startNode(t, &config.Config{
		DataDir:   t.TempDir(),
		Admin:     "127.0.0.1:0",
		Listeners: []config.Listener{{Name: "http", Address: "127.0.0.1:0"}},
		Egress:    allowLoopback,
	})
	adminAddr := n.AdminAddr().String()
	_, adminPort, _ := net.SplitHostPort(adminAddr)
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/acme", "")
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/acme/domains/app.test", "")
	got := putProblems(t, n, "/v1/tenants/acme/upstreams/admin", `{"endpoints":["`+adminAddr+`"]}`)
	if want := "upstreams[admin].endpoints[0]: " + adminAddr + " is refused by the node's egress policy (the node's admin API)"; len(got) != 1 || got[0] != want {
		t.Errorf("PUT a pool at the admin API: problems %q, want [%q]", got, want)
	}
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/acme/upstreams/origin", `{"endpoints":["`+origin.Listener.Addr().String()+`"]}`)
	mustAdmin(t, n, 201, "PUT", "/v1/tenants/acme/upstreams/adminbyname", `{"endpoints":["localhost:`+adminPort+`"]}`)
	mustAdmin(t, n, 200, "PUT", "/v1/tenants/acme/routes",
		`{"routes":[{"match":{"path_prefix":"/v1/"},"upstream":"adminbyname"},{"upstream":"origin"}]}`)
	if body := answer(t, n, "app.test", "/", http.StatusOK); body != "origin" {
		t.Errorf("the allowed origin answered %q, want origin", body)
	}
	body := answer(t, n, "app.test", "/v1/status", http.StatusBadGateway)
	if !strings.HasPrefix(body, refusedBody) {
		t.Errorf("a pool naming the admin API: body %q, want %q…", body, refusedBody)
	}
	if h := hits.Load(); h != 1 {
		t.Errorf("the origin got %d requests, want 1", h)
	}

	wild := startNode(t, &config.Config{
		DataDir:   t.TempDir(),
		Admin:     "0.0.0.0:0",
		Listeners: []config.Listener{{Name: "http", Address: "127.0.0.1:0"}},
		Egress:    allowLoopback,
	})
	_, wildPort, _ := net.SplitHostPort(wild.AdminAddr().String())
	mustAdmin(t, wild, 201, "PUT", "/v1/tenants/acme", "")
	got = putProblems(t, wild, "/v1/tenants/acme/upstreams/admin", `{"endpoints":["127.0.0.1:`+wildPort+`"]}`)
	if want := "upstreams[admin].endpoints[0]: 127.0.0.1:" + wildPort + " is refused by the node's egress policy (the node's admin API)"; len(got) != 1 || got[0] != want {
		t.Errorf("PUT a pool at the wildcard admin API on loopback: problems %q, want [%q]", got, want)
	}
}

package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wedgeproxy/wedge/edge/control/store/storetest"
)

// countingPort listens on a loopback port and counts the connections it
// accepts (closing each at once): a service on the node's host that no
// tenant is allowed to reach.
func countingPort(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// TestE2EEgress: a node on etcd whose operator allows one origin on
// loopback, and nothing else there. A tenant managed through the admin
// API cannot point a pool at the node's admin API, at etcd (whose JSON
// gateway, POST /v3/kv/put, writes any key of the store), at another
// loopback port or at cloud metadata: a literal address is refused when
// written, with 400 naming each field; a name that resolves to one of
// them (localhost) is accepted, and refused when dialled: 502 naming the
// policy, the address in the log line, nothing reaching the service. A
// filter's HTTP call is refused the same way. The allowed origin serves
// the admin-API tenant and the node file's tenant. On main before the
// egress policy, every write was accepted and the etcd put went through.
func TestE2EEgress(t *testing.T) {
	t.Parallel()
	etcd := storetest.StartEtcd(t)
	etcdURL := etcd.Endpoints()[0]
	etcdAddr := strings.TrimPrefix(etcdURL, "http://")
	_, etcdPort, _ := net.SplitHostPort(etcdAddr)
	origin := startOrigin(t, nil)
	loop, loopConns := countingPort(t)
	_, loopPort, _ := net.SplitHostPort(loop)
	sum := sha256.Sum256([]byte(fleetOperator))
	n := startWedge(t, fmt.Sprintf(`egress:
  allow: [%q]   # the operator's origin, on loopback: only that port
listeners:
  - name: http
    address: 127.0.0.1:0
admin: 127.0.0.1:0
admin_token_sha256: %s
data_dir: %s
store:
  type: etcd
  endpoints: [%s]
  prefix: /wedge-egress/
  dial_timeout: 2s
tenants:
  - name: ops
    domains: [ops.test]
    upstreams:
      - name: origin
        endpoints: [%s]
    routes:
      - upstream: origin
`, origin, hex.EncodeToString(sum[:]), t.TempDir(), etcdURL, origin), "http")
	adminAddr := n.waitMsg(0, "admin listening").str("addr")
	_, adminPort, _ := net.SplitHostPort(adminAddr)
	a := &fleetNode{wedgeNode: n, admin: "http://" + adminAddr}
	cn := &cliNode{wedgeNode: n, admin: a.admin}
	c := newClient(t, protoH1, n.addr("http"))

	a.must(201, "PUT", "/v1/tenants/acme", nil, "")
	a.must(201, "PUT", "/v1/tenants/acme/domains/acme.test", nil, "")

	// Literal addresses: 400, every field named, nothing written.
	status, body, _ := a.api("PUT", "/v1/tenants/acme/config", fmt.Appendf(nil,
		`{"upstreams":[{"name":"admin","endpoints":[%q]},{"name":"etcd","endpoints":[%q]},{"name":"loop","endpoints":[%q]},{"name":"meta","endpoints":["169.254.169.254:80"]}],"routes":[{"upstream":"admin"}]}`,
		adminAddr, etcdAddr, loop), "application/json")
	var refusal struct {
		Error    string   `json:"error"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(body), &refusal); err != nil {
		t.Fatalf("PUT config: %d %s", status, body)
	}
	want := []string{
		"upstreams[admin].endpoints[0]: " + adminAddr + " is refused by the node's egress policy (the node's admin API)",
		"upstreams[etcd].endpoints[0]: " + etcdAddr + " is refused by the node's egress policy (the node's etcd store)",
		"upstreams[loop].endpoints[0]: " + loop + " is refused by the node's egress policy (loopback)",
		"upstreams[meta].endpoints[0]: 169.254.169.254:80 is refused by the node's egress policy (link-local)",
	}
	if status != 400 || !slices.Equal(refusal.Problems, want) {
		t.Errorf("PUT config with literal addresses: %d %s\nwant 400 with problems %q", status, body, want)
	}

	// Names: accepted, and checked on the address they resolve to.
	extauth := wasmFile(t, "bin/filters/extauth.wasm")
	a.must(201, "PUT", "/v1/tenants/acme/filters/extauth", extauth, "application/wasm")
	a.must(200, "PUT", "/v1/tenants/acme/config", fmt.Appendf(nil, `{"upstreams":[
  {"name":"admin","endpoints":["localhost:%s"]},
  {"name":"etcd","endpoints":["localhost:%s"]},
  {"name":"loop","endpoints":["localhost:%s"]},
  {"name":"origin","endpoints":[%q]}],
"routes":[
  {"match":{"path_prefix":"/v1/"},"upstream":"admin"},
  {"match":{"path_prefix":"/v3/"},"upstream":"etcd"},
  {"match":{"path_prefix":"/loop/"},"upstream":"loop"},
  {"match":{"path_prefix":"/authed/"},"upstream":"origin","filters":[
    {"name":"authz","module":"extauth","http_upstreams":["loop"],"config":{"upstream":"loop","path":"/check","timeout_ms":5000}}]},
  {"upstream":"origin"}]}`, adminPort, etcdPort, loopPort, origin), "application/json")

	// The allowed origin serves both tenants.
	for _, host := range []string{"acme.test", "ops.test"} {
		cn.served(t, host, "/hello", "served by the origin", func(r *http.Response) bool { return r.StatusCode == 200 })
	}

	put := `{"key":"` + base64.StdEncoding.EncodeToString([]byte("/wedge-egress/stolen")) + `","value":"` + base64.StdEncoding.EncodeToString([]byte("x")) + `"}`
	for _, tc := range []struct {
		name, method, path, body, addr, reason string
	}{
		{"admin API", "GET", "/v1/status", "", "127.0.0.1:" + adminPort, "the node's admin API"},
		{"etcd JSON gateway", "POST", "/v3/kv/put", put, "127.0.0.1:" + etcdPort, "the node's etcd store"},
		{"another loopback port", "GET", "/loop/x", "", "127.0.0.1:" + loopPort, "loopback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://acme.test"+tc.path, strings.NewReader(tc.body))
			resp, body := do(t, c, req)
			id := resp.Header.Get("X-Request-Id")
			if want := "wedge: the upstream's address is refused by the node's egress policy (request " + id + ")\n"; resp.StatusCode != 502 || body != want {
				t.Fatalf("%s %s: %d %q, want 502 %q", tc.method, tc.path, resp.StatusCode, body, want)
			}
			l, err := n.waitLog(0, hangGuard, func(l logLine) bool { return l.str("request_id") == id })
			if err != nil {
				t.Fatalf("no log line with request_id %s: %v", id, err)
			}
			if want := "upstream: " + tc.addr + " is refused by the node's egress policy (" + tc.reason + ")"; l.str("error") != want || l.str("tenant") != "acme" {
				t.Errorf("log line %s\nwant tenant acme and error %q", l.raw, want)
			}
		})
	}

	// A filter's HTTP call to a refused pool fails: extauth answers its
	// failure mode (deny: 503), and the request goes nowhere.
	resp, body := get(t, c, "http://acme.test/authed/x")
	if resp.StatusCode != 503 || body != "authorization service unavailable\n" {
		t.Errorf("extauth checking at a refused pool: %d %q, want 503 %q", resp.StatusCode, body, "authorization service unavailable\n")
	}
	if got := loopConns.Load(); got != 0 {
		t.Errorf("the loopback port accepted %d connections, want 0", got)
	}

	// The etcd put never reached etcd: the key is not in the store.
	rng := `{"key":"` + base64.StdEncoding.EncodeToString([]byte("/wedge-egress/stolen")) + `"}`
	r, err := http.Post(etcdURL+"/v3/kv/range", "application/json", strings.NewReader(rng))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	var kv struct {
		Count string            `json:"count"`
		KVs   []json.RawMessage `json:"kvs"`
	}
	if err := json.Unmarshal(b, &kv); err != nil || r.StatusCode != 200 || len(kv.KVs) != 0 {
		t.Errorf("etcd range of the key: %d %s, want no key", r.StatusCode, b)
	}
}

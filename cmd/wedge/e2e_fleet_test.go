package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store/storetest"
)

// The fleet tests run several wedge nodes on one etcd, as points of
// presence do.

const fleetOperator = "fleet-operator-token"

// fleetNode is a wedge node of a fleet, with its admin API.
type fleetNode struct {
	*wedgeNode
	admin string // http://host:port
}

// startFleetNode starts a node named name on etcd at endpoints, under
// prefix.
func startFleetNode(t *testing.T, name string, endpoints []string, prefix string) *fleetNode {
	t.Helper()
	return startFleetNodeIn(t, name, endpoints, prefix, t.TempDir())
}

// startFleetNodeIn is startFleetNode with the data directory dataDir.
func startFleetNodeIn(t *testing.T, name string, endpoints []string, prefix, dataDir string) *fleetNode {
	t.Helper()
	sum := sha256.Sum256([]byte(fleetOperator))
	eps, _ := json.Marshal(endpoints)
	cfg := fmt.Sprintf(loopbackEgress+`node_name: %s
listeners:
  - name: http
    address: 127.0.0.1:0
admin: 127.0.0.1:0
admin_token_sha256: %s
data_dir: %s
store:
  type: etcd
  endpoints: %s
  prefix: %s
  dial_timeout: 2s
`, name, hex.EncodeToString(sum[:]), dataDir, eps, prefix)
	n := startWedge(t, cfg, "http")
	l := n.waitMsg(0, "admin listening")
	return &fleetNode{wedgeNode: n, admin: "http://" + l.str("addr")}
}

// api sends one admin request with the operator's token and returns the
// status, body and the store revision it wrote (X-Wedge-Revision).
func (n *fleetNode) api(method, path string, body []byte, ctype string) (int, string, int64) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.admin+path, bytes.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+fleetOperator)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	rev, _ := strconv.ParseInt(resp.Header.Get("X-Wedge-Revision"), 10, 64)
	return resp.StatusCode, string(b), rev
}

func (n *fleetNode) must(want int, method, path string, body []byte, ctype string) int64 {
	n.t.Helper()
	status, b, rev := n.api(method, path, body, ctype)
	if status != want {
		n.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	return rev
}

// status is the node's GET /v1/status (the operator's view).
func (n *fleetNode) status() (rev int64, storeOK bool) {
	n.t.Helper()
	resp, err := n.getStatus()
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Revision int64 `json:"revision"`
		StoreOK  bool  `json:"store_ok"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		n.t.Fatal(err)
	}
	return st.Revision, st.StoreOK
}

// fetch GETs path on host through the node's HTTP listener.
func (n *fleetNode) fetch(host, path string) (*http.Response, string, error) {
	req, _ := http.NewRequest("GET", "http://"+n.addr("http")+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// waitServed polls until ok holds for what the node answers, and
// returns how long that took; it fails the test after timeout.
func (n *fleetNode) waitServed(timeout time.Duration, host, path string, ok func(*http.Response, string) bool) time.Duration {
	n.t.Helper()
	start := time.Now()
	for {
		resp, body, err := n.fetch(host, path)
		if err == nil && ok(resp, body) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			n.t.Fatalf("%s%s not served as expected within %s (last: %v %v %q)", host, path, timeout, resp != nil && resp.StatusCode != 0, err, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wasmFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatalf("%v (make wat filters builds it)", err)
	}
	return b
}

// TestE2EFleetOnEtcd: two nodes share one etcd. A filter pushed and routes
// applied through node A are served by node B within 2 s; node B keeps
// serving when etcd stops, and catches up when it returns.
func TestE2EFleetOnEtcd(t *testing.T) {
	etcd := storetest.StartEtcd(t)
	origin := startOrigin(t, nil)
	prefix := "/wedge-e2e/"
	a := startFleetNode(t, "pop-a", etcd.Endpoints(), prefix)
	b := startFleetNode(t, "pop-b", etcd.Endpoints(), prefix)

	a.must(201, "PUT", "/v1/tenants/acme", []byte(`{"limits":{"request_rate":10000}}`), "application/json")
	a.must(201, "PUT", "/v1/tenants/acme/domains/app.test", nil, "")
	a.must(201, "PUT", "/v1/tenants/acme/filters/stamp", wasmFile(t, "bin/wat/add_header.wasm"), "application/wasm")
	routes := fmt.Sprintf(`upstreams:
  - name: origin
    endpoints: [%s]
routes:
  - upstream: origin
    filters:
      - name: stamp
        module: stamp
`, origin)
	wrote := a.must(200, "PUT", "/v1/tenants/acme/config", []byte(routes), "application/yaml")
	// The bound: served by the other node within 2 s of the
	// change being accepted. The etcd watch makes it milliseconds.
	took := b.waitServed(2*time.Second, "app.test", "/x", func(r *http.Response, _ string) bool {
		return r.StatusCode == 200 && r.Header.Get("X-Wat-Response") == "1"
	})
	t.Logf("change accepted by node A served by node B after %s", took)
	if rev, _ := b.status(); rev < wrote {
		t.Fatalf("node B serves revision %d, before the write at %d", rev, wrote)
	}
	var nodes struct {
		Nodes []struct {
			Node     string `json:"node"`
			Revision int64  `json:"revision"`
		} `json:"nodes"`
	}
	_, body, _ := a.api("GET", "/v1/nodes", nil, "")
	if err := json.Unmarshal([]byte(body), &nodes); err != nil || len(nodes.Nodes) != 2 {
		t.Fatalf("nodes: %s", body)
	}

	// etcd stops: node B keeps serving its last snapshot, and says the
	// store is lost; a write through A is refused whole.
	etcd.Stop()
	for i := range 20 {
		resp, _, err := b.fetch("app.test", fmt.Sprintf("/during-outage/%d", i))
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Wat-Response") != "1" {
			t.Fatalf("node B during the outage: %v %v", resp, err)
		}
	}
	deadline := time.Now().Add(hangGuard)
	for _, ok := b.status(); ok; _, ok = b.status() {
		if time.Now().After(deadline) {
			t.Fatal("node B still reports the store reachable")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, body, _ := a.api("PUT", "/v1/tenants/acme/upstreams/more", []byte(`{"endpoints":["127.0.0.1:9"]}`), ""); status != 503 {
		t.Fatalf("a write with etcd down: %d %s, want 503", status, body)
	}

	// etcd returns: a change through A reaches B.
	etcd.Start()
	routes2 := fmt.Sprintf(`upstreams:
  - name: origin
    endpoints: [%s]
routes:
  - match: {path: /new}
    respond: {body: "new route"}
  - upstream: origin
    filters:
      - name: stamp
        module: stamp
`, origin)
	deadline = time.Now().Add(hangGuard)
	for {
		status, body, _ := a.api("PUT", "/v1/tenants/acme/config", []byte(routes2), "application/yaml")
		if status == 200 {
			break
		}
		if status != 503 || time.Now().After(deadline) {
			t.Fatalf("write after etcd returned: %d %s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took = b.waitServed(hangGuard, "app.test", "/new", func(r *http.Response, body string) bool {
		return r.StatusCode == 200 && body == "new route"
	})
	t.Logf("after etcd returned, node B caught up in %s", took)
	if _, ok := b.status(); !ok {
		t.Error("node B serves the new change but reports the store lost")
	}
}

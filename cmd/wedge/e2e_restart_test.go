package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store/storetest"
)

// TestE2ERestartWithoutEtcd: a node restarted while etcd is down serves
// the tenant layer it last applied, filters included (their modules are
// verified copies on its disk), says so in its status, and follows etcd
// again when it returns.
func TestE2ERestartWithoutEtcd(t *testing.T) {
	etcd := storetest.StartEtcd(t)
	origin := startOrigin(t, nil)
	dir := t.TempDir()
	a := startFleetNodeIn(t, "restart-a", etcd.Endpoints(), "/wedge-restart/", dir)
	a.must(201, "PUT", "/v1/tenants/acme", nil, "")
	a.must(201, "PUT", "/v1/tenants/acme/domains/app.test", nil, "")
	a.must(201, "PUT", "/v1/tenants/acme/filters/stamp", wasmFile(t, "bin/wat/add_header.wasm"), "application/wasm")
	a.must(200, "PUT", "/v1/tenants/acme/config", []byte(fmt.Sprintf(`upstreams:
  - name: origin
    endpoints: [%s]
routes:
  - upstream: origin
    filters: [{name: stamp, module: stamp}]
`, origin)), "application/yaml")
	stamped := func(r *http.Response, _ string) bool {
		return r.StatusCode == 200 && r.Header.Get("X-Wat-Response") == "1"
	}
	a.waitServed(hangGuard, "app.test", "/x", stamped)
	served, _ := a.status()

	a.stop()
	etcd.Stop()
	b := startFleetNodeIn(t, "restart-a", etcd.Endpoints(), "/wedge-restart/", dir)
	b.waitServed(hangGuard, "app.test", "/after-restart", stamped)
	st := fullStatus(t, b)
	if !st.FromCache || st.StoreOK || st.Revision != served {
		t.Fatalf("status on the cached layer: %+v, want from_cache, store_ok false, revision %d", st, served)
	}

	// etcd returns: the node follows it again.
	etcd.Start()
	waitWrite(t, b, "PUT", "/v1/tenants/acme/routes", []byte(`{"routes":[{"respond":{"body":"after etcd"}}]}`))
	b.waitServed(hangGuard, "app.test", "/y", func(r *http.Response, body string) bool { return body == "after etcd" })
	if st := fullStatus(t, b); st.FromCache || !st.StoreOK {
		t.Errorf("after etcd returned: %+v", st)
	}
}

type nodeStatus struct {
	Revision  int64 `json:"revision"`
	StoreOK   bool  `json:"store_ok"`
	FromCache bool  `json:"from_cache"`
}

func fullStatus(t *testing.T, n *fleetNode) nodeStatus {
	t.Helper()
	resp, err := n.getStatus()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st nodeStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitWrite repeats a write refused with 503 while the store comes back.
func waitWrite(t *testing.T, n *fleetNode, method, path string, body []byte) {
	t.Helper()
	for i := 0; ; i++ {
		status, b, _ := n.api(method, path, body, "")
		if status < 300 {
			return
		}
		if status != 503 || i > 300 {
			t.Fatalf("%s %s: %d %s", method, path, status, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// getStatus sends GET /v1/status with the operator's token (it needs
// one).
func (n *fleetNode) getStatus() (*http.Response, error) {
	req, err := http.NewRequest("GET", n.admin+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+fleetOperator)
	return http.DefaultClient.Do(req)
}

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store/storetest"
)

// TestE2EFleetPurge: a tenant purges through node A; node B, which holds
// the same entry in its own cache, drops it too.
func TestE2EFleetPurge(t *testing.T) {
	etcd := storetest.StartEtcd(t)
	var fetched atomic.Int32
	origin := startOrigin(t, map[string]http.Handler{
		"/page": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := fetched.Add(1)
			w.Header().Set("Cache-Control", "max-age=600")
			fmt.Fprintf(w, "fetch %d", n)
		}),
	})
	a := startFleetNode(t, "purge-a", etcd.Endpoints(), "/wedge-purge/")
	b := startFleetNode(t, "purge-b", etcd.Endpoints(), "/wedge-purge/")

	a.must(201, "PUT", "/v1/tenants/acme", nil, "")
	a.must(201, "PUT", "/v1/tenants/acme/domains/app.test", nil, "")
	a.must(200, "PUT", "/v1/tenants/acme/config", []byte(fmt.Sprintf(`upstreams:
  - name: origin
    endpoints: [%s]
routes:
  - upstream: origin
    cache: {enabled: true}
`, origin)), "application/yaml")

	// Node B caches the page: its second answer is the first's.
	b.waitServed(hangGuard, "app.test", "/page", func(r *http.Response, body string) bool {
		return r.StatusCode == 200 && strings.HasPrefix(body, "fetch ")
	})
	_, cached, err := b.fetch("app.test", "/page")
	if err != nil {
		t.Fatal(err)
	}
	if _, again, _ := b.fetch("app.test", "/page"); again != cached {
		t.Fatalf("node B did not cache the page: %q then %q", cached, again)
	}

	// Purged through A, with the tenant's own token.
	var tok struct{ Token string }
	status, body, _ := a.api("POST", "/v1/tenants/acme/tokens", nil, "")
	if status != 201 {
		t.Fatalf("token: %d %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %v %s", err, body)
	}
	req, _ := http.NewRequest("POST", a.admin+"/v1/tenants/acme/purge", strings.NewReader(`{"url":"http://app.test/page"}`))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("purge through A: %d", resp.StatusCode)
	}
	took := b.waitServed(hangGuard, "app.test", "/page", func(r *http.Response, body string) bool {
		return r.StatusCode == 200 && body != cached
	})
	t.Logf("a purge accepted by node A emptied node B's entry within %s", took.Round(time.Millisecond))
}

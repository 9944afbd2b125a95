package control

import (
	"strings"
	"testing"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// FuzzTenants: whatever the store holds under tenants/ (the API writes
// only sound values, but a store can be edited behind its back), turning
// it into configuration gives tenants or an error, never a panic.
func FuzzTenants(f *testing.F) {
	f.Add("tenant", `{"limits":{"request_rate":5}}`, "routes", `[{"upstream":"web","filters":[{"name":"f","module":"stamp"}]}]`, "upstreams/web", `{"endpoints":["127.0.0.1:1"]}`)
	f.Add("tenant", `{}`, "filters/stamp", `{"versions":[{"version":1,"sha256":"ab"}]}`, "domains/a.test", `{}`)
	f.Add("tenant", `null`, "routes", `{"routes":1}`, "tokens/t_1", `[]`)
	f.Add("serial", `{}`, "upstreams/", `{"endpoints":null}`, "x/y/z", "\xff")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		kvs := []store.KV{
			{Key: tenantPrefix("acme") + k1, Value: []byte(v1), ModRev: 1},
			{Key: tenantPrefix("acme") + k2, Value: []byte(v2), ModRev: 2},
			{Key: tenantPrefix("acme") + k3, Value: []byte(v3), ModRev: 3},
		}
		ts, err := Tenants(kvs)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "control: ") {
				t.Errorf("error without the package prefix: %v", err)
			}
			return
		}
		for _, tn := range ts {
			if tn.Name == "" {
				t.Errorf("a tenant without a name: %+v", tn)
			}
		}
	})
}

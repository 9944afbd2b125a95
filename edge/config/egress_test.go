package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// The file's own endpoints that are literal addresses are in the
// policy Parse checks the file's tenants with, and loopback for a
// wildcard address or localhost; a port-0 admin address and other names
// are left to the node, which knows the bound address and resolves.
func TestEgressConfigOwnEndpoints(t *testing.T) {
	for _, tc := range []struct {
		admin string
		store Store
		want  []string
	}{
		{"127.0.0.1:9900", Store{}, []string{"127.0.0.1:9900 the node's admin API"}},
		{"127.0.0.1:0", Store{}, nil},
		{":0", Store{}, nil},
		{":9900", Store{}, []string{"127.0.0.1:9900 the node's admin API", "[::1]:9900 the node's admin API"}},
		{"0.0.0.0:9900", Store{}, []string{"127.0.0.1:9900 the node's admin API", "[::1]:9900 the node's admin API"}},
		{"localhost:9900", Store{}, []string{"127.0.0.1:9900 the node's admin API", "[::1]:9900 the node's admin API"}},
		{"admin.internal:9900", Store{}, nil},
		{"", Store{Type: StoreEtcd, Endpoints: []string{"10.0.0.5:2379", "https://[2001:db8::5]:2379", "http://10.0.0.6:2379", "etcd.internal:2379"}},
			[]string{"10.0.0.5:2379 the node's etcd store", "[2001:db8::5]:2379 the node's etcd store", "10.0.0.6:2379 the node's etcd store"}},
	} {
		c := &Config{Admin: tc.admin, Store: tc.store}
		var got []string
		for _, e := range c.EgressConfig().Own {
			got = append(got, e.Addr.String()+" "+e.What)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("admin %q store %v: own = %q, want %q", tc.admin, tc.store.Endpoints, got, tc.want)
		}
	}
	c := &Config{Egress: Egress{Allow: []string{"127.0.0.1:8081"}, Deny: []string{"10.0.0.0/8"}, Otherwise: EgressDeny}}
	ec := c.EgressConfig()
	if len(ec.Allow) != 1 || ec.Allow[0].String() != "127.0.0.1:8081" || len(ec.Deny) != 1 || ec.Deny[0].Prefix != netip.MustParsePrefix("10.0.0.0/8") || !ec.OtherwiseDeny {
		t.Errorf("EgressConfig = %+v", ec)
	}
}

// Parse checks the file's tenants against the file's policy; Validate,
// which a node runs on the file's and the store's tenants together,
// does not: a store tenant that another node's policy accepted is
// served, and its refused endpoints answer 502 when dialled.
func TestFileTenantsFollowTheFilesEgress(t *testing.T) {
	const base = `listeners:
  - address: ":8080"
tenants:
  - name: acme
    domains: [acme.test]
    upstreams:
      - name: web
        endpoints: [127.0.0.1:8081]
    routes:
      - upstream: web
`
	_, err := Parse([]byte(base), "wedge.yaml", "")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "tenants[0].upstreams[0].endpoints[0]" || fe.Msg != "127.0.0.1:8081 is refused by the node's egress policy (loopback)" || fe.Line != 8 {
		t.Fatalf("Parse = %v, want the loopback endpoint refused at tenants[0].upstreams[0].endpoints[0] (line 8)", err)
	}
	cfg, err := Parse([]byte(base+"egress:\n  allow: [127.0.0.1:8081]\n"), "wedge.yaml", "")
	if err != nil {
		t.Fatalf("Parse with the origin allowed: %v", err)
	}
	cfg.Egress = Egress{}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate checked the tenants' egress: %v", err)
	}
	if err := CheckTenantEgress(&cfg.Tenants[0], nil); err != nil {
		t.Fatalf("CheckTenantEgress with no policy: %v", err)
	}
}

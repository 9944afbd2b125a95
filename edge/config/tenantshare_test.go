package config

import (
	"slices"
	"strings"
	"testing"
)

// TestTenantShare: a tenant's own limits override the node's share, the
// node's zero fields take the defaults, and out-of-range values are
// refused naming the field.
func TestTenantShare(t *testing.T) {
	node := TenantShare{MaxConcurrentRequests: 100}
	got := node.For(&TenantLimits{MaxTunnels: 3})
	if want := (TenantShare{MaxConcurrentRequests: 100, MaxTunnels: 3}); got != want {
		t.Fatalf("For = %+v, want %+v", got, want)
	}
	got = (TenantShare{}).For(&TenantLimits{MaxConcurrentRequests: 7})
	if want := (TenantShare{MaxConcurrentRequests: 7, MaxTunnels: DefaultTenantMaxTunnels}); got != want {
		t.Fatalf("For = %+v, want %+v", got, want)
	}

	tests := []struct {
		name string
		l    TenantLimits
		want []string
	}{
		{"zero", TenantLimits{}, nil},
		{"set", TenantLimits{MaxConcurrentRequests: 10, MaxTunnels: 2}, nil},
		{"negative", TenantLimits{MaxConcurrentRequests: -1}, []string{"limits.max_concurrent_requests: -1: want 0 (the node's default) to 1000000"}},
		{"too many", TenantLimits{MaxTunnels: 2_000_000}, []string{"limits.max_tunnels: 2000000: want 0 (the node's default) to 1000000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := capsTenant(tt.l)
			got := problemsOf(t, ValidateTenantWith(&tn, FilterCaps{}))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("problems %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNodeTenantShareValidated: the node file's limits.tenants fields are
// checked too.
func TestNodeTenantShareValidated(t *testing.T) {
	_, err := Parse([]byte("listeners:\n  - name: web\n    address: 127.0.0.1:0\nlimits:\n  tenants:\n    max_concurrent_requests: -5\n"), "wedge.yaml", ".")
	if err == nil || !strings.Contains(err.Error(), "limits.tenants.max_concurrent_requests: -5: want 0 (the node's default) to 1000000") {
		t.Fatalf("got %v, want the field named", err)
	}
}

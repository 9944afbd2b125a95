package config

import (
	"strings"
	"testing"
)

// TestQuotasInTheNodeFile: limits.quotas and limits.uploads decode
// strictly and are validated, each bad field named.
func TestQuotasInTheNodeFile(t *testing.T) {
	good := `listeners: [{address: "127.0.0.1:0"}]
limits:
  quotas: {max_filters: 5, max_filter_versions: 3, max_stored_bytes: 1048576, max_pools: 4, max_endpoints: 8, max_routes: 9, max_domains: 2, purges_per_minute: 10, max_concurrent_uploads: 1}
  uploads: {workers: 2, queue: 3}
`
	cfg, err := Parse([]byte(good), "wedge.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	want := Quotas{MaxFilters: 5, MaxFilterVersions: 3, MaxStoredBytes: 1 << 20, MaxPools: 4, MaxEndpoints: 8, MaxRoutes: 9, MaxDomains: 2, PurgesPerMinute: 10, MaxConcurrentUploads: 1}
	if cfg.Limits.Quotas != want || cfg.Limits.Uploads != (Uploads{Workers: 2, Queue: 3}) {
		t.Fatalf("decoded %+v %+v", cfg.Limits.Quotas, cfg.Limits.Uploads)
	}
	if got := want.For(Quotas{MaxRoutes: 1}); got.MaxRoutes != 1 || got.MaxFilters != 5 {
		t.Fatalf("a tenant's own quota: %+v", got)
	}
	bad := `listeners: [{address: "127.0.0.1:0"}]
limits:
  quotas: {max_filters: -1, max_stored_bytes: -5, purges_per_minute: 2000000, max_quota: 1}
  uploads: {workers: -1, queue: -2}
`
	_, err = Parse([]byte(bad), "wedge.yaml", "")
	if err == nil {
		t.Fatal("bad quotas accepted")
	}
	for _, w := range []string{
		`limits.quotas.max_quota: unknown field "max_quota"`,
		"limits.quotas.max_filters: -1: want 0 (the default) to 1000000",
		"limits.quotas.max_stored_bytes: -5: want 0 (the default) to 1 TiB",
		"limits.quotas.purges_per_minute: 2000000: want 0 (the default) to 1000000",
		"limits.uploads.workers: -1: want 0 (the default) to 1024",
		"limits.uploads.queue: -2: want 0 (the default) to 1000000",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

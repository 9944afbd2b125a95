package proxy

import (
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/runtime"
)

// TestFilterLimitsNodeCaps: a filter limit left at 0 takes the lower of
// the runtime's default and the node's maximum (0 stays 0, for the
// runtime's default, when the maximum is above it); one set above the
// maximum is lowered to it; the tenant's caps still tighten; no maximums
// leave today's limits. On today's main the node's maximums did not exist.
func TestFilterLimitsNodeCaps(t *testing.T) {
	const mib = 1 << 20
	// A default instance count is set (to the maximum) only when
	// GOMAXPROCS, the runtime's default, is above the maximum.
	defInstances, tightInstances := 0, 0
	if goruntime.GOMAXPROCS(0) > 4 {
		defInstances = 4
	}
	if goruntime.GOMAXPROCS(0) > 1 {
		tightInstances = 1
	}
	node := config.FilterCaps{}.WithDefaults() // 4, 256 MiB, 1s, 16 MiB, 16
	tight := config.FilterCaps{MaxInstances: 1, MaxMemoryBytes: 2 * mib, MaxCallDeadline: config.Duration(10 * time.Millisecond),
		MaxBodyBytes: 4096, MaxHTTPCalls: 1}
	tests := []struct {
		name string
		own  config.FilterLimits
		ten  config.TenantLimits
		node config.FilterCaps
		want runtime.Limits
	}{
		{"no maximums: as the filter asks", config.FilterLimits{Instances: 300, MaxMemoryBytes: 8 << 30, CallDeadline: config.Duration(time.Hour),
			MaxBodyBytes: 2 << 30, MaxHTTPCalls: 1000}, config.TenantLimits{}, config.FilterCaps{},
			runtime.Limits{Instances: 300, MemoryPages: 131072, CallDeadline: time.Hour, BodyBytes: 2 << 30, HTTPCalls: 1000}},
		{"defaults under the default maximums stay the runtime's", config.FilterLimits{}, config.TenantLimits{}, node,
			runtime.Limits{Instances: defInstances}},
		{"defaults above tight maximums are lowered to them", config.FilterLimits{}, config.TenantLimits{}, tight,
			runtime.Limits{Instances: tightInstances, MemoryPages: 32, CallDeadline: 10 * time.Millisecond, BodyBytes: 4096, HTTPCalls: 1}},
		{"own limits above the maximums are lowered to them", config.FilterLimits{Instances: 8, MaxMemoryBytes: 64 * mib,
			CallDeadline: config.Duration(time.Second), MaxBodyBytes: mib, MaxHTTPCalls: 4}, config.TenantLimits{}, tight,
			runtime.Limits{Instances: 1, MemoryPages: 32, CallDeadline: 10 * time.Millisecond, BodyBytes: 4096, HTTPCalls: 1}},
		{"own limits under the maximums are kept", config.FilterLimits{Instances: 2, MaxMemoryBytes: 32 * mib,
			CallDeadline: config.Duration(50 * time.Millisecond), MaxBodyBytes: 65536, MaxHTTPCalls: 2}, config.TenantLimits{}, node,
			runtime.Limits{Instances: 2, MemoryPages: 512, CallDeadline: 50 * time.Millisecond, BodyBytes: 65536, HTTPCalls: 2}},
		{"the tenant's caps tighten below the node's", config.FilterLimits{}, config.TenantLimits{FilterMaxMemoryBytes: mib,
			FilterCallDeadline: config.Duration(5 * time.Millisecond)}, tight,
			runtime.Limits{Instances: tightInstances, MemoryPages: 16, CallDeadline: 5 * time.Millisecond, BodyBytes: 4096, HTTPCalls: 1}},
		{"the tenant's caps never raise the node's", config.FilterLimits{}, config.TenantLimits{FilterMaxMemoryBytes: 1 << 30,
			FilterCallDeadline: config.Duration(time.Hour)}, tight,
			runtime.Limits{Instances: tightInstances, MemoryPages: 32, CallDeadline: 10 * time.Millisecond, BodyBytes: 4096, HTTPCalls: 1}},
		{"memory rounds up to pages", config.FilterLimits{MaxMemoryBytes: 1}, config.TenantLimits{}, node,
			runtime.Limits{Instances: defInstances, MemoryPages: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own, ten, node := tt.own, tt.ten, tt.node
			if got := filterLimits(&own, &ten, &node); got != tt.want {
				t.Errorf("filterLimits = %+v, want %+v", got, tt.want)
			}
			if own != tt.own || ten != tt.ten || node != tt.node {
				t.Errorf("filterLimits changed its arguments")
			}
		})
	}
}

// TestNodeFilterCapsBindAFilter: the node's maximums bind a running
// filter that sets no limits: a memory bomb stops at the node's memory
// maximum, an endless loop at its call deadline maximum, and a tenant's
// lower cap still wins.
func TestNodeFilterCapsBindAFilter(t *testing.T) {
	const mib = 1 << 20
	node := config.FilterCaps{MaxMemoryBytes: 4 * mib, MaxCallDeadline: config.Duration(30 * time.Millisecond)}.WithDefaults()
	tests := []struct {
		name, cfg string
		ten       config.TenantLimits
		want      string // in the log line of the discarded instance
	}{
		{"memory at the node's maximum", "grow:request_headers", config.TenantLimits{}, "memory grow past 64 pages (4 MiB)"},
		{"memory at the tenant's lower cap", "grow:request_headers", config.TenantLimits{FilterMaxMemoryBytes: 2 * mib}, "memory grow past 32 pages (2 MiB)"},
		{"deadline at the node's maximum", "loop:request_headers", config.TenantLimits{}, "call ran longer than 30ms"},
		{"deadline at the tenant's lower cap", "loop:request_headers", config.TenantLimits{FilterCallDeadline: config.Duration(20 * time.Millisecond)}, "call ran longer than 20ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLimitsFixture(t)
			fl := f.s.filters
			fl.Caps = node
			f.s.UseFilters(fl)
			f.apply(f.tenant("a", tc.ten, hostileFilter(tc.cfg, config.FilterLimits{})))
			status, _, body := f.get("a.test")
			if status != 503 || !strings.Contains(body, `filter "hostile" failed`) {
				t.Fatalf("%d %q, want 503 naming the filter", status, body)
			}
			if logs := f.logs.String(); !strings.Contains(logs, tc.want) {
				t.Fatalf("the log does not say %q:\n%s", tc.want, logs)
			}
		})
	}
}

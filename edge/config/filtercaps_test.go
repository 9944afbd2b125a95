package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const mib = 1 << 20

// capsTenant is a valid tenant whose one route runs filters fs.
func capsTenant(l TenantLimits, fs ...Filter) Tenant {
	return Tenant{
		Name:      "acme",
		Domains:   []string{"acme.test"},
		Upstreams: []Upstream{{Name: "web", Endpoints: []string{"127.0.0.1:9000"}}},
		Routes:    []Route{{Upstream: "web", Filters: fs}},
		Limits:    l,
	}
}

// problemsOf returns the problems of err, which must be nil or a *Error.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is %T, want *config.Error", err, err)
	}
	var out []string
	for _, p := range ce.Problems {
		out = append(out, p.Error())
	}
	return out
}

// TestFilterLimitsWithinNodeCaps: a filter limit above the node's maximum
// is refused, naming the field and the maximum; at the maximum it is
// valid. Today's main accepted every one of these up to 256 instances,
// 4 GiB, 1 GiB of body, and any deadline or number of HTTP calls.
func TestFilterLimitsWithinNodeCaps(t *testing.T) {
	custom := FilterCaps{MaxInstances: 16, MaxMemoryBytes: 128 * mib, MaxCallDeadline: Duration(500 * time.Millisecond),
		MaxBodyBytes: 2 * mib, MaxHTTPCalls: 8, TenantMaxMemoryBytes: 64 << 30}
	const p = "routes[0].filters[0].limits."
	tests := []struct {
		name string
		caps FilterCaps
		l    FilterLimits
		want []string // nil = valid
	}{
		{"defaults", FilterCaps{}, FilterLimits{}, nil},
		{"at the default maximums", FilterCaps{}, FilterLimits{Instances: 4, MaxMemoryBytes: 256 * mib,
			CallDeadline: Duration(time.Second), MaxBodyBytes: 16 * mib, MaxHTTPCalls: 16}, nil},
		{"instances over the default", FilterCaps{}, FilterLimits{Instances: 5}, []string{p + "instances: 5: the node allows at most 4"}},
		{"memory over the default", FilterCaps{}, FilterLimits{MaxMemoryBytes: 4 << 30}, []string{p + "max_memory_bytes: 4294967296: the node allows at most 256 MiB"}},
		{"deadline over the default", FilterCaps{}, FilterLimits{CallDeadline: Duration(5 * time.Second)}, []string{p + "call_deadline: 5s: the node allows at most 1s"}},
		{"body over the default", FilterCaps{}, FilterLimits{MaxBodyBytes: 1 << 30}, []string{p + "max_body_bytes: 1073741824: the node allows at most 16 MiB"}},
		{"http calls over the default", FilterCaps{}, FilterLimits{MaxHTTPCalls: 1000}, []string{p + "max_http_calls: 1000: the node allows at most 16"}},
		{"at the node's maximums", custom, FilterLimits{Instances: 16, MaxMemoryBytes: 128 * mib,
			CallDeadline: Duration(500 * time.Millisecond), MaxBodyBytes: 2 * mib, MaxHTTPCalls: 8}, nil},
		{"every limit over the node's", custom, FilterLimits{Instances: 64, MaxMemoryBytes: 128*mib + 1,
			CallDeadline: Duration(501 * time.Millisecond), MaxBodyBytes: 3 * mib, MaxHTTPCalls: 9}, []string{
			p + "instances: 64: the node allows at most 16",
			p + "max_memory_bytes: 134217729: the node allows at most 128 MiB",
			p + "call_deadline: 501ms: the node allows at most 500ms",
			p + "max_body_bytes: 3145728: the node allows at most 2 MiB",
			p + "max_http_calls: 9: the node allows at most 8",
		}},
		{"negative", custom, FilterLimits{Instances: -1, MaxMemoryBytes: -1, CallDeadline: -1, MaxBodyBytes: -1, MaxHTTPCalls: -1}, []string{
			p + "instances: -1: want 0 (default) to 16",
			p + "max_memory_bytes: -1: want 0 (default) to 128 MiB",
			p + "call_deadline: must not be negative",
			p + "max_body_bytes: -1: want 0 (default) to 2 MiB",
			p + "max_http_calls: must not be negative",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := capsTenant(TenantLimits{}, Filter{Name: "f", Module: "f.wasm", Limits: tt.l})
			before := capsTenant(TenantLimits{}, Filter{Name: "f", Module: "f.wasm", Limits: tt.l})
			caps := tt.caps
			got := problemsOf(t, ValidateTenantWith(&tn, caps))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !reflect.DeepEqual(tn, before) || caps != tt.caps {
				t.Errorf("ValidateTenantWith changed its arguments")
			}
			// The node file checks its tenants against its own maximums,
			// with the tenant's path.
			c := Config{Listeners: []Listener{{Address: ":80"}}, Limits: Limits{Filters: tt.caps}, Tenants: []Tenant{tn}}
			got = problemsOf(t, c.Validate())
			var want []string
			for _, w := range tt.want {
				want = append(want, "tenants[0]."+w)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Config.Validate problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	// ValidateTenant is ValidateTenantWith the default maximums.
	tn := capsTenant(TenantLimits{}, Filter{Name: "f", Module: "f.wasm", Limits: FilterLimits{Instances: 5}})
	if got := problemsOf(t, ValidateTenant(&tn)); len(got) != 1 || got[0] != p+"instances: 5: the node allows at most 4" {
		t.Errorf("ValidateTenant: %q", got)
	}
}

// TestTenantFilterMemory: the linear memory a tenant's filters reserve
// together (instances × max_memory_bytes, as they take effect) is capped
// per tenant, by the node and by the tenant's own limit. Today's main had
// no such cap.
func TestTenantFilterMemory(t *testing.T) {
	f := func(name string, l FilterLimits) Filter { return Filter{Name: name, Module: name + ".wasm", Limits: l} }
	node := FilterCaps{MaxInstances: 8, TenantMaxMemoryBytes: 1024 * mib}
	tests := []struct {
		name   string
		caps   FilterCaps
		l      TenantLimits
		routes [][]Filter
		want   string // "" = valid
	}{
		{"default filters under the default cap", FilterCaps{}, TenantLimits{},
			// A default filter counts 4 instances × 64 MiB.
			[][]Filter{{f("a", FilterLimits{}), f("b", FilterLimits{}), f("c", FilterLimits{}), f("d", FilterLimits{})}}, ""},
		{"a fifth default filter is over the default cap", FilterCaps{}, TenantLimits{},
			[][]Filter{{f("a", FilterLimits{}), f("b", FilterLimits{}), f("c", FilterLimits{}), f("d", FilterLimits{}), f("e", FilterLimits{})}},
			`tenant "acme": its filters may reserve 1280 MiB of linear memory together (instances × max_memory_bytes over 5 filters; a filter without instances counts 4), over the 1 GiB the node allows (limits.filters.tenant_max_memory_bytes)`},
		{"one filter at the per-filter maximums fills the default cap", FilterCaps{}, TenantLimits{},
			[][]Filter{{f("a", FilterLimits{Instances: 4, MaxMemoryBytes: 256 * mib})}}, ""},
		{"default instances count the node's maximum", node, TenantLimits{},
			[][]Filter{{f("a", FilterLimits{MaxMemoryBytes: 128 * mib}), f("b", FilterLimits{Instances: 1, MaxMemoryBytes: 1})}},
			`tenant "acme": its filters may reserve 1048640 KiB of linear memory together (instances × max_memory_bytes over 2 filters; a filter without instances counts 8), over the 1 GiB the node allows (limits.filters.tenant_max_memory_bytes)`},
		{"the tenant's memory cap lowers what a filter counts", node, TenantLimits{FilterMaxMemoryBytes: 32 * mib},
			[][]Filter{{f("a", FilterLimits{Instances: 8, MaxMemoryBytes: 256 * mib}), f("b", FilterLimits{}), f("c", FilterLimits{})}}, ""},
		{"the tenant's total lowers the node's", node, TenantLimits{FilterTotalMemoryBytes: 100 * mib},
			[][]Filter{{f("a", FilterLimits{Instances: 2, MaxMemoryBytes: 64 * mib})}},
			`tenant "acme": its filters may reserve 128 MiB of linear memory together (instances × max_memory_bytes over 1 filter; a filter without instances counts 8), over the 100 MiB the tenant's limits.filter_total_memory_bytes allows`},
		{"the tenant's total never raises the node's", node, TenantLimits{FilterTotalMemoryBytes: 8 << 30},
			[][]Filter{{f("a", FilterLimits{Instances: 8, MaxMemoryBytes: 256 * mib})}},
			`tenant "acme": its filters may reserve 2 GiB of linear memory together (instances × max_memory_bytes over 1 filter; a filter without instances counts 8), over the 1 GiB the node allows (limits.filters.tenant_max_memory_bytes)`},
		{"the same filter on two routes counts once", node, TenantLimits{},
			[][]Filter{{f("a", FilterLimits{Instances: 6, MaxMemoryBytes: 128 * mib})}, {f("a", FilterLimits{Instances: 6, MaxMemoryBytes: 128 * mib})}}, ""},
		{"the same name with another config counts twice", node, TenantLimits{},
			[][]Filter{{f("a", FilterLimits{Instances: 6, MaxMemoryBytes: 128 * mib})},
				{{Name: "a", Module: "a.wasm", Config: FilterConfig("x"), Limits: FilterLimits{Instances: 6, MaxMemoryBytes: 128 * mib}}}},
			`tenant "acme": its filters may reserve 1536 MiB of linear memory together (instances × max_memory_bytes over 2 filters;`},
		{"memory rounds up to pages", FilterCaps{TenantMaxMemoryBytes: 64 << 10}, TenantLimits{},
			[][]Filter{{f("a", FilterLimits{Instances: 1, MaxMemoryBytes: 1}), f("b", FilterLimits{Instances: 1, MaxMemoryBytes: 1})}},
			`tenant "acme": its filters may reserve 128 KiB of linear memory together (instances × max_memory_bytes over 2 filters;`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := capsTenant(tt.l)
			tn.Routes = nil
			for _, fs := range tt.routes {
				tn.Routes = append(tn.Routes, Route{Upstream: "web", Filters: fs})
			}
			got := problemsOf(t, ValidateTenantWith(&tn, tt.caps))
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tt.want)):
				t.Errorf("problems\n%s\nwant one starting\n%s", strings.Join(got, "\n"), tt.want)
			}
			if tt.want == "" {
				return
			}
			// In the node file the problem is the tenant's.
			c := Config{Listeners: []Listener{{Address: ":80"}}, Limits: Limits{Filters: tt.caps}, Tenants: []Tenant{tn}}
			got = problemsOf(t, c.Validate())
			if len(got) != 1 || !strings.HasPrefix(got[0], "tenants[0]: "+tt.want) {
				t.Errorf("Config.Validate problems %q, want one starting tenants[0]: %s", got, tt.want)
			}
		})
	}
}

// TestFilterCapsValidate: the node's maximums themselves are checked; zero
// takes the defaults.
func TestFilterCapsValidate(t *testing.T) {
	tests := []struct {
		caps FilterCaps
		want []string
	}{
		{FilterCaps{}, nil},
		{FilterCaps{MaxInstances: 256, MaxMemoryBytes: 4 << 30, MaxCallDeadline: Duration(time.Minute), MaxBodyBytes: 1 << 30,
			MaxHTTPCalls: 1000, TenantMaxMemoryBytes: 1 << 40}, nil},
		{FilterCaps{MaxInstances: 257, MaxMemoryBytes: 4<<30 + 1, MaxBodyBytes: 1<<30 + 1}, []string{
			"limits.filters.max_instances: 257: want 0 (default 4) to 256",
			"limits.filters.max_memory_bytes: 4294967297: want 0 (default 256 MiB) to 4 GiB",
			"limits.filters.max_body_bytes: 1073741825: want 0 (default 16 MiB) to 1 GiB",
		}},
		{FilterCaps{MaxInstances: -1, MaxMemoryBytes: -1, MaxCallDeadline: -1, MaxBodyBytes: -1, MaxHTTPCalls: -1, TenantMaxMemoryBytes: -1}, []string{
			"limits.filters.max_instances: -1: want 0 (default 4) to 256",
			"limits.filters.max_memory_bytes: -1: want 0 (default 256 MiB) to 4 GiB",
			"limits.filters.max_call_deadline: must not be negative",
			"limits.filters.max_body_bytes: -1: want 0 (default 16 MiB) to 1 GiB",
			"limits.filters.max_http_calls: must not be negative",
			"limits.filters.tenant_max_memory_bytes: must not be negative",
		}},
	}
	for _, tt := range tests {
		c := Config{Listeners: []Listener{{Address: ":80"}}, Limits: Limits{Filters: tt.caps}}
		if got := problemsOf(t, c.Validate()); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v: problems\n%s\nwant\n%s", tt.caps, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
	// A tenant's total must not be negative either.
	tn := capsTenant(TenantLimits{FilterTotalMemoryBytes: -1})
	if got := problemsOf(t, ValidateTenant(&tn)); len(got) != 1 || got[0] != "limits.filter_total_memory_bytes: must not be negative" {
		t.Errorf("negative filter_total_memory_bytes: %q", got)
	}
}

// TestFilterCapsWithDefaults: zero fields take the documented defaults,
// set ones are kept, and the receiver is a copy.
func TestFilterCapsWithDefaults(t *testing.T) {
	var zero FilterCaps
	want := FilterCaps{MaxInstances: 4, MaxMemoryBytes: 256 * mib, MaxCallDeadline: Duration(time.Second),
		MaxBodyBytes: 16 * mib, MaxHTTPCalls: 16, TenantMaxMemoryBytes: 1 << 30}
	if got := zero.WithDefaults(); got != want || zero != (FilterCaps{}) {
		t.Errorf("FilterCaps{}.WithDefaults() = %+v, want %+v (and the receiver unchanged)", got, want)
	}
	set := FilterCaps{MaxInstances: 1, MaxMemoryBytes: 2, MaxCallDeadline: 3, MaxBodyBytes: 4, MaxHTTPCalls: 5, TenantMaxMemoryBytes: 6}
	if got := set.WithDefaults(); got != set {
		t.Errorf("WithDefaults changed set fields: %+v", got)
	}
}

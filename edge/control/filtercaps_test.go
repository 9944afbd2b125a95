package control

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// problemsIn decodes a 400's problems.
func problemsIn(t *testing.T, r reply) []string {
	t.Helper()
	var body struct {
		Error    string   `json:"error"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return body.Problems
}

// TestRouteFilterLimitsOverNodeCaps: a route whose filter sets a limit
// above the node's maximum (here the defaults of limits.filters), or
// whose filters together reserve more linear memory than the tenant may,
// is refused with 400 naming the limit and the maximum, through PUT
// routes and PUT config alike, and nothing changes; at the maximums the
// route is accepted; an operator lowering a tenant's own total below what
// its filters reserve is refused too. On today's main every one of these
// was accepted.
func TestRouteFilterLimitsOverNodeCaps(t *testing.T) {
	f := newAPI(t, 0)
	acme := f.tenant("acme", "acme.test")
	f.must(201, "PUT", "/v1/tenants/acme/filters/headers", acme, string(readModule(t, "bin/filters/headers.wasm")), "Content-Type", "application/wasm")
	f.must(201, "PUT", "/v1/tenants/acme/upstreams/web", acme, `{"endpoints":["127.0.0.1:9"]}`)
	filter := func(name, limits string) string {
		return `{"name":"` + name + `","module":"headers","config":{"response":{"set":{"x-hi":"there"}}},"limits":{` + limits + `}}`
	}
	routes := func(filters ...string) string {
		return `{"routes":[{"upstream":"web","filters":[` + strings.Join(filters, ",") + `]}]}`
	}
	const p = "routes[0].filters[0].limits."
	tests := []struct {
		name, routes, want string
	}{
		{"instances", routes(filter("h", `"instances":5`)), p + "instances: 5: the node allows at most 4"},
		{"max_memory_bytes", routes(filter("h", `"max_memory_bytes":268435457`)), p + "max_memory_bytes: 268435457: the node allows at most 256 MiB"},
		{"call_deadline", routes(filter("h", `"call_deadline":"2s"`)), p + "call_deadline: 2s: the node allows at most 1s"},
		{"max_body_bytes", routes(filter("h", `"max_body_bytes":16777217`)), p + "max_body_bytes: 16777217: the node allows at most 16 MiB"},
		{"max_http_calls", routes(filter("h", `"max_http_calls":17`)), p + "max_http_calls: 17: the node allows at most 16"},
		{"tenant total", routes(filter("h1", ""), filter("h2", ""), filter("h3", ""), filter("h4", ""), filter("h5", "")),
			`tenant "acme": its filters may reserve 1280 MiB of linear memory together (instances × max_memory_bytes over 5 filters; a filter without instances counts 4), over the 1 GiB the node allows (limits.filters.tenant_max_memory_bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.rev()
			r := f.must(400, "PUT", "/v1/tenants/acme/routes", acme, tt.routes)
			if got := problemsIn(t, r); !slices.Contains(got, tt.want) || f.rev() != before {
				t.Errorf("PUT routes: problems %q (rev %d → %d), want %q and no change", got, before, f.rev(), tt.want)
			}
			config := `{"upstreams":[{"name":"web","endpoints":["127.0.0.1:9"]}],"routes":` + strings.TrimSuffix(strings.TrimPrefix(tt.routes, `{"routes":`), "}") + `}`
			r = f.must(400, "PUT", "/v1/tenants/acme/config", acme, config)
			if got := problemsIn(t, r); !slices.Contains(got, tt.want) || f.rev() != before {
				t.Errorf("PUT config: problems %q (rev %d → %d), want %q and no change", got, before, f.rev(), tt.want)
			}
		})
	}

	// At every maximum, the filter filling the tenant's default total.
	atCaps := routes(filter("h", `"instances":4,"max_memory_bytes":268435456,"call_deadline":"1s","max_body_bytes":16777216,"max_http_calls":16`))
	f.must(200, "PUT", "/v1/tenants/acme/routes", acme, atCaps)
	// The operator may lower the tenant's total, not below what its
	// filters reserve.
	before := f.rev()
	r := f.must(400, "PUT", "/v1/tenants/acme", opToken, `{"limits":{"filter_total_memory_bytes":536870912}}`)
	want := `tenant "acme": its filters may reserve 1 GiB of linear memory together (instances × max_memory_bytes over 1 filter; a filter without instances counts 4), over the 512 MiB the tenant's limits.filter_total_memory_bytes allows`
	if got := problemsIn(t, r); !slices.Contains(got, want) || f.rev() != before {
		t.Errorf("PUT tenant: problems %q, want %q and no change", got, want)
	}
	f.must(200, "PUT", "/v1/tenants/acme/routes", acme, routes(filter("h", `"instances":2,"max_memory_bytes":268435456`)))
	var tn Tenant
	f.must(200, "PUT", "/v1/tenants/acme", opToken, `{"limits":{"filter_total_memory_bytes":536870912}}`).json(t, &tn)
	if tn.Limits.FilterTotalMemoryBytes != 512<<20 {
		t.Fatalf("tenant %+v", tn)
	}
	// Now the tenant's own total binds its routes.
	r = f.must(400, "PUT", "/v1/tenants/acme/routes", acme, routes(filter("h", `"instances":3,"max_memory_bytes":268435456`)))
	want = fmt.Sprintf(`tenant "acme": its filters may reserve %d MiB of linear memory together (instances × max_memory_bytes over 1 filter; a filter without instances counts 4), over the 512 MiB the tenant's limits.filter_total_memory_bytes allows`, 3*256)
	if got := problemsIn(t, r); !slices.Contains(got, want) {
		t.Errorf("PUT routes under the tenant's total: problems %q, want %q", got, want)
	}
}

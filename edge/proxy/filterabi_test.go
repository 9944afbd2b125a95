package proxy

import (
	"strings"
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
)

// TestTCPFilterRefusedOnHTTPRoute: a module that exports network (TCP)
// callbacks and no HTTP ones is refused on an HTTP route, the change
// naming the route and filter and saying why (issue 10).
func TestTCPFilterRefusedOnHTTPRoute(t *testing.T) {
	s := New(nil)
	s.UseFilters(Filters{Engine: testEngine(t)})
	_, err := s.Build([]config.Tenant{{
		Name: "t", Domains: []string{"site.test"},
		Routes: []config.Route{
			{Respond: &config.Respond{Status: 204}, Filters: []config.Filter{
				{Name: "ok", Module: "../../bin/wat/add_header.wasm"},
				{Name: "x", Module: "../../bin/wat/rt_tcp_only.wasm"},
			}},
		},
	}})
	want := `tenants[0].routes[0].filters[1] (filter "x"): proxy: the module exports no HTTP callbacks ` +
		`(proxy_on_request_headers, proxy_on_request_body, proxy_on_request_trailers, proxy_on_response_headers, ` +
		`proxy_on_response_body, proxy_on_response_trailers); it is a network (TCP) filter and cannot run on an HTTP route`
	if err == nil || err.Error() != want {
		t.Fatalf("Build = %v\nwant %s", err, want)
	}
}

// TestFilterVMConfig: a filter's vm_config reaches proxy_on_vm_start as
// VM_CONFIGURATION (rt_vm_config.wat echoes it on the request it sends
// upstream), and is part of what makes a plugin: the same vm_config keeps
// the running plugin, another starts a new one.
func TestFilterVMConfig(t *testing.T) {
	front := filterFront(t, config.Filter{Name: "vm", Module: "bin/wat/rt_vm_config.wasm",
		Config: config.FilterConfig("plugin"), VMConfig: config.FilterConfig(`{"engine":"fast"}`)})
	status, h, _ := get(t, front, "/")
	if status != 200 || h.Get("X-Got-X-Vm-Config") != `{"engine":"fast"}` {
		t.Fatalf("status %d, origin got x-vm-config %q", status, h.Get("X-Got-X-Vm-Config"))
	}

	s := New(nil)
	s.UseFilters(Filters{Engine: testEngine(t)})
	tenants := func(vm string) []config.Tenant {
		return []config.Tenant{{
			Name: "t", Domains: []string{"site.test"},
			Routes: []config.Route{{Respond: &config.Respond{Status: 204}, Filters: []config.Filter{
				{Name: "vm", Module: "../../bin/wat/rt_vm_config.wasm", VMConfig: config.FilterConfig(vm)},
			}}},
		}}
	}
	only := func(snap *Snapshot) any {
		if len(snap.plugins) != 1 {
			t.Fatalf("%d plugins", len(snap.plugins))
		}
		for _, p := range snap.plugins {
			return p
		}
		return nil
	}
	a, err := s.Build(tenants("a"))
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(a)
	t.Cleanup(func() { closeUnused(s.snap.Load(), nil) })
	same, err := s.Build(tenants("a"))
	if err != nil {
		t.Fatal(err)
	}
	if only(same) != only(a) {
		t.Error("the same vm_config restarted the plugin")
	}
	b, err := s.Build(tenants("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeUnused(b, a)
	if only(b) == only(a) {
		t.Error("another vm_config kept the plugin")
	}
	// A vm_config proxy_on_vm_start refuses refuses the change.
	if _, err := s.Build(tenants("!no")); err == nil || !strings.Contains(err.Error(), "proxy_on_vm_start") {
		t.Errorf("Build(refused vm_config) = %v", err)
	}
}

package proxy

import (
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
)

// TestReselection: a request-header filter's change chooses the route
// again; a re-selected route's filters run, except those that already
// ran; an edit no route matches leaves the request on its route.
func TestReselection(t *testing.T) {
	set := func(kv string) config.Filter {
		return config.Filter{Name: "set-" + kv, Module: "bin/wat/dp_set_header.wasm", Config: config.FilterConfig(kv)}
	}
	stamp := config.Filter{Name: "stamp", Module: "bin/wat/add_header.wasm"}
	front := filterRoutes(t,
		config.Route{Match: config.Match{Headers: []config.HeaderMatch{{Name: "x-canary", Value: "1"}}},
			Respond: &config.Respond{Body: "canary"}, Filters: []config.Filter{stamp}},
		config.Route{Match: config.Match{PathPrefix: "/api/"}, Upstream: "origin", Filters: []config.Filter{set(":path=/nowhere")}},
		config.Route{Match: config.Match{PathPrefix: "/other/"}, Respond: &config.Respond{Body: "other"}},
		config.Route{Match: config.Match{PathPrefix: "/to-other/"}, Upstream: "origin", Filters: []config.Filter{set(":path=/other/x")}},
		config.Route{Match: config.Match{PathPrefix: "/"}, Upstream: "origin", Filters: []config.Filter{stamp, set("x-canary=1")}},
	)
	tests := []struct {
		name, path, body string
		stamps           int // x-wat-response values: how many times stamp ran
	}{
		{"a header edit re-selects; stamp runs once", "/", "canary", 1},
		{"a path edit re-selects", "/to-other/a", "other", 0},
		{"an edit to a path the catch-all matches goes there", "/api/a", "hello ", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := get(t, front, tt.path)
			if status != 200 || body != tt.body {
				t.Fatalf("GET %s: %d %q, want 200 %q", tt.path, status, body, tt.body)
			}
			if n := len(h.Values("X-Wat-Response")); n != tt.stamps {
				t.Fatalf("GET %s: stamp ran %d times, want %d", tt.path, n, tt.stamps)
			}
		})
	}
}

// TestReselectionNoMatchStays: an edit no route of the tenant matches
// (a path rewrite for the upstream) leaves the request on its route.
func TestReselectionNoMatchStays(t *testing.T) {
	front := filterRoutes(t,
		config.Route{Match: config.Match{PathPrefix: "/api/"}, Upstream: "origin", Filters: []config.Filter{
			{Name: "strip", Module: "bin/wat/dp_set_header.wasm", Config: config.FilterConfig(":path=/nowhere")}}},
		config.Route{Match: config.Match{PathPrefix: "/other/"}, Respond: &config.Respond{Body: "other"}},
	)
	if status, _, body := get(t, front, "/api/a"); status != 200 || body != "hello " {
		t.Fatalf("GET /api/a: %d %q, want the origin's 200 %q", status, body, "hello ")
	}
}

package runtime

import (
	"strconv"
	"strings"
	"testing"
)

// TestFilterRateLimitStoreFull runs bin/filters/ratelimit.wasm against a
// tenant whose shared data is full (the host's 65,536 keys, filled here by
// "other filters"): the bucket cannot be stored, and on_full decides —
// deny (the default) answers 429 with Retry-After, allow lets the request
// through. Before issue 10 a full store let every new client through
// unlimited, silently.
func TestFilterRateLimitStoreFull(t *testing.T) {
	e := newTestEngine(t)
	const ns = "full-tenant"
	for i := range sharedMaxKeys {
		if st := e.shared.set(ns, "other\x00"+strconv.Itoa(i), []byte("x"), 0); st != statusOK {
			t.Fatalf("filling the store: key %d: status %d", i, st)
		}
	}
	deny := startPlugin(t, e, "filters", "ratelimit", PluginConfig{Name: "rl", Namespace: ns,
		Config: []byte(`{"rate":1,"burst":5}`), Limits: Limits{Instances: 1}})
	r, lr := rateLimitRequest(t, deny, "192.0.2.30:1")
	if r != Respond || lr == nil || lr.Status != 429 || !strings.Contains(string(lr.Body), "rate limiter unavailable") {
		t.Fatalf("on_full deny: %v %+v, want 429 rate limiter unavailable", r, lr)
	}
	if got := header(&lr.Headers, "retry-after"); got != "1" {
		t.Errorf("retry-after %q, want 1", got)
	}
	allow := startPlugin(t, e, "filters", "ratelimit", PluginConfig{Name: "rl2", Namespace: ns,
		Config: []byte(`{"rate":1,"burst":1,"on_full":"allow"}`), Limits: Limits{Instances: 1}})
	for i := range 3 {
		if r, lr := rateLimitRequest(t, allow, "192.0.2.30:1"); r != Continue {
			t.Fatalf("on_full allow, request %d: %v %+v, want it through", i, r, lr)
		}
	}
	// Another tenant's store is not full: its limit holds.
	other := startPlugin(t, e, "filters", "ratelimit", PluginConfig{Name: "rl", Namespace: "roomy",
		Config: []byte(`{"rate":1,"period":"1h","burst":1}`), Limits: Limits{Instances: 1}})
	if r, _ := rateLimitRequest(t, other, "192.0.2.30:1"); r != Continue {
		t.Fatalf("roomy tenant, first request: %v", r)
	}
	if r, lr := rateLimitRequest(t, other, "192.0.2.30:1"); r != Respond || lr == nil || lr.Status != 429 || !strings.Contains(string(lr.Body), "rate limit exceeded") {
		t.Fatalf("roomy tenant, second request: %v %+v, want 429 rate limit exceeded", r, lr)
	}
}

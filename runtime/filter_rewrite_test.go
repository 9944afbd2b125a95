package runtime

import (
	"context"
	"strings"
	"testing"
)

// TestFilterRewrite runs bin/filters/rewrite.wasm in the host: paths
// rewritten in the request headers, redirects answered with Location, the
// first matching rule winning, and a bad rule refusing the plugin with its
// index.
func TestFilterRewrite(t *testing.T) {
	e := newTestEngine(t)
	p := startPlugin(t, e, "filters", "rewrite", PluginConfig{Limits: Limits{Instances: 1}, Config: []byte(`{"rules":[
		{"match":"^/old/(.*)$","rewrite":"/new/$1"},
		{"match":"^/api/(.*)$","rewrite":"/v2/$1","methods":["POST"],"query":"drop"},
		{"match":"^/blog/(.*)$","redirect":"https://blog.example.com/$1","status":301,"host":"*.site.test"},
		{"match":"^/go(.*)$","redirect":"/$1"},
		{"match":"^/","rewrite":"/fallback"}
	]}`)})
	tests := []struct {
		name, method, host, path string
		wantPath                 string // the request goes on with this :path
		wantStatus               int    // or is redirected
		wantLocation             string
	}{
		{"rewrite keeps the query", "GET", "site.test", "/old/a/b?x=1", "/new/a/b?x=1", 0, ""},
		{"rewrite with a method, query dropped", "POST", "site.test", "/api/users?debug=1", "/v2/users", 0, ""},
		{"method not matched: a later rule", "GET", "site.test", "/api/users", "/fallback", 0, ""},
		{"redirect on a wildcard host", "GET", "www.site.test:8443", "/blog/hello?ref=a", "", 301, "https://blog.example.com/hello?ref=a"},
		{"host not matched: a later rule", "GET", "site.test", "/blog/hello", "/fallback", 0, ""},
		{"local redirect stays local", "GET", "site.test", "/go//evil.example", "", 302, "/evil.example"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHost([2]string{":method", tt.method}, [2]string{":authority", tt.host}, [2]string{":path", tt.path})
			s, err := p.NewStream(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			r, err := s.RequestHeaders(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantStatus == 0 {
				if r != Continue {
					t.Fatalf("result %v, local response %+v; want Continue", r, s.LocalResponse())
				}
				if got := header(h.req, ":path"); got != tt.wantPath {
					t.Errorf(":path = %q, want %q", got, tt.wantPath)
				}
				return
			}
			lr := s.LocalResponse()
			if r != Respond || lr == nil {
				t.Fatalf("result %v; want a redirect", r)
			}
			if lr.Status != tt.wantStatus || header(&lr.Headers, "location") != tt.wantLocation {
				t.Errorf("%d, Location %q; want %d, %q", lr.Status, header(&lr.Headers, "location"), tt.wantStatus, tt.wantLocation)
			}
			if got := header(h.req, ":path"); got != tt.path {
				t.Errorf("a redirect changed :path to %q", got)
			}
		})
	}

	m, err := e.Compile(ctx, readBuilt(t, "filters", "rewrite"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	_, err = e.NewPlugin(ctx, m, PluginConfig{Name: "rewrite-bad", Config: []byte(`{"rules":[
		{"match":"^/a","rewrite":"/b"},
		{"match":"^/(x","rewrite":"/y"},
		{"match":"^/c","redirect":"/d","status":200}
	]}`)})
	if err == nil {
		t.Fatal("a configuration with bad rules was accepted")
	}
	for _, want := range []string{"rules[1].match", "rules[2].status: 200 is not a redirect status"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
}

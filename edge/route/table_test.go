package route

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
)

func name(t *config.Tenant, i int) (string, error) { return t.Name + "/" + t.Routes[i].Name, nil }

func testTenants() []config.Tenant {
	return []config.Tenant{
		{
			Name:    "acme",
			Domains: []string{"acme.test", "*.acme.test", "Shop.Acme.Test"},
			Routes: []config.Route{
				{Name: "exact", Match: config.Match{Path: "/health"}},
				{Name: "shop-only", Match: config.Match{Domains: []string{"shop.acme.test"}, PathPrefix: "/"}},
				{Name: "api-post", Match: config.Match{PathPrefix: "/api/", Methods: []string{"POST", "PUT"}}},
				{Name: "api-beta", Match: config.Match{PathPrefix: "/api/", Headers: []config.HeaderMatch{{Name: "x-beta", Value: "1"}}}},
				{Name: "api-any-key", Match: config.Match{PathPrefix: "/api/", Headers: []config.HeaderMatch{{Name: "X-Key"}}}},
				{Name: "img", Match: config.Match{PathRegex: `^/img/[0-9]+\.png$`}},
			},
		},
		{
			Name:    "globex",
			Domains: []string{"*.deep.globex.test", "*.globex.test", "globex.test"},
			Routes: []config.Route{
				{Name: "deep", Match: config.Match{Domains: []string{"*.deep.globex.test"}}},
				{Name: "all"},
			},
		},
	}
}

func TestLookup(t *testing.T) {
	tb, err := Build(testTenants(), name)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, path, method string
		header             http.Header
		tenant, route      string
	}{
		{"acme.test", "/health", "GET", nil, "acme", "acme/exact"},
		{"ACME.test:8443", "/health", "GET", nil, "acme", "acme/exact"},
		{"acme.test.", "/health", "GET", nil, "acme", "acme/exact"},
		{"acme.test", "/health/x", "GET", nil, "acme", ""},
		{"shop.acme.test", "/anything", "GET", nil, "acme", "acme/shop-only"},
		{"www.acme.test", "/anything", "GET", nil, "acme", ""},
		{"www.acme.test", "/api/x", "POST", nil, "acme", "acme/api-post"},
		{"www.acme.test", "/api/x", "GET", nil, "acme", ""},
		{"www.acme.test", "/api/x", "GET", http.Header{"X-Beta": {"0", "1"}}, "acme", "acme/api-beta"},
		{"www.acme.test", "/api/x", "GET", http.Header{"X-Beta": {"2"}}, "acme", ""},
		{"www.acme.test", "/api/x", "GET", http.Header{"X-Key": {""}}, "acme", "acme/api-any-key"},
		{"a.b.acme.test", "/img/12.png", "GET", nil, "acme", "acme/img"},
		{"a.b.acme.test", "/img/12.png.bak", "GET", nil, "acme", ""},
		{"x.deep.globex.test", "/", "GET", nil, "globex", "globex/deep"},
		{"deep.globex.test", "/", "GET", nil, "globex", "globex/all"},
		{"globex.test", "/", "GET", nil, "globex", "globex/all"},
		{"other.test", "/", "GET", nil, "", ""},
		{"test", "/", "GET", nil, "", ""},
		{"", "/", "GET", nil, "", ""},
		{"[::1]:80", "/", "GET", nil, "", ""},
		{"evilacme.test", "/health", "GET", nil, "", ""},
	}
	for _, tt := range tests {
		tenant, r := tb.Lookup(tt.host, tt.path, tt.method, tt.header)
		got := ""
		if r != nil {
			got = r.Handler
			if r.Tenant != tenant {
				t.Errorf("%s%s: route tenant %q != %q", tt.host, tt.path, r.Tenant, tenant)
			}
		}
		if tenant != tt.tenant || got != tt.route {
			t.Errorf("Lookup(%q, %q, %q) = %q, %q; want %q, %q", tt.host, tt.path, tt.method, tenant, got, tt.tenant, tt.route)
		}
	}
}

func TestBuildHandlerError(t *testing.T) {
	_, err := Build(testTenants(), func(t *config.Tenant, i int) (int, error) {
		if t.Name == "globex" && i == 1 {
			return 0, fmt.Errorf("boom")
		}
		return i, nil
	})
	if err == nil || err.Error() != "route: tenants[globex].routes[1]: boom" {
		t.Fatalf("err = %v", err)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tb, err := Build(testTenants(), name)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"X-Key": {"k"}}
	allocs := testing.AllocsPerRun(100, func() {
		tb.Lookup("WWW.Acme.Test:443", "/api/x", "GET", h)
		tb.Lookup("a.b.acme.test", "/img/12.png", "GET", h)
		tb.Lookup("unknown.example", "/", "GET", h)
	})
	if allocs != 0 {
		t.Fatalf("Lookup allocates %v times per run", allocs)
	}
}

// bigTable is 1,000 tenants × 10 domains × 100 routes: 10,000 domains and
// 100,000 routes, 10 routes bound to each domain.
func bigTable(b *testing.B) *Table[int] {
	tenants := make([]config.Tenant, 1000)
	for ti := range tenants {
		t := &tenants[ti]
		t.Name = fmt.Sprintf("t%d", ti)
		for d := range 10 {
			t.Domains = append(t.Domains, fmt.Sprintf("d%d.t%d.example", d, ti))
		}
		for r := range 100 {
			dom := t.Domains[r%10]
			t.Routes = append(t.Routes, config.Route{Match: config.Match{
				Domains:    []string{dom},
				PathPrefix: fmt.Sprintf("/p%d/", r/10),
				Methods:    []string{"GET"},
			}})
		}
	}
	tb, err := Build(tenants, func(_ *config.Tenant, i int) (int, error) { return i, nil })
	if err != nil {
		b.Fatal(err)
	}
	return tb
}

func BenchmarkLookup(b *testing.B) {
	tb := bigTable(b)
	hosts := make([]string, 1024)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("D%d.t%d.example:443", i%10, (i*7919)%1000)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// The last of the domain's 10 routes: the worst case for the scan.
		if _, r := tb.Lookup(hosts[i&1023], "/p9/x", "GET", nil); r == nil {
			b.Fatal("no route")
		}
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"acme.test", "ACME.test:8443", "[::1]:80", "a.", "", ":", "[", "x:y:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf [256]byte
		name, ok := normalizeHost(&buf, s)
		if ok && (len(name) == 0 || len(name) > len(s)) {
			t.Fatalf("normalizeHost(%q) = %q", s, name)
		}
	})
}

package cache

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// twoTenants serves the same origin under two tenants' handlers on one
// cache; requests carry the same Host, so their URLs are identical.
func twoTenants(t *testing.T) (c *Cache, get func(tenant, path string) resp) {
	t.Helper()
	c, err := New(Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "all "+strings.Trim(strings.ReplaceAll(r.URL.Path, "/", " "), " "))
		w.Write([]byte(r.Host + r.URL.String()))
	}))
	t.Cleanup(origin.Close)
	fwd := forwardTo(origin.URL)
	handlers := map[string]http.Handler{"a": c.Handler("a", Policy{}, fwd), "b": c.Handler("b", Policy{}, fwd)}
	return c, func(tenant, path string) resp {
		req := httptest.NewRequest("GET", "http://Shop.Example:8080"+path, nil)
		rec := httptest.NewRecorder()
		handlers[tenant].ServeHTTP(rec, req)
		return resp{rec.Code, rec.Header(), rec.Body.String()}
	}
}

func TestPurge(t *testing.T) {
	fill := func(get func(string, string) resp) {
		for _, tn := range []string{"a", "b"} {
			for _, p := range []string{"/x/1", "/x/2", "/y/1?q=2"} {
				get(tn, p)
			}
		}
	}
	tests := []struct {
		name  string
		purge func(c *Cache) int
		n     int
		gone  []string // of tenant a; tenant b keeps everything
	}{
		{"url", func(c *Cache) int { return c.PurgeURL("a", "http", "shop.example:8080", "/x/1") }, 1, []string{"/x/1"}},
		{"url host case", func(c *Cache) int { return c.PurgeURL("a", "HTTP", "SHOP.example:8080", "/y/1?q=2") }, 1, []string{"/y/1?q=2"}},
		{"url other port", func(c *Cache) int { return c.PurgeURL("a", "http", "shop.example", "/x/1") }, 0, nil},
		{"url https", func(c *Cache) int { return c.PurgeURL("a", "https", "shop.example:8080", "/x/1") }, 0, nil},
		{"host", func(c *Cache) int { return c.PurgeHost("a", "shop.example:8080") }, 3, []string{"/x/1", "/x/2", "/y/1?q=2"}},
		{"host other", func(c *Cache) int { return c.PurgeHost("a", "other.example") }, 0, nil},
		{"tag", func(c *Cache) int { return c.PurgeTag("a", "x") }, 2, []string{"/x/1", "/x/2"}},
		{"tag 1", func(c *Cache) int { return c.PurgeTag("a", "1") }, 2, []string{"/x/1", "/y/1?q=2"}},
		{"tag all", func(c *Cache) int { return c.PurgeTag("a", "all") }, 3, []string{"/x/1", "/x/2", "/y/1?q=2"}},
		{"tag none", func(c *Cache) int { return c.PurgeTag("a", "zzz") }, 0, nil},
		{"other tenant", func(c *Cache) int { return c.PurgeTag("c", "all") }, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, get := twoTenants(t)
			fill(get)
			if n := tt.purge(c); n != tt.n {
				t.Fatalf("purged %d, want %d", n, tt.n)
			}
			for _, p := range []string{"/x/1", "/x/2", "/y/1?q=2"} {
				gone := false
				for _, g := range tt.gone {
					gone = gone || g == p
				}
				if r := get("a", p); isHit(r) == gone {
					t.Errorf("tenant a %s: hit=%v, want gone=%v", p, isHit(r), gone)
				}
				if r := get("b", p); !isHit(r) {
					t.Errorf("tenant b %s was purged", p)
				}
			}
		})
	}
}

// Entries of one tenant never answer another's requests.
func TestTenantIsolation(t *testing.T) {
	_, get := twoTenants(t)
	get("a", "/x/1")
	if r := get("b", "/x/1"); isHit(r) {
		t.Fatal("tenant b hit tenant a's entry")
	}
}

// TestSurrogateKeyNotShownToClients: the tags are the edge's, used for
// purges; neither a miss nor a hit passes them on.
func TestSurrogateKeyNotShownToClients(t *testing.T) {
	c, get := twoTenants(t)
	for i, want := range []string{"fwd=", "hit"} {
		r := get("a", "/tags/1")
		if !strings.Contains(r.header.Get("Cache-Status"), want) {
			t.Fatalf("request %d: Cache-Status %q, want %q", i, r.header.Get("Cache-Status"), want)
		}
		if v := r.header["Surrogate-Key"]; v != nil {
			t.Errorf("request %d: client got Surrogate-Key %q", i, v)
		}
	}
	if n := c.PurgeTag("a", "tags"); n != 1 {
		t.Fatalf("PurgeTag = %d, want 1: the stored entry lost its tags", n)
	}
}

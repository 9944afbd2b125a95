package cache

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPurgeNormalisedHost (issue 11 item 9): keys and purges use the host
// as routing does (lower case, no trailing dot, default port dropped), so
// a purge of shop.example also removes what was stored under
// "shop.example." and "SHOP.example:80". On the code before, the key
// kept the dot and the port: each spelling was its own entry and the
// purge left them.
func TestPurgeNormalisedHost(t *testing.T) {
	c, err := New(Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte("x"))
	}))
	t.Cleanup(origin.Close)
	h := c.Handler("a", Policy{}, forwardTo(origin.URL))
	get := func(scheme, host, path string) resp {
		req := httptest.NewRequest("GET", "http://origin"+path, nil)
		req.Host = host
		if scheme == "https" {
			req.TLS = &tls.ConnectionState{}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return resp{rec.Code, rec.Header(), rec.Body.String()}
	}
	type req struct{ scheme, host string }
	tests := []struct {
		name   string
		stored []req // in order; all but the first must hit its entry
		purge  func() int
		n      int
	}{
		{"host, dot and default port", []req{{"http", "shop.example."}, {"http", "SHOP.example:80"}, {"http", "shop.example"}, {"http", "Shop.Example.:80"}},
			func() int { return c.PurgeHost("a", "shop.example") }, 1},
		{"host given with a dot", []req{{"http", "shop.example"}, {"http", "shop.example."}},
			func() int { return c.PurgeHost("a", "SHOP.EXAMPLE.") }, 1},
		{"host given with the default port", []req{{"http", "shop.example."}},
			func() int { return c.PurgeHost("a", "shop.example:80") }, 1},
		{"https default port", []req{{"https", "shop.example:443"}, {"https", "shop.example."}},
			func() int { return c.PurgeHost("a", "shop.example") }, 1},
		{"url", []req{{"http", "SHOP.example:80"}, {"http", "shop.example."}},
			func() int { return c.PurgeURL("a", "http", "shop.example", "/p") }, 1},
		{"url given with dot and port", []req{{"http", "shop.example"}},
			func() int { return c.PurgeURL("a", "http", "Shop.Example.:80", "/p") }, 1},
		{"url https", []req{{"https", "shop.example:443"}},
			func() int { return c.PurgeURL("a", "https", "shop.example.", "/p") }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, s := range tt.stored {
				if r := get(s.scheme, s.host, "/p"); isHit(r) != (i > 0) {
					t.Fatalf("%s://%s: hit=%v (%q), want %v", s.scheme, s.host, isHit(r), r.cs(), i > 0)
				}
			}
			if n := tt.purge(); n != tt.n {
				t.Fatalf("purged %d, want %d", n, tt.n)
			}
			for _, s := range tt.stored {
				if r := get(s.scheme, s.host, "/p"); isHit(r) {
					t.Fatalf("%s://%s still stored after the purge", s.scheme, s.host)
				}
				c.PurgeHost("a", "shop.example") // the next spelling must miss too
			}
		})
	}
	// A port that is not the scheme's default stays in the key (the
	// origin sees it), and a purge of the bare host covers it.
	get("http", "shop.example.:8080", "/q")
	if r := get("http", "shop.example", "/q"); isHit(r) {
		t.Fatal("port 8080 shared the default port's entry")
	}
	if r := get("http", "SHOP.example:8080", "/q"); !isHit(r) {
		t.Fatal("shop.example.:8080 and SHOP.example:8080 are two entries")
	}
	if n := c.PurgeHost("a", "shop.example."); n != 2 {
		t.Fatalf("PurgeHost covered %d entries, want 2", n)
	}
	if n := testing.AllocsPerRun(100, func() { keyHost("http", "Shop.Example.:80") }); n != 0 {
		t.Fatalf("keyHost allocates %v times", n)
	}
}

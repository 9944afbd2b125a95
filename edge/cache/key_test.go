package cache

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The key: tenant + method (HEAD shares GET) + scheme + host (case
// folded, port kept) + path + query per policy.
func TestKey(t *testing.T) {
	tests := []struct {
		name       string
		p          Policy
		first      string
		second     string
		secondHead bool
		tls        bool // the second request arrives over TLS
		same       bool
	}{
		{"identical", Policy{}, "http://a.example/p?x=1", "http://a.example/p?x=1", false, false, true},
		{"host case", Policy{}, "http://A.Example/p", "http://a.example/p", false, false, true},
		{"port kept", Policy{}, "http://a.example:8080/p", "http://a.example/p", false, false, false},
		{"other host", Policy{}, "http://a.example/p", "http://b.example/p", false, false, false},
		{"scheme", Policy{}, "http://a.example/p", "http://a.example/p", false, true, false},
		{"path case", Policy{}, "http://a.example/P", "http://a.example/p", false, false, false},
		{"escaped slash", Policy{}, "http://a.example/a%2Fb", "http://a.example/a/b", false, false, false},
		{"query differs", Policy{}, "http://a.example/p?x=1", "http://a.example/p?x=2", false, false, false},
		{"query order matters", Policy{}, "http://a.example/p?a=1&b=2", "http://a.example/p?b=2&a=1", false, false, false},
		{"no query vs empty", Policy{}, "http://a.example/p", "http://a.example/p?", false, false, true},
		{"sort query", Policy{SortQuery: true}, "http://a.example/p?a=1&b=2", "http://a.example/p?b=2&a=1", false, false, true},
		{"sort query drops empty", Policy{SortQuery: true}, "http://a.example/p?a=1&&b=2", "http://a.example/p?b=2&a=1", false, false, true},
		{"sort query differs", Policy{SortQuery: true}, "http://a.example/p?a=1&b=2", "http://a.example/p?b=2&a=2", false, false, false},
		{"sort query subset", Policy{SortQuery: true}, "http://a.example/p?a=1&b=2", "http://a.example/p?a=1", false, false, false},
		{"ignore query", Policy{IgnoreQuery: true}, "http://a.example/p?a=1", "http://a.example/p?zzz", false, false, true},
		{"head shares get", Policy{}, "http://a.example/p", "http://a.example/p", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			h := c.Handler("t", tt.p, fixed(200, "x", "Cache-Control", "max-age=60"))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tt.first, nil))
			method := "GET"
			if tt.secondHead {
				method = "HEAD"
			}
			req := httptest.NewRequest(method, tt.second, nil)
			if tt.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := isHit(resp{header: rec.Header()}); got != tt.same {
				t.Fatalf("same key = %v (%q), want %v", got, rec.Header().Get("Cache-Status"), tt.same)
			}
		})
	}
}

// Hash collisions are misses: an entry found under a hash is verified
// against the full key.
func TestKeyVerified(t *testing.T) {
	c, _ := New(Config{MaxBytes: 1 << 20})
	h := c.Handler("t", Policy{}, fixed(200, "x", "Cache-Control", "max-age=60"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://a.example/one", nil))
	var k1, k2 reqKey
	c.newKey(&k1, "t", "", httptest.NewRequest("GET", "http://a.example/one", nil), queryExact)
	c.newKey(&k2, "t", "", httptest.NewRequest("GET", "http://a.example/two", nil), queryExact)
	k2.hash = k1.hash // force a collision
	if e, _ := c.lookup(&k2, http.Header{}); e != nil {
		t.Fatal("a colliding key was served another URL's entry")
	}
	if e, _ := c.lookup(&k1, http.Header{}); e == nil {
		t.Fatal("the real key missed")
	}
}

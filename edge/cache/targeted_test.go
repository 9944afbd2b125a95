package cache

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestCDNCacheControl (issue 17 item 3) against a loopback origin:
// CDN-Cache-Control and the node's own targeted field (here
// Wedge-Cache-Control, first on the target list) override Cache-Control
// and Expires for the cache (RFC 9213 §2.2); an invalid or empty one is
// ignored; neither reaches clients unless the route forwards them. On the
// code before, both fields were ignored and passed on.
func TestCDNCacheControl(t *testing.T) {
	tests := []struct {
		name string
		hdr  []string // response fields
		hit  bool     // the second request, 100s later
	}{
		{"CDN max-age over CC no-store", []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600"}, true},
		{"CDN max-age over CC max-age", []string{"Cache-Control", "max-age=10", "CDN-Cache-Control", "max-age=600"}, true},
		{"CDN no-store over CC max-age", []string{"Cache-Control", "max-age=600", "CDN-Cache-Control", "no-store"}, false},
		{"CDN private", []string{"Cache-Control", "max-age=600", "CDN-Cache-Control", "private"}, false},
		{"CDN no-cache", []string{"Cache-Control", "max-age=600", "CDN-Cache-Control", "max-age=600, no-cache"}, false},
		{"CDN shorter", []string{"Cache-Control", "max-age=600", "CDN-Cache-Control", "max-age=50"}, false},
		{"CDN s-maxage", []string{"Cache-Control", "no-store", "CDN-Cache-Control", "s-maxage=600"}, true},
		{"CDN over Expires", []string{"Expires", "0", "CDN-Cache-Control", "max-age=600"}, true},
		{"CDN decimal max-age is stale", []string{"Cache-Control", "max-age=600", "CDN-Cache-Control", "max-age=600.0"}, false},
		{"CDN string max-age is stale", []string{"Cache-Control", "max-age=600", "CDN-Cache-Control", `max-age="600"`}, false},
		{"CDN invalid: Cache-Control rules", []string{"Cache-Control", "max-age=600", "CDN-Cache-Control", "max-age=600,,"}, true},
		{"CDN invalid: Cache-Control no-store", []string{"Cache-Control", "no-store", "CDN-Cache-Control", "Max-Age=600"}, false},
		{"CDN empty: ignored", []string{"Cache-Control", "max-age=600", "CDN-Cache-Control", ""}, true},
		{"CDN parameters ignored", []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600;x=1, public"}, true},
		{"CDN last member wins", []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=10, max-age=600"}, true},
		{"node field over CDN", []string{"Cache-Control", "no-store", "Wedge-Cache-Control", "max-age=600", "CDN-Cache-Control", "no-store"}, true},
		{"node field no-store over CDN", []string{"Cache-Control", "max-age=600", "Wedge-Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600"}, false},
		{"node field invalid: CDN next", []string{"Cache-Control", "no-store", "Wedge-Cache-Control", "max-age=(", "CDN-Cache-Control", "max-age=600"}, true},
		{"other targeted field ignored", []string{"Cache-Control", "no-store", "Other-Cache-Control", "max-age=600"}, false},
	}
	for _, forward := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, err := New(Config{MaxBytes: 1 << 20, TargetedField: "wedge-cache-control"})
				if err != nil {
					t.Fatal(err)
				}
				e := newEnvWith(t, c, "acme", Policy{ForwardTargeted: forward}, fixed(200, "x", tt.hdr...))
				check := func(r resp) {
					t.Helper()
					for _, f := range []string{"Cdn-Cache-Control", "Wedge-Cache-Control"} {
						sent := false
						for i := 0; i < len(tt.hdr); i += 2 {
							sent = sent || http.CanonicalHeaderKey(tt.hdr[i]) == f
						}
						if got := r.header[f] != nil; got != (forward && sent) {
							t.Fatalf("ForwardTargeted=%v: client got %s %q", forward, f, r.header[f])
						}
					}
					if want := first(http.Header{"X": tt.hdr[1:2]}["X"]); tt.hdr[0] == "Cache-Control" && r.header.Get("Cache-Control") != want {
						t.Fatalf("Cache-Control %q, want the origin's %q", r.header.Get("Cache-Control"), want)
					}
				}
				check(e.get("/t"))
				e.clk.advance(100 * time.Second)
				r := e.get("/t")
				if isHit(r) != tt.hit {
					t.Fatalf("hit = %v (%q), want %v", isHit(r), r.cs(), tt.hit)
				}
				check(r)
			})
		}
	}
}

// Passed-through responses (methods the cache does not serve) lose the
// targeted fields too.
func TestTargetedStrippedOnPass(t *testing.T) {
	e := newEnv(t, Policy{}, fixed(200, "x", "CDN-Cache-Control", "max-age=60"))
	if r := e.do(http.MethodPost, "/p"); r.header["Cdn-Cache-Control"] != nil {
		t.Fatalf("POST response carried CDN-Cache-Control %q", r.header["Cdn-Cache-Control"])
	}
}

func TestTargetedFieldConfig(t *testing.T) {
	for _, name := range []string{"Cache-Control", "cdn-cache-control", "Wedge Cache", "a:b"} {
		if _, err := New(Config{MaxBytes: 1 << 20, TargetedField: name}); !errors.Is(err, ErrConfig) {
			t.Errorf("TargetedField %q: err = %v, want ErrConfig", name, err)
		}
	}
	for _, name := range []string{"", "Wedge-Cache-Control", "X-My_CDN.Cache"} {
		if err := CheckTargetedField(name); err != nil {
			t.Errorf("TargetedField %q: %v", name, err)
		}
	}
}

package proxy

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
	"go.yaml.in/yaml/v3"
)

// TestProtocolName (issue 10 item 9): request.protocol is spelled as
// Envoy spells it, which filters written for Envoy compare against.
func TestProtocolName(t *testing.T) {
	tests := []struct {
		major, minor int
		want         string
	}{
		{1, 0, "HTTP/1.0"},
		{1, 1, "HTTP/1.1"},
		{2, 0, "HTTP/2"},
		{3, 0, "HTTP/3"},
	}
	for _, tt := range tests {
		r := &http.Request{ProtoMajor: tt.major, ProtoMinor: tt.minor, Proto: "HTTP/x"}
		if got := protocolName(r); got != tt.want {
			t.Errorf("HTTP/%d.%d: %q, want %q", tt.major, tt.minor, got, tt.want)
		}
	}
}

// TestClientAddr (issue 10 item 11): source.address follows
// X-Forwarded-For only from the listener's trusted proxies, and then to
// the nearest address that is not one.
func TestClientAddr(t *testing.T) {
	trusted := &Listener{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		name   string
		l      *Listener
		remote string
		xff    []string
		want   string
	}{
		{"no trusted proxies: the peer", &Listener{}, "1.2.3.4:5555", []string{"6.6.6.6"}, "1.2.3.4:5555"},
		{"untrusted peer: the peer", trusted, "1.2.3.4:5555", []string{"6.6.6.6"}, "1.2.3.4:5555"},
		{"trusted peer, no header", trusted, "10.0.0.1:80", nil, "10.0.0.1:80"},
		{"trusted peer: the client it names", trusted, "10.0.0.1:80", []string{"6.6.6.6"}, "6.6.6.6:0"},
		{"a chain: the nearest untrusted", trusted, "10.0.0.1:80", []string{"7.7.7.7, 6.6.6.6, 10.0.0.2"}, "6.6.6.6:0"},
		{"across header lines", trusted, "10.0.0.1:80", []string{"7.7.7.7", "6.6.6.6", "10.0.0.2"}, "6.6.6.6:0"},
		{"all trusted: the farthest", trusted, "10.0.0.1:80", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3:0"},
		{"garbage stops the walk at the peer", trusted, "10.0.0.1:80", []string{"6.6.6.6, junk"}, "10.0.0.1:80"},
		{"IPv6", trusted, "10.0.0.1:80", []string{"2001:db8::1"}, "[2001:db8::1]:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			if tt.xff != nil {
				r.Header["X-Forwarded-For"] = tt.xff
			}
			if got := clientAddr(r, tt.l); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzClientAddr: any X-Forwarded-For gives the peer's address or an
// "ip:0" whose IP is not a trusted proxy's (or, when all are, one of
// theirs), and never a panic.
func FuzzClientAddr(f *testing.F) {
	f.Add("6.6.6.6")
	f.Add("7.7.7.7, 6.6.6.6, 10.0.0.2")
	f.Add(",,, ,10.0.0.9")
	f.Add("[::1]:80, 1.2.3.4")
	l := &Listener{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	f.Fuzz(func(t *testing.T, xff string) {
		r := &http.Request{RemoteAddr: "10.0.0.1:80", Header: http.Header{"X-Forwarded-For": {xff}}}
		got := clientAddr(r, l)
		if got == r.RemoteAddr {
			return
		}
		ap, err := netip.ParseAddrPort(got)
		if err != nil || ap.Port() != 0 {
			t.Fatalf("%q: got %q, want the peer or ip:0", xff, got)
		}
		found := false
		for _, part := range strings.Split(xff, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(part)); err == nil && a == ap.Addr() {
				found = true
			}
		}
		if !found {
			t.Fatalf("%q: got %q, which the header does not name", xff, got)
		}
		if l.trustsAddr(ap.Addr()) {
			// Only when every address named is a trusted proxy's.
			for _, part := range strings.Split(xff, ",") {
				if a, err := netip.ParseAddr(strings.TrimSpace(part)); err == nil && !l.trustsAddr(a) {
					t.Fatalf("%q: got the trusted %q though %s is not", xff, got, a)
				}
			}
		}
	})
}

// TestRouteMetadataProperty: route_metadata answers the route's
// metadata as the upstream Go SDK's properties example reads it.
func TestRouteMetadataProperty(t *testing.T) {
	var rc config.Route
	if err := yaml.Unmarshal([]byte("upstream: web\nmetadata:\n  filter_metadata:\n    envoy.filters.http.wasm:\n      auth: cookie\n"), &rc); err != nil {
		t.Fatal(err)
	}
	h := &streamHost{route: &routeEntry{meta: rc.Metadata}, served: &http.Request{}, req: requestMap{r: &http.Request{Header: http.Header{}}}}
	got, ok := h.Property([]string{"route_metadata", "filter_metadata", "envoy.filters.http.wasm", "auth"})
	if !ok || string(got) != "cookie" {
		t.Fatalf("route_metadata...auth = %q, %v; want cookie", got, ok)
	}
	if _, ok := h.Property([]string{"route_metadata", "filter_metadata", "nope"}); ok {
		t.Fatal("a key the metadata does not have was found")
	}
	none := &streamHost{route: &routeEntry{}, served: &http.Request{}, req: requestMap{r: &http.Request{Header: http.Header{}}}}
	if _, ok := none.Property([]string{"route_metadata", "filter_metadata"}); ok {
		t.Fatal("a route without metadata answered route_metadata")
	}
}

package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"testing"
)

func TestOutboundHeader(t *testing.T) {
	trusted := &Listener{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	plain := &Listener{}
	tlsL := &Listener{TLS: true}
	tests := []struct {
		name   string
		l      *Listener
		remote string
		in     http.Header
		want   http.Header
	}{
		{
			name: "plain request gets forwarding headers", l: plain, remote: "192.0.2.1:5555",
			in: http.Header{"Accept": {"*/*"}},
			want: http.Header{"Accept": {"*/*"}, "X-Forwarded-For": {"192.0.2.1"}, "X-Forwarded-Proto": {"http"},
				"X-Forwarded-Host": {"site.test"}, "Via": {"1.1 wedge"}},
		},
		{
			name: "spoofed forwarding headers are replaced", l: plain, remote: "192.0.2.1:5555",
			in: http.Header{"X-Forwarded-For": {"6.6.6.6"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil"},
				"Forwarded": {"for=6.6.6.6"}, "X-Real-Ip": {"6.6.6.6"}},
			want: http.Header{"X-Forwarded-For": {"192.0.2.1"}, "X-Forwarded-Proto": {"http"},
				"X-Forwarded-Host": {"site.test"}, "Via": {"1.1 wedge"}},
		},
		{
			name: "trusted proxy's headers are kept and extended", l: trusted, remote: "10.1.2.3:5555",
			in: http.Header{"X-Forwarded-For": {"6.6.6.6", "7.7.7.7"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"orig.test"},
				"Forwarded": {"for=6.6.6.6"}},
			want: http.Header{"X-Forwarded-For": {"6.6.6.6, 7.7.7.7, 10.1.2.3"}, "X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host": {"orig.test"}, "Forwarded": {"for=6.6.6.6"}, "Via": {"1.1 wedge"}},
		},
		{
			name: "untrusted peer on a listener with trusted CIDRs", l: trusted, remote: "192.0.2.1:5555",
			in:   http.Header{"X-Forwarded-For": {"6.6.6.6"}},
			want: http.Header{"X-Forwarded-For": {"192.0.2.1"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"site.test"}, "Via": {"1.1 wedge"}},
		},
		{
			name: "hop-by-hop and Connection-named headers are dropped", l: tlsL, remote: "[2001:db8::1]:443",
			in: http.Header{"Connection": {"keep-alive, X-Hop", "x-other-hop"}, "X-Hop": {"1"}, "X-Other-Hop": {"1"},
				"Keep-Alive": {"timeout=5"}, "Proxy-Authorization": {"Basic x"}, "Te": {"gzip"}, "Transfer-Encoding": {"chunked"},
				"Proxy-Connection": {"keep-alive"}, "Trailer": {"X-T"}, "X-End": {"kept"}},
			want: http.Header{"X-End": {"kept"}, "X-Forwarded-For": {"2001:db8::1"}, "X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host": {"site.test"}, "Via": {"1.1 wedge"}},
		},
		{
			name: "TE: trailers survives", l: plain, remote: "192.0.2.1:1",
			in: http.Header{"Te": {"trailers"}},
			want: http.Header{"Te": {"trailers"}, "X-Forwarded-For": {"192.0.2.1"}, "X-Forwarded-Proto": {"http"},
				"X-Forwarded-Host": {"site.test"}, "Via": {"1.1 wedge"}},
		},
		{
			name: "upgrade is passed on", l: plain, remote: "192.0.2.1:1",
			in: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"k"}},
			want: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"k"},
				"X-Forwarded-For": {"192.0.2.1"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"site.test"}, "Via": {"1.1 wedge"}},
		},
		{
			name: "Upgrade without Connection: upgrade is dropped", l: plain, remote: "192.0.2.1:1",
			in:   http.Header{"Upgrade": {"websocket"}},
			want: http.Header{"X-Forwarded-For": {"192.0.2.1"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"site.test"}, "Via": {"1.1 wedge"}},
		},
		{
			name: "client Via is extended", l: plain, remote: "192.0.2.1:1",
			in:   http.Header{"Via": {"1.0 fred"}},
			want: http.Header{"Via": {"1.0 fred", "1.1 wedge"}, "X-Forwarded-For": {"192.0.2.1"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"site.test"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://site.test/", nil)
			r.RemoteAddr = tt.remote
			r.Header = tt.in
			before := tt.in.Clone()
			got := outboundHeader(r, tt.l)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
			if !reflect.DeepEqual(r.Header, before) {
				t.Errorf("inbound header changed: %v, was %v", r.Header, before)
			}
		})
	}
}

func TestCopyResponseHeader(t *testing.T) {
	src := http.Header{
		"Connection": {"close, X-Resp-Hop"}, "X-Resp-Hop": {"1"}, "Keep-Alive": {"timeout=5"},
		"Transfer-Encoding": {"chunked"}, "Content-Type": {"text/plain"}, "Via": {"1.1 origin"},
	}
	dst := http.Header{}
	copyResponseHeader(dst, src)
	want := http.Header{"Content-Type": {"text/plain"}, "Via": {"1.1 origin", "1.1 wedge"}}
	if !reflect.DeepEqual(dst, want) {
		t.Fatalf("got %v, want %v", dst, want)
	}
	if !reflect.DeepEqual(src["Via"], []string{"1.1 origin"}) {
		t.Fatalf("source Via changed: %v", src["Via"])
	}
}

func TestRemoteIP(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:80": "192.0.2.1", "[2001:db8::1]:443": "2001:db8::1", "noport": "noport", "": "",
	} {
		if got := remoteIP(in); got != want {
			t.Errorf("remoteIP(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzConnectionTokens(f *testing.F) {
	for _, s := range []string{"keep-alive", "close, X-Hop", " , ,x", "Upgrade", "a,b,,c", "\t te \t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		src := http.Header{"Connection": {v}}
		dst := http.Header{"Content-Type": {"x"}, "X-Hop": {"1"}}
		removeConnectionTokens(dst, src)
		connectionHas(src, "upgrade")
		if len(dst) > 2 {
			t.Fatalf("removeConnectionTokens added headers: %v", dst)
		}
	})
}

// TestHopByHopListsAgree keeps the fast switch and the list in step.
func TestHopByHopListsAgree(t *testing.T) {
	n := 0
	for _, k := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Type", "Via", "Host"} {
		in := false
		for _, h := range hopByHop {
			in = in || h == k
		}
		if in != isHopByHop(k) {
			t.Errorf("%s: list says %v, isHopByHop says %v", k, in, isHopByHop(k))
		}
		if in {
			n++
		}
	}
	if n != len(hopByHop) {
		t.Errorf("checked %d of %d listed headers", n, len(hopByHop))
	}
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestE2EProxyHTTP1 forwards HTTP/1.1 requests and checks what the origin
// received and what the client got back.
func TestE2EProxyHTTP1(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, oneTenant(origin), "http")
	c := newClient(t, protoH1, n.addr("http"))

	for _, tc := range []struct {
		name, method, host, target, body string
	}{
		{"get", "GET", "app.test", "/echo/some/path?q=1&r=%2F", ""},
		{"post with body", "POST", "app.test", "/submit", "name=wedge&x=1"},
		{"wildcard subdomain", "PUT", "api.app.test", "/v1/things", "{}"},
		{"host with port", "GET", "app.test:8080", "/p", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+tc.host+tc.target, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, c, req)
			e := echoOf(t, resp, body)
			if resp.ProtoMajor != 1 {
				t.Errorf("client got HTTP/%d, want HTTP/1.1", resp.ProtoMajor)
			}
			path, query, _ := strings.Cut(tc.target, "?")
			checks := []struct {
				what      string
				got, want any
			}{
				{"method at origin", e.Method, tc.method},
				{"path at origin", e.Path, path},
				{"query at origin", e.Query, query},
				{"body at origin", e.Body, tc.body},
				{"Host at origin", e.Host, tc.host},
				{"proto at origin", e.Proto, "HTTP/1.1"},
				{"X-Forwarded-For", header(e, "X-Forwarded-For"), []string{"127.0.0.1"}},
				{"X-Forwarded-Proto", header(e, "X-Forwarded-Proto"), []string{"http"}},
				{"X-Forwarded-Host", header(e, "X-Forwarded-Host"), []string{tc.host}},
				{"Via on the request", header(e, "Via"), []string{"1.1 wedge"}},
				{"Via on the response", resp.Header.Values("Via"), []string{"1.1 wedge"}},
				{"Content-Type on the response", resp.Header.Get("Content-Type"), "application/json"},
			}
			for _, ch := range checks {
				if fmt.Sprint(ch.got) != fmt.Sprint(ch.want) {
					t.Errorf("%s = %q, want %q", ch.what, ch.got, ch.want)
				}
			}
		})
	}
}

// TestE2EHTTP2TLS serves HTTP/2 by ALPN on a dev_self_signed TLS listener,
// with a certificate that covers each tenant domain asked for by SNI.
func TestE2EHTTP2TLS(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, fmt.Sprintf(loopbackEgress+`listeners:
  - name: https
    address: 127.0.0.1:0
    tls: {dev_self_signed: true}
tenants:
  - name: acme
    domains: [app.test, "*.app.test"]
    upstreams:
      - name: origin
        endpoints: [%[1]s]
    routes:
      - upstream: origin
  - name: shop
    domains: [shop.example]
    upstreams:
      - name: origin
        endpoints: [%[1]s]
    routes:
      - upstream: origin
`, origin), "https")
	c := newClient(t, protoH2, n.addr("https"))

	for _, tc := range []struct{ host, certName string }{
		{"app.test", "app.test"},
		{"shop.example", "shop.example"},
		{"www.app.test", "*.app.test"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			resp, body := get(t, c, "https://"+tc.host+"/h2")
			e := echoOf(t, resp, body)
			if resp.ProtoMajor != 2 {
				t.Errorf("client got %s, want HTTP/2", resp.Proto)
			}
			if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
				t.Fatalf("TLS state %+v, want ALPN h2", resp.TLS)
			}
			if got := resp.TLS.PeerCertificates[0].DNSNames; !slices.Contains(got, tc.certName) {
				t.Errorf("certificate for SNI %q has DNS names %q, want one of them %q", tc.host, got, tc.certName)
			}
			if err := resp.TLS.PeerCertificates[0].VerifyHostname(tc.host); err != nil {
				t.Errorf("certificate does not cover %q: %v", tc.host, err)
			}
			if got := header(e, "X-Forwarded-Proto"); !slices.Equal(got, []string{"https"}) {
				t.Errorf("X-Forwarded-Proto at origin = %q, want [https]", got)
			}
			if got := header(e, "Via"); !slices.Equal(got, []string{"2.0 wedge"}) {
				t.Errorf("Via at origin = %q, want [2.0 wedge]", got)
			}
			if e.Host != tc.host {
				t.Errorf("Host at origin = %q, want %q", e.Host, tc.host)
			}
		})
	}
}

// TestE2EH2C serves cleartext HTTP/2, both with prior knowledge and by the
// HTTP/1.1 Upgrade handshake.
func TestE2EH2C(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, oneTenant(origin), "http")

	t.Run("prior knowledge", func(t *testing.T) {
		c := newClient(t, protoH2C, n.addr("http"))
		resp, body := get(t, c, "http://app.test/h2c")
		e := echoOf(t, resp, body)
		if resp.ProtoMajor != 2 {
			t.Errorf("client got %s, want HTTP/2", resp.Proto)
		}
		if got := header(e, "Via"); !slices.Equal(got, []string{"2.0 wedge"}) {
			t.Errorf("Via at origin = %q, want [2.0 wedge]", got)
		}
	})
	t.Run("upgrade", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", n.addr("http"), startTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(hangGuard))
		br, status, err := h2cUpgrade(conn, "app.test", "/upgraded?x=1")
		if err != nil {
			t.Fatal(err)
		}
		if status != "HTTP/1.1 101 Switching Protocols" {
			t.Fatalf("status line %q, want HTTP/1.1 101 Switching Protocols", status)
		}
		h2, err := startH2(conn, br)
		if err != nil {
			t.Fatal(err)
		}
		// Stream 1 answers the upgrade request, which arrived as HTTP/1.1.
		resp, err := h2.read(1)
		if err != nil {
			t.Fatalf("stream 1: %v", err)
		}
		e := echoOf(t, &http.Response{StatusCode: resp.status}, string(resp.body))
		if e.Path != "/upgraded" || e.Query != "x=1" || e.Host != "app.test" {
			t.Errorf("origin saw %s %s?%s host %q, want /upgraded?x=1 on app.test", e.Method, e.Path, e.Query, e.Host)
		}
		// The handshake headers are for the edge only.
		for _, k := range []string{"Upgrade", "Http2-Settings", "Connection"} {
			if v := header(e, k); v != nil {
				t.Errorf("origin got %s: %q", k, v)
			}
		}
		if got := header(e, "X-Forwarded-For"); !slices.Equal(got, []string{"127.0.0.1"}) {
			t.Errorf("X-Forwarded-For at origin = %q, want [127.0.0.1]", got)
		}
		// Later requests on the connection are HTTP/2 streams.
		if err := h2.get(3, "app.test", "/second"); err != nil {
			t.Fatal(err)
		}
		resp, err = h2.read(3)
		if err != nil {
			t.Fatalf("stream 3: %v", err)
		}
		e = echoOf(t, &http.Response{StatusCode: resp.status}, string(resp.body))
		if e.Path != "/second" || e.Proto != "HTTP/1.1" {
			t.Errorf("origin saw %s %s", e.Proto, e.Path)
		}
		if got := header(e, "Via"); !slices.Equal(got, []string{"2.0 wedge"}) {
			t.Errorf("Via at origin for stream 3 = %q, want [2.0 wedge]", got)
		}
	})
}

// TestE2ETrailers carries request trailers to the origin and response
// trailers back, over each protocol.
func TestE2ETrailers(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, withApp(`listeners:
  - name: http
    address: 127.0.0.1:0
  - name: https
    address: 127.0.0.1:0
    tls: {dev_self_signed: true}
`, origin), "http", "https")

	for _, p := range []proto{protoH1, protoH2, protoH2C} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			addr := n.addr("http")
			if p == protoH2 {
				addr = n.addr("https")
			}
			c := newClient(t, p, addr)
			base := p.scheme() + "://app.test"

			t.Run("request", func(t *testing.T) {
				// A body of unknown length: chunked on HTTP/1.1, so that
				// trailers can follow it.
				req, err := http.NewRequest("POST", base+"/with-trailers", io.NopCloser(strings.NewReader("the body")))
				if err != nil {
					t.Fatal(err)
				}
				req.Trailer = http.Header{"X-Req-Sum": {"s1"}, "X-Other": {"o2"}}
				resp, body := do(t, c, req)
				e := echoOf(t, resp, body)
				if resp.ProtoMajor != p.major() {
					t.Errorf("client got %s", resp.Proto)
				}
				if e.Body != "the body" {
					t.Errorf("origin got body %q", e.Body)
				}
				if got := fmt.Sprint(e.Trailers); got != fmt.Sprint(map[string][]string{"X-Other": {"o2"}, "X-Req-Sum": {"s1"}}) {
					t.Errorf("origin got trailers %s, want X-Other: o2 and X-Req-Sum: s1", got)
				}
			})
			t.Run("response", func(t *testing.T) {
				resp, body := get(t, c, base+"/trailers")
				if resp.StatusCode != 200 || body != "body before trailers\n" {
					t.Fatalf("status %d, body %q", resp.StatusCode, body)
				}
				if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
					t.Errorf("response trailer X-Checksum = %q, want abc123 (trailers: %v)", got, resp.Trailer)
				}
				if got := resp.Header.Get("X-Checksum"); got != "" {
					t.Errorf("X-Checksum arrived as a header (%q), not a trailer", got)
				}
			})
		})
	}
}

// TestE2ENotFound: a host no tenant owns, and a tenant's host with no
// matching route, are both answered 404 by the edge, never by a guess.
func TestE2ENotFound(t *testing.T) {
	t.Parallel()
	hits := make(chan string, 16)
	origin := startOrigin(t, map[string]http.Handler{
		"/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits <- r.Host + r.URL.Path
			io.WriteString(w, "origin answered")
		}),
	})
	n := startWedge(t, fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
tenants:
  - name: acme
    domains: [app.test]
    upstreams:
      - name: origin
        endpoints: [%[1]s]
    routes:
      - match: {path_prefix: /api/, methods: [GET]}
        upstream: origin
  - name: other
    domains: [other.test]
    upstreams:
      - name: origin
        endpoints: [%[1]s]
    routes:
      - upstream: origin
`, origin), "http")
	c := newClient(t, protoH1, n.addr("http"))

	for _, tc := range []struct {
		name, method, host, path string
		status                   int
		body                     string
	}{
		{"unknown host", "GET", "nobody.test", "/api/x", 404, `no site is configured for host "nobody.test"`},
		{"subdomain of an exact domain", "GET", "www.app.test", "/api/x", 404, "no site is configured for host"},
		{"suffix of another domain", "GET", "evilapp.test", "/api/x", 404, "no site is configured for host"},
		{"no matching path", "GET", "app.test", "/other", 404, `no route of "app.test" matches GET /other`},
		{"no matching method", "POST", "app.test", "/api/x", 404, `no route of "app.test" matches POST /api/x`},
		{"matching route", "GET", "app.test", "/api/x", 200, "origin answered"},
		{"host in capitals", "GET", "APP.Test", "/api/y", 200, "origin answered"},
		{"another tenant", "GET", "other.test", "/z", 200, "origin answered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+tc.host+tc.path, nil)
			resp, body := do(t, c, req)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("%s %s%s: %d %q, want %d and a body containing %q", tc.method, tc.host, tc.path, resp.StatusCode, body, tc.status, tc.body)
			}
			select {
			case hit := <-hits:
				if tc.status == 404 {
					t.Errorf("the origin was asked for %s", hit)
				}
			default:
				if tc.status == 200 {
					t.Errorf("the origin was not asked")
				}
			}
		})
	}
}

// TestE2EHopByHop: hop-by-hop headers, and headers the Connection header
// names, stop at the edge in both directions; end-to-end headers pass.
func TestE2EHopByHop(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, map[string]http.Handler{
		"/hop": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Connection", "X-Resp-Hop")
			h.Set("X-Resp-Hop", "1")
			h.Set("Keep-Alive", "timeout=9")
			h.Set("Proxy-Authenticate", "Basic")
			h.Set("X-End-To-End", "yes")
			io.WriteString(w, "hop")
		}),
	})
	n := startWedge(t, oneTenant(origin), "http")

	requestHops := http.Header{
		"Connection":          {"X-Custom-Hop, X-Other-Hop"},
		"X-Custom-Hop":        {"1"},
		"X-Other-Hop":         {"2"},
		"Keep-Alive":          {"timeout=5"},
		"Proxy-Authorization": {"Basic eDp5"},
		"Proxy-Connection":    {"keep-alive"},
		"Te":                  {"gzip"},
	}
	t.Run("request", func(t *testing.T) {
		send := func(addr string) map[string][]string {
			c := newClient(t, protoH1, addr)
			req, _ := http.NewRequest("GET", "http://app.test/echo", nil)
			for k, v := range requestHops {
				req.Header[k] = v
			}
			req.Header.Set("X-End-To-End", "yes")
			resp, body := do(t, c, req)
			return echoOf(t, resp, body).Headers
		}
		// Control: sent straight to the origin, every header arrives, so
		// their absence through the edge means the edge removed them.
		direct := send(origin)
		for k := range requestHops {
			if direct[k] == nil {
				t.Fatalf("control: the client or origin drops %s by itself; the test cannot tell", k)
			}
		}
		got := send(n.addr("http"))
		for k := range requestHops {
			if v, ok := got[k]; ok {
				t.Errorf("origin got hop-by-hop %s: %q", k, v)
			}
		}
		if v := got["X-End-To-End"]; !slices.Equal(v, []string{"yes"}) {
			t.Errorf("origin got X-End-To-End %q, want [yes]", v)
		}
	})
	t.Run("response", func(t *testing.T) {
		hops := []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Authenticate"}
		direct, _ := get(t, newClient(t, protoH1, origin), "http://app.test/hop")
		for _, k := range hops {
			if direct.Header.Get(k) == "" {
				t.Fatalf("control: the origin's response has no %s; the test cannot tell", k)
			}
		}
		resp, body := get(t, newClient(t, protoH1, n.addr("http")), "http://app.test/hop")
		if resp.StatusCode != 200 || body != "hop" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		for _, k := range hops {
			if v := resp.Header.Values(k); v != nil {
				t.Errorf("client got hop-by-hop %s: %q", k, v)
			}
		}
		if v := resp.Header.Values("Connection"); slices.ContainsFunc(v, func(s string) bool { return strings.Contains(strings.ToLower(s), "x-resp-hop") }) {
			t.Errorf("client got the origin's Connection header %q", v)
		}
		if v := resp.Header.Get("X-End-To-End"); v != "yes" {
			t.Errorf("client got X-End-To-End %q, want yes", v)
		}
	})
}

// TestE2EForwardedHeaders: a client cannot forge the forwarding headers;
// a trusted proxy's are kept and extended.
func TestE2EForwardedHeaders(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, withApp(`listeners:
  - name: public
    address: 127.0.0.1:0
  - name: behind-lb
    address: 127.0.0.1:0
    trusted_proxies: [127.0.0.0/8]
`, origin), "public", "behind-lb")

	spoof := http.Header{
		"X-Forwarded-For":   {"6.6.6.6"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host":  {"evil.test"},
		"Forwarded":         {"for=6.6.6.6;proto=https"},
		"X-Real-Ip":         {"6.6.6.6"},
	}
	for _, tc := range []struct {
		listener string
		extraXFF []string // more X-Forwarded-For lines sent
		want     map[string][]string
	}{
		{"public", nil, map[string][]string{
			"X-Forwarded-For":   {"127.0.0.1"},
			"X-Forwarded-Proto": {"http"},
			"X-Forwarded-Host":  {"app.test"},
			"Forwarded":         nil,
			"X-Real-Ip":         nil,
		}},
		{"public", []string{"7.7.7.7"}, map[string][]string{
			"X-Forwarded-For": {"127.0.0.1"},
		}},
		{"behind-lb", nil, map[string][]string{
			"X-Forwarded-For":   {"6.6.6.6, 127.0.0.1"},
			"X-Forwarded-Proto": {"https"},
			"X-Forwarded-Host":  {"evil.test"},
			"Forwarded":         {"for=6.6.6.6;proto=https"},
			"X-Real-Ip":         {"6.6.6.6"},
		}},
		{"behind-lb", []string{"7.7.7.7"}, map[string][]string{
			"X-Forwarded-For": {"6.6.6.6, 7.7.7.7, 127.0.0.1"},
		}},
	} {
		t.Run(fmt.Sprintf("%s/%d lines", tc.listener, 1+len(tc.extraXFF)), func(t *testing.T) {
			c := newClient(t, protoH1, n.addr(tc.listener))
			req, _ := http.NewRequest("GET", "http://app.test/who", nil)
			for k, v := range spoof {
				req.Header[k] = v
			}
			for _, v := range tc.extraXFF {
				req.Header.Add("X-Forwarded-For", v)
			}
			resp, body := do(t, c, req)
			e := echoOf(t, resp, body)
			for k, want := range tc.want {
				if got := header(e, k); !slices.Equal(got, want) {
					t.Errorf("origin got %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestE2EOversizedHeaders: a request header block over limits.max_header_bytes
// is refused with 431 before it reaches the origin.
func TestE2EOversizedHeaders(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	cfg := strings.Replace(oneTenant(origin), "data_dir: data\n", "data_dir: data\nlimits: {max_header_bytes: 4096}\n", 1)
	n := startWedge(t, cfg, "http")

	for _, tc := range []struct {
		name   string
		size   int
		status int
	}{
		{"within the limit", 1 << 10, 200},
		{"64 KiB", 64 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A raw connection, so nothing on the client side trims or
			// refuses the header.
			conn, err := net.DialTimeout("tcp", n.addr("http"), startTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(hangGuard))
			go fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: app.test\r\nX-Big: %s\r\nConnection: close\r\n\r\n", strings.Repeat("b", tc.size))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

// TestE2EExpectContinue: a client that waits for 100 Continue before
// sending its body gets it through the edge, and the body arrives.
func TestE2EExpectContinue(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, oneTenant(origin), "http")
	c := newClient(t, protoH1, n.addr("http"))
	c.Transport.(*http.Transport).ExpectContinueTimeout = hangGuard

	var got100 atomic.Bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got100Continue: func() { got100.Store(true) },
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://app.test/upload", strings.NewReader("after the 100"))
	req.Header.Set("Expect", "100-continue")
	resp, body := do(t, c, req)
	e := echoOf(t, resp, body)
	if !got100.Load() {
		t.Error("the client got no 100 Continue")
	}
	if e.Body != "after the 100" {
		t.Errorf("origin got body %q", e.Body)
	}
}

package main

// Issue 10's data-path regression tests, through the real binary: a
// filter's edits reach the upstream intact and framed right, every filter
// of a route runs, on every route kind, on the cleaned request, every
// body limit holds, request.protocol is spelled as Envoy spells it, and
// a filter's change to host, path or a matched header selects the route
// again within the same tenant. The filters are hand-written WAT modules
// (runtime/testdata/wat/dp_*.wat, built by make wat), written from the
// Proxy-Wasm spec, not with our SDK.

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wedgeproxy/wedge/examples/origin/handler"
)

// dpBigGuard is the hang guard of the tests that move tens of MiB
// through the race-built binary (today's code buffers all of it).
const dpBigGuard = 90 * time.Second

// dpSeen is one request as the loopback origin read it.
type dpSeen struct {
	Method, Path, Host string
	ContentLength      int64 // -1: chunked
	TransferEncoding   []string
	Header             http.Header
	Body               []byte
}

// dpRecorder is an origin that keeps every request it reads, by the
// X-Dp-Id header the test put on it, and answers
// "origin read N bytes for METHOD PATH" with a Content-Length.
type dpRecorder struct {
	mu   sync.Mutex
	seen map[string]dpSeen
	hits int
}

func newDPRecorder() *dpRecorder { return &dpRecorder{seen: map[string]dpSeen{}} }

func (rc *dpRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "origin: reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.seen[r.Header.Get("X-Dp-Id")] = dpSeen{
		Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host,
		ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding,
		Header: r.Header.Clone(), Body: body,
	}
	rc.hits++
	rc.mu.Unlock()
	msg := fmt.Sprintf("origin read %d bytes for %s %s", len(body), r.Method, r.URL.Path)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	io.WriteString(w, msg)
}

// take returns the request the origin read with X-Dp-Id id.
func (rc *dpRecorder) take(id string) (dpSeen, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s, ok := rc.seen[id]
	delete(rc.seen, id)
	return s, ok
}

func (rc *dpRecorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.hits
}

// dpFilter is one entry of a route's filters list, for routes written
// at "      - " (six spaces). Every filter gets small limits of its own,
// so that a tenant with many filters stays within the node's memory cap
// on a tenant's filters, and the node's largest call deadline, so that a
// loaded machine running the race-built binary does not fail a trivial
// callback on the default 100 ms; limits adds to them
// ("max_body_bytes: 64").
func dpFilter(name, module, config, limits string) string {
	l := "instances: 2, max_memory_bytes: 4194304, call_deadline: 1s"
	if limits != "" {
		l += ", " + limits
	}
	s := fmt.Sprintf("          - name: %s\n            module: %s\n            limits: {%s}\n", name, module, l)
	if config != "" {
		s += fmt.Sprintf("            config: %q\n", config)
	}
	return s
}

// dpNode is the node layer of these tests: a plain listener "http",
// plus the listeners given (YAML list items), and the shared data
// directory.
func dpNode(t *testing.T, more ...string) string {
	return loopbackEgress + "listeners:\n  - name: http\n    address: 127.0.0.1:0\n" + strings.Join(more, "") + sharedData(t) + "\n"
}

// dpAcme is the start of a tenants layer: tenant acme owning app.test,
// with pool origin at origin and, after it, the routes that follow.
func dpAcme(origin string) string {
	return "tenants:\n  - name: acme\n    domains: [app.test]\n    upstreams:\n      - name: origin\n        endpoints: [" +
		origin + "]\n    routes:\n"
}

// dpGen is a request or response body of n bytes made as it is read, so
// that tens of MiB are never held by the test.
type dpGen struct{ left int64 }

func (g *dpGen) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > g.left {
		n = g.left
	}
	for i := range p[:n] {
		p[i] = 'u'
	}
	g.left -= n
	return int(n), nil
}

// dpRawExchange sends head (a request line and headers, CRLF-terminated,
// without the blank line) on a new HTTP/1.1 connection to addr, then
// size body bytes from a generator (chunked, or as they are, after
// Content-Length: size), while reading the response: an early answer is
// read even if the edge stops reading the body. It returns the status and
// up to 1 MiB of the response body.
func dpRawExchange(t *testing.T, addr, head string, size int64, chunked bool) (int, string, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, startTimeout)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(dpBigGuard))
	go func() {
		w := bufio.NewWriterSize(conn, 64<<10)
		if chunked {
			fmt.Fprintf(w, "%sTransfer-Encoding: chunked\r\n\r\n", head)
		} else {
			fmt.Fprintf(w, "%sContent-Length: %d\r\n\r\n", head, size)
		}
		buf := make([]byte, 32<<10)
		for g := (&dpGen{left: size}); ; {
			n, err := g.Read(buf)
			if n > 0 {
				if chunked {
					fmt.Fprintf(w, "%x\r\n", n)
				}
				if _, werr := w.Write(buf[:n]); werr != nil {
					return // the edge answered and closed: expected
				}
				if chunked {
					io.WriteString(w, "\r\n")
				}
			}
			if err != nil {
				break
			}
		}
		if chunked {
			io.WriteString(w, "0\r\n\r\n")
		}
		w.Flush()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "POST"})
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, string(body), fmt.Errorf("reading the response body: %w", err)
	}
	return resp.StatusCode, string(body), nil
}

// TestE2EIntegrityBodyAppend is issue 10 problem 1: a request filter
// that lengthens the body (appends at end of stream, replaces the whole
// body with a longer one, prepends; with or without removing
// content-length first) must have the whole edited body reach the
// origin, framed by a Content-Length equal to its length or chunked. The
// same for a body exactly at the filter's max_body_bytes that the filter
// appends to at end of stream. Over HTTP/1.1, h2c, h2 and h3, with a
// Content-Length and without (chunked on HTTP/1.1). Today the origin gets the client's
// Content-Length and the body cut to it (or the exchange fails).
func TestE2EIntegrityBodyAppend(t *testing.T) {
	t.Parallel()
	rc := newDPRecorder()
	origin := startOrigin(t, map[string]http.Handler{"/": rc})
	module := binPath(t, "wat/dp_body_append.wasm")

	type mode struct {
		config string
		edit   func(body string) string
	}
	appended := func(b string) string { return b + "-APPENDED" }
	modes := []mode{
		{"append", appended},
		{"append-paused", appended},
		{"replace", func(b string) string { return b + b }},
		{"prepend", func(b string) string { return "PREPENDED-" + b }},
		{"nocl-append", appended},
		{"nocl-replace", func(b string) string { return b + b }},
		{"nocl-prepend", func(b string) string { return "PREPENDED-" + b }},
	}
	var routes strings.Builder
	for _, m := range modes {
		fmt.Fprintf(&routes, "      - match: {path_prefix: /%s/}\n        upstream: origin\n        filters:\n", m.config)
		routes.WriteString(dpFilter("edit", module, m.config, ""))
	}
	routes.WriteString("      - match: {path_prefix: /limit/}\n        upstream: origin\n        filters:\n")
	routes.WriteString(dpFilter("edit", module, "append", "max_body_bytes: 64"))
	n := startWedge(t, dpNode(t, "  - name: https\n    address: 127.0.0.1:0\n    tls: {dev_self_signed: true}\n")+fmt.Sprintf(`%s%s`, dpAcme(origin), routes.String()), "http", "https")

	big := strings.Repeat("abcdefghij", 10_000) // 100 kB
	at64 := strings.Repeat("0123456789abcdef", 4)
	type tcase struct {
		name, path, body, want string
	}
	var cases []tcase
	for _, m := range modes {
		for _, b := range []struct{ name, body string }{{"hello", "hello"}, {"100kB", big}} {
			cases = append(cases, tcase{m.config + "/" + b.name, "/" + m.config + "/x", b.body, m.edit(b.body)})
		}
	}
	// At the limit, the edit either fits what the filter holds (the body
	// came in chunks: the last one is small) or does not: then the
	// request fails with 413 naming the filter. Never is the body
	// forwarded without the edit.
	cases = append(cases, tcase{"limit/64 bytes at max_body_bytes 64, appended", "/limit/x", at64, at64 + "-APPENDED"})

	id := 0
	for _, p := range []struct {
		name, base string
		c          *http.Client
	}{
		{"h1", "http://app.test", newClient(t, protoH1, n.addr("http"))},
		{"h2c", "http://app.test", newClient(t, protoH2C, n.addr("http"))},
		{"h2", "https://app.test", newClient(t, protoH2, n.addr("https"))},
		{"h3", "https://app.test", dpH3Client(t, n.addr("https"))},
	} {
		c := p.c
		for _, framing := range []string{"content-length", "chunked"} {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/%s/%s", p.name, framing, tc.name), func(t *testing.T) {
					id++
					var body io.Reader = strings.NewReader(tc.body)
					if framing == "chunked" {
						body = io.NopCloser(body) // length unknown: chunked on HTTP/1.1, no content-length on HTTP/2 and 3
					}
					req, err := http.NewRequest("POST", p.base+tc.path, body)
					if err != nil {
						t.Fatal(err)
					}
					rid := strconv.Itoa(id)
					req.Header.Set("X-Dp-Id", rid)
					resp, err := c.Do(req)
					if err != nil {
						t.Fatalf("POST %s: %v", tc.path, err)
					}
					answer, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					diag := fmt.Sprintf("(edge answered %d %.200q; x-dp-set-status %q)", resp.StatusCode, answer, resp.Header.Get("X-Dp-Set-Status"))
					if strings.HasPrefix(tc.path, "/limit/") && resp.StatusCode == http.StatusRequestEntityTooLarge {
						if !strings.Contains(string(answer), `filter "edit"`) {
							t.Errorf("413 does not name the filter %s", diag)
						}
						if s, ok := rc.take(rid); ok {
							t.Errorf("the origin got %d bytes of a request the edge refused", len(s.Body))
						}
						return
					}
					s, ok := rc.take(rid)
					if !ok {
						t.Fatalf("the origin got no request %s", diag)
					}
					if string(s.Body) != tc.want {
						t.Errorf("origin read %d bytes %s, want the edited %d bytes %s %s",
							len(s.Body), dpShow(s.Body), len(tc.want), dpShow([]byte(tc.want)), diag)
					}
					if s.ContentLength != -1 && s.ContentLength != int64(len(s.Body)) {
						t.Errorf("origin got Content-Length %d with a %d-byte body", s.ContentLength, len(s.Body))
					}
					if s.ContentLength == -1 && !slices.Equal(s.TransferEncoding, []string{"chunked"}) {
						t.Errorf("origin got no Content-Length and Transfer-Encoding %q", s.TransferEncoding)
					}
					if resp.StatusCode != 200 || string(answer) != fmt.Sprintf("origin read %d bytes for POST %s", len(tc.want), tc.path) {
						t.Errorf("client got %s, want 200 and the origin's answer for the %d-byte edited body", diag, len(tc.want))
					}
				})
			}
		}
	}
}

// dpShow abbreviates a body for a failure message: its first and last
// 24 bytes.
func dpShow(b []byte) string {
	if len(b) <= 60 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q…%q", b[:24], b[len(b)-24:])
}

// dpH3Client returns an HTTP/3 client that dials addr, a TLS listener's
// address (HTTP/3 is on the same port number, over UDP), for app.test.
func dpH3Client(t *testing.T, addr string) *http.Client {
	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "app.test"},
		Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddr(ctx, addr, tc, qc)
		},
	}
	t.Cleanup(func() { tr.Close() })
	return &http.Client{Transport: tr, Timeout: hangGuard}
}

// TestE2EIntegrityRespondRouteBody is issue 10 problem 2: body callbacks
// run on `respond:` routes too, so a filter that refuses some bodies
// (dp_body_deny.wat answers 403 from proxy_on_request_body whenever the
// request has a body) refuses them there. Today a respond route answers
// every POST with its fixed answer: the filter's body callback never
// runs. The upstream route is the control: the filter works there.
func TestE2EIntegrityRespondRouteBody(t *testing.T) {
	t.Parallel()
	rc := newDPRecorder()
	origin := startOrigin(t, map[string]http.Handler{"/": rc})
	deny := dpFilter("validate", binPath(t, "wat/dp_body_deny.wasm"), "", "")
	n := startWedge(t, dpNode(t)+fmt.Sprintf(`%s      - match: {path_prefix: /fixed}
        respond: {status: 200, body: "fixed answer"}
        filters:
%s      - match: {path_prefix: /fwd}
        upstream: origin
        filters:
%s`, dpAcme(origin), deny, deny), "http")

	for _, p := range []proto{protoH1, protoH2C} {
		c := newClient(t, p, n.addr("http"))
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			answer, denied           string
		}{
			{"respond route/POST with a body", "POST", "/fixed", `{"not": "valid"}`, 403, "denied by dp_body_deny", "body"},
			{"respond route/GET", "GET", "/fixed", "", 200, "fixed answer", ""},
			{"upstream route/POST with a body", "POST", "/fwd", `{"not": "valid"}`, 403, "denied by dp_body_deny", "body"},
			{"upstream route/GET", "GET", "/fwd", "", 200, "origin read 0 bytes for GET /fwd", ""},
		} {
			t.Run(string(p)+"/"+tc.name, func(t *testing.T) {
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				req, _ := http.NewRequest(tc.method, "http://app.test"+tc.path, body)
				resp, got := do(t, c, req)
				if resp.StatusCode != tc.status || got != tc.answer {
					t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, got, tc.status, tc.answer)
				}
				if v := resp.Header.Get("X-Denied"); v != tc.denied {
					t.Errorf("x-denied = %q, want %q", v, tc.denied)
				}
			})
		}
	}
}

// TestE2EIntegrityNinthFilter is issue 10 problem 3: every filter of a
// route runs. Eight header filters then a deny-all one (local_response.wat,
// 403 from on_request_headers) answer 403; twelve filters each setting a
// header of their own all reach the origin. Today the chain stops after
// eight: the ninth filter never runs.
func TestE2EIntegrityNinthFilter(t *testing.T) {
	t.Parallel()
	rc := newDPRecorder()
	origin := startOrigin(t, map[string]http.Handler{"/": rc})
	var nine, twelve strings.Builder
	for i := 1; i <= 8; i++ {
		nine.WriteString(dpFilter(fmt.Sprintf("hdr%d", i), binPath(t, "wat/add_header.wasm"), "", ""))
	}
	nine.WriteString(dpFilter("deny", binPath(t, "wat/local_response.wasm"), "", ""))
	for i := 1; i <= 12; i++ {
		twelve.WriteString(dpFilter(fmt.Sprintf("set%d", i), binPath(t, "wat/dp_set_header.wasm"), fmt.Sprintf("x-f%d=v%d", i, i), ""))
	}
	n := startWedge(t, dpNode(t)+fmt.Sprintf(`%s      - match: {path_prefix: /nine}
        upstream: origin
        filters:
%s      - match: {path_prefix: /twelve}
        upstream: origin
        filters:
%s`, dpAcme(origin), nine.String(), twelve.String()), "http")

	for _, p := range []proto{protoH1, protoH2C} {
		c := newClient(t, p, n.addr("http"))
		t.Run(string(p)+"/eight then deny", func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://app.test/nine", nil)
			req.Header.Set("X-Dp-Id", string(p)+"-nine")
			resp, body := do(t, c, req)
			if resp.StatusCode != 403 || body != "denied by wat" || resp.Header.Get("X-Denied") != "yes" {
				t.Errorf("got %d %q (x-denied %q), want the ninth filter's 403 %q with x-denied: yes",
					resp.StatusCode, body, resp.Header.Get("X-Denied"), "denied by wat")
			}
			if s, ok := rc.take(string(p) + "-nine"); ok {
				t.Errorf("the origin was asked (x-wat %q): the deny-all ninth filter did not run", s.Header.Values("X-Wat"))
			}
		})
		t.Run(string(p)+"/twelve headers", func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://app.test/twelve", nil)
			req.Header.Set("X-Dp-Id", string(p)+"-twelve")
			resp, body := do(t, c, req)
			if resp.StatusCode != 200 {
				t.Fatalf("got %d %q, want 200", resp.StatusCode, body)
			}
			s, ok := rc.take(string(p) + "-twelve")
			if !ok {
				t.Fatal("the origin got no request")
			}
			var missing []string
			for i := 1; i <= 12; i++ {
				k, want := fmt.Sprintf("X-F%d", i), fmt.Sprintf("v%d", i)
				if got := s.Header.Values(k); !slices.Equal(got, []string{want}) {
					missing = append(missing, fmt.Sprintf("%s=%q (want %q)", k, got, want))
				}
			}
			if len(missing) > 0 {
				t.Errorf("origin missed the headers of filters: %s", strings.Join(missing, ", "))
			}
		})
	}
}

// TestE2EIntegrityMethodRewrite is issue 10 problem 4: a filter that sets
// `:method` to GET changes the request that goes upstream, never how the
// response to the client is framed. HEAD then GET on one keep-alive
// connection: the HEAD response has no body, and the GET's response
// parses with its exact body. Today the edge writes the upstream's GET
// body after the HEAD response, and the next response on that connection
// is corrupt.
func TestE2EIntegrityMethodRewrite(t *testing.T) {
	t.Parallel()
	rc := newDPRecorder()
	origin := startOrigin(t, map[string]http.Handler{"/": rc})
	n := startWedge(t, dpNode(t)+fmt.Sprintf(`%s      - upstream: origin
        filters:
%s`, dpAcme(origin), dpFilter("to-get", binPath(t, "wat/dp_set_header.wasm"), ":method=GET", "")), "http")

	t.Run("h1 keep-alive HEAD then GET", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", n.addr("http"), startTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(hangGuard))
		br := bufio.NewReader(conn)

		fmt.Fprintf(conn, "HEAD /first HTTP/1.1\r\nHost: app.test\r\nX-Dp-Id: head-1\r\n\r\n")
		headReq, _ := http.NewRequest("HEAD", "http://app.test/first", nil)
		resp, err := http.ReadResponse(br, headReq)
		if err != nil {
			t.Fatalf("reading the HEAD response: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("HEAD: status %d, want 200", resp.StatusCode)
		}
		// Nothing may follow a HEAD response's header block.
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := br.Peek(1); err == nil {
			stray, _ := br.Peek(br.Buffered())
			t.Errorf("the HEAD response is followed by %d bytes: %.120q", len(stray), stray)
		} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Errorf("after the HEAD response: %v, want the connection open and quiet", err)
		}
		conn.SetDeadline(time.Now().Add(hangGuard))
		if s, ok := rc.take("head-1"); !ok || s.Method != "GET" || s.Path != "/first" {
			t.Errorf("origin got %q %q (asked: %v), want the filter's GET /first", s.Method, s.Path, ok)
		}

		fmt.Fprintf(conn, "GET /second HTTP/1.1\r\nHost: app.test\r\nX-Dp-Id: get-2\r\n\r\n")
		getReq, _ := http.NewRequest("GET", "http://app.test/second", nil)
		resp, err = http.ReadResponse(br, getReq)
		if err != nil {
			t.Fatalf("reading the GET response after the HEAD: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "origin read 0 bytes for GET /second"; err != nil || resp.StatusCode != 200 || string(body) != want {
			t.Errorf("GET after HEAD: %d %q (%v), want 200 %q", resp.StatusCode, body, err, want)
		}
		if s, ok := rc.take("get-2"); !ok || s.Method != "GET" || s.Path != "/second" {
			t.Errorf("origin got %q %q (asked: %v), want GET /second", s.Method, s.Path, ok)
		}
	})

	t.Run("h2c HEAD", func(t *testing.T) {
		c := newClient(t, protoH2C, n.addr("http"))
		for i := range 2 { // the second on the same connection
			req, _ := http.NewRequest("HEAD", "http://app.test/third", nil)
			rid := fmt.Sprintf("h2c-head-%d", i)
			req.Header.Set("X-Dp-Id", rid)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("HEAD %d: %v", i, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || len(body) != 0 {
				t.Errorf("HEAD %d: %d, body %q (%v), want 200 and no body", i, resp.StatusCode, body, err)
			}
			if s, ok := rc.take(rid); !ok || s.Method != "GET" {
				t.Errorf("HEAD %d: origin got %q (asked: %v), want the filter's GET", i, s.Method, ok)
			}
		}
		resp, body := get(t, c, "http://app.test/fourth")
		if want := "origin read 0 bytes for GET /fourth"; resp.StatusCode != 200 || body != want {
			t.Errorf("GET after the HEADs: %d %q, want 200 %q", resp.StatusCode, body, want)
		}
	})
}

// TestE2EIntegrityCleanedBeforeFilters is issue 10 problem 5: request
// filters see the cleaned request, the one that goes upstream: no
// hop-by-hop headers, none the client's Connection header names, and the
// edge's X-Forwarded-For, not an untrusted client's. dp_header_probe.wat
// copies what it sees into x-probe-* headers. Today the filter runs
// before cleaning and sees the client's 6.6.6.6, x-secret and keep-alive.
func TestE2EIntegrityCleanedBeforeFilters(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, fmt.Sprintf(loopbackEgress+`listeners:
  - name: public
    address: 127.0.0.1:0
  - name: behind-lb
    address: 127.0.0.1:0
    trusted_proxies: [127.0.0.0/8]
%s
%s      - upstream: origin
        filters:
%s`, sharedData(t), dpAcme(origin), dpFilter("probe", binPath(t, "wat/dp_header_probe.wasm"), "", "")), "public", "behind-lb")

	for _, tc := range []struct {
		name, listener string
		p              proto
		want           map[string]string
	}{
		{"untrusted client", "public", protoH1, map[string]string{
			"X-Probe-Xff": "127.0.0.1", "X-Probe-Secret": "absent", "X-Probe-Keepalive": "absent"}},
		{"trusted proxy", "behind-lb", protoH1, map[string]string{
			"X-Probe-Xff": "6.6.6.6, 127.0.0.1", "X-Probe-Secret": "absent", "X-Probe-Keepalive": "absent"}},
		// HTTP/2 has no connection-specific headers; the spoofed
		// X-Forwarded-For still must not reach the filter.
		{"untrusted client h2c", "public", protoH2C, map[string]string{"X-Probe-Xff": "127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.p, n.addr(tc.listener))
			req, _ := http.NewRequest("GET", "http://app.test/probe", nil)
			req.Header.Set("X-Forwarded-For", "6.6.6.6")
			if tc.p == protoH1 {
				req.Header.Set("Connection", "x-secret")
				req.Header.Set("X-Secret", "1")
				req.Header.Set("Keep-Alive", "timeout=5")
			}
			resp, body := do(t, c, req)
			e := echoOf(t, resp, body)
			for k, want := range tc.want {
				if got := header(e, k); !slices.Equal(got, []string{want}) {
					t.Errorf("origin got %s = %q, want [%s] (what the filter must see)", k, got, want)
				}
			}
			for _, k := range []string{"X-Secret", "Keep-Alive"} {
				if v := header(e, k); v != nil && tc.p == protoH1 {
					t.Errorf("origin got hop-by-hop %s: %q", k, v)
				}
			}
		})
	}
}

// TestE2EIntegrityBodyLimitPaused is issue 10 problem 6: with
// max_body_bytes: 64 and a filter that pauses on the headers and
// continues on every body chunk (dp_pause_headers.wat), the host holds
// the body, and the limit holds: 413 for an upload past it, 502 for a
// response past it, each naming the filter. Today both pass whole (the
// 48 MiB ones after about 256 MiB of allocation).
func TestE2EIntegrityBodyLimitPaused(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	received := map[string]int64{}
	origin := startOrigin(t, map[string]http.Handler{
		"/upload/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body)
			mu.Lock()
			received[r.URL.Path] = n
			mu.Unlock()
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "origin read %d bytes", n)
		}),
	}) // and the example origin: /bytes/{n} answers n bytes
	n := startWedge(t, dpNode(t)+fmt.Sprintf(`%s      - upstream: origin
        timeouts: {request: 80s}
        filters:
%s`, dpAcme(origin), dpFilter("pauser", binPath(t, "wat/dp_pause_headers.wasm"), "", "max_body_bytes: 64")), "http")
	addr := n.addr("http")
	names := "pauser" // the filter's name, as the 413 and 502 must say it

	const mib = 1 << 20
	for _, tc := range []struct {
		name    string
		p       proto
		size    int64
		chunked bool
		status  int
	}{
		{"h1/within the limit", protoH1, 32, false, 200},
		{"h1/48 MiB upload", protoH1, 48 * mib, false, 413},
		{"h1/1 MiB chunked upload", protoH1, 1 * mib, true, 413},
		{"h2c/within the limit", protoH2C, 32, false, 200},
		{"h2c/48 MiB upload", protoH2C, 48 * mib, false, 413},
		{"h2c/1 MiB upload without length", protoH2C, 1 * mib, true, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/upload/" + strings.ReplaceAll(tc.name, " ", "-")
			var status int
			var body string
			var err error
			if tc.p == protoH1 {
				status, body, err = dpRawExchange(t, addr, "POST "+path+" HTTP/1.1\r\nHost: app.test\r\n", tc.size, tc.chunked)
			} else {
				c := newClient(t, tc.p, addr)
				c.Timeout = dpBigGuard
				req, _ := http.NewRequest("POST", "http://app.test"+path, io.NopCloser(&dpGen{left: tc.size}))
				if !tc.chunked {
					req.ContentLength = tc.size
				}
				var resp *http.Response
				if resp, err = c.Do(req); err == nil {
					status = resp.StatusCode
					b, _ := io.ReadAll(io.LimitReader(resp.Body, mib))
					body = string(b)
					resp.Body.Close()
				}
			}
			mu.Lock()
			got, asked := received[path]
			mu.Unlock()
			if err != nil {
				t.Fatalf("%v (the origin read %d bytes)", err, got)
			}
			if status != tc.status {
				t.Fatalf("status %d %.200q, want %d (the origin read %d bytes; asked: %v)", status, body, tc.status, got, asked)
			}
			if tc.status == 200 {
				if want := fmt.Sprintf("origin read %d bytes", tc.size); body != want {
					t.Errorf("body %q, want %q", body, want)
				}
			} else if !strings.Contains(body, names) {
				t.Errorf("the 413's body %q does not name the filter %s", body, names)
			}
		})
	}

	for _, p := range []proto{protoH1, protoH2C} {
		t.Run(string(p)+"/48 MiB response", func(t *testing.T) {
			c := newClient(t, p, addr)
			c.Timeout = dpBigGuard
			resp, err := c.Get(fmt.Sprintf("http://app.test/bytes/%d", 48*mib))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			rest, _ := io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != 502 || !strings.Contains(string(head), names) {
				t.Errorf("got %d and a %d-byte body starting %.120q, want 502 naming the filter %s",
					resp.StatusCode, int64(len(head))+rest, head, names)
			}
		})
	}
	// The node is still well after it all.
	resp, body := get(t, newClient(t, protoH1, addr), "http://app.test/bytes/10")
	if resp.StatusCode != 200 || body != strings.Repeat("x", 10) {
		t.Errorf("afterwards: %d %q", resp.StatusCode, body)
	}
}

// TestE2EIntegrityRequestProtocol is issue 10 problem 9: the
// request.protocol property, which dp_protocol.wat sends upstream as
// x-protocol, is spelled as Envoy spells it: HTTP/1.0, HTTP/1.1, HTTP/2,
// HTTP/3. Today HTTP/2 and HTTP/3 answer HTTP/2.0 and HTTP/3.0.
func TestE2EIntegrityRequestProtocol(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
  - name: https
    address: 127.0.0.1:0
    tls: {dev_self_signed: true}
%s
%s      - upstream: origin
        filters:
%s`, sharedData(t), dpAcme(origin), dpFilter("protocol", binPath(t, "wat/dp_protocol.wasm"), "", "")), "http", "https")

	h3 := dpH3Client(t, n.addr("https"))

	for _, tc := range []struct {
		name, want string
		send       func(t *testing.T) (*http.Response, string)
	}{
		{"h1", "HTTP/1.1", func(t *testing.T) (*http.Response, string) {
			return get(t, newClient(t, protoH1, n.addr("http")), "http://app.test/p")
		}},
		{"HTTP/1.0", "HTTP/1.0", func(t *testing.T) (*http.Response, string) {
			conn, err := net.DialTimeout("tcp", n.addr("http"), startTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(hangGuard))
			fmt.Fprintf(conn, "GET /p HTTP/1.0\r\nHost: app.test\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return resp, string(b)
		}},
		{"h2c", "HTTP/2", func(t *testing.T) (*http.Response, string) {
			return get(t, newClient(t, protoH2C, n.addr("http")), "http://app.test/p")
		}},
		{"h2", "HTTP/2", func(t *testing.T) (*http.Response, string) {
			return get(t, newClient(t, protoH2, n.addr("https")), "https://app.test/p")
		}},
		{"h3", "HTTP/3", func(t *testing.T) (*http.Response, string) {
			return get(t, h3, "https://app.test/p")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.send(t)
			e := echoOf(t, resp, body)
			if got := header(e, "X-Protocol"); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("request.protocol = %q (x-protocol-error %q), want %q", got, header(e, "X-Protocol-Error"), tc.want)
			}
		})
	}
}

// TestE2EIntegrityRouteReselection is issue 10's route re-selection: a
// request filter's change to :path, or to a header a route matches on,
// selects the route again before the upstream (Envoy's clearing of the
// route cache, on which canary filters rely), and a change to :authority
// never takes the request to another tenant: it stays on its tenant's
// routes, and the origin gets the new Host. Today the route chosen before
// the filters serves, whatever they changed.
func TestE2EIntegrityRouteReselection(t *testing.T) {
	t.Parallel()
	var foreign atomic.Int64
	o1 := startOrigin(t, map[string]http.Handler{"/": handler.New("origin-1")})
	o2 := startOrigin(t, map[string]http.Handler{"/": handler.New("origin-2")})
	o3h := handler.New("origin-3")
	o3 := startOrigin(t, map[string]http.Handler{"/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreign.Add(1)
		o3h.ServeHTTP(w, r)
	})})
	set := binPath(t, "wat/dp_set_header.wasm")
	n := startWedge(t, dpNode(t)+fmt.Sprintf(`tenants:
  - name: t
    domains: [a.test]
    upstreams:
      - name: main
        endpoints: [%s]
      - name: canary
        endpoints: [%s]
    routes:
      - name: canary-path
        match: {path_prefix: /canary}
        upstream: canary
      - name: canary-header
        match: {headers: [{name: x-canary, value: "1"}]}
        upstream: canary
      - name: set-path
        match: {path_prefix: /v/path/}
        upstream: main
        filters:
%s      - name: set-header
        match: {path_prefix: /v/header/}
        upstream: main
        filters:
%s      - name: set-host
        match: {path_prefix: /v/host/}
        upstream: main
        filters:
%s      - name: set-host-path
        match: {path_prefix: /v/host-path/}
        upstream: main
        filters:
%s%s      - name: default
        upstream: main
  - name: u
    domains: [b.test]
    upstreams:
      - name: own
        endpoints: [%s]
    routes:
      - upstream: own
`, o1, o2,
		dpFilter("canary-path", set, ":path=/canary/x", ""),
		dpFilter("canary-header", set, "x-canary=1", ""),
		dpFilter("host", set, ":authority=b.test", ""),
		dpFilter("host", set, ":authority=b.test", ""),
		dpFilter("path", set, ":path=/canary/y", ""),
		o3), "http")

	for _, p := range []proto{protoH1, protoH2C} {
		c := newClient(t, p, n.addr("http"))
		for _, tc := range []struct {
			name, url           string
			server, path, host  string
			header, headerValue string
		}{
			// Controls: the routing without filters.
			{name: "control/canary path", url: "http://a.test/canary/z", server: "origin-2", path: "/canary/z", host: "a.test"},
			{name: "control/default", url: "http://a.test/plain", server: "origin-1", path: "/plain", host: "a.test"},
			// The filter's change selects the route again.
			{name: "path set to /canary/x", url: "http://a.test/v/path/1", server: "origin-2", path: "/canary/x", host: "a.test"},
			{name: "header x-canary set", url: "http://a.test/v/header/1", server: "origin-2", path: "/v/header/1", host: "a.test", header: "X-Canary", headerValue: "1"},
			// Never another tenant's route: T's routing of the path, Host b.test.
			{name: "authority set to b.test", url: "http://a.test/v/host/1", server: "origin-1", path: "/v/host/1", host: "b.test"},
			{name: "authority b.test and path /canary/y", url: "http://a.test/v/host-path/1", server: "origin-2", path: "/canary/y", host: "b.test"},
		} {
			t.Run(string(p)+"/"+tc.name, func(t *testing.T) {
				before := foreign.Load()
				resp, body := get(t, c, tc.url)
				if hits := foreign.Load() - before; hits != 0 {
					t.Errorf("tenant u's origin got %d requests from tenant t's route", hits)
				}
				e := echoOf(t, resp, body)
				if e.Server != tc.server || e.Path != tc.path || e.Host != tc.host {
					t.Errorf("reached %s with path %q, Host %q; want %s, %q, %q", e.Server, e.Path, e.Host, tc.server, tc.path, tc.host)
				}
				if tc.header != "" {
					if got := header(e, tc.header); !slices.Equal(got, []string{tc.headerValue}) {
						t.Errorf("origin got %s = %q, want [%s]", tc.header, got, tc.headerValue)
					}
				}
			})
		}
	}
	// Tenant u itself is served by its own origin.
	resp, body := get(t, newClient(t, protoH1, n.addr("http")), "http://b.test/own")
	if e := echoOf(t, resp, body); e.Server != "origin-3" {
		t.Errorf("b.test reached %s, want origin-3", e.Server)
	}
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2EReload: SIGHUP applies a good file, and rejects a bad one while
// the running configuration keeps serving.
func TestE2EReload(t *testing.T) {
	t.Parallel()
	cfg := func(body, action string) string {
		return fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
tenants:
  - name: acme
    domains: [app.test]
    upstreams:
      - name: origin
        endpoints: [127.0.0.1:1]
    routes:
      - name: a
        match: {path: /a}
        %s
      - name: fixed
        respond: {body: %q}
`, action, body)
	}
	const respondA = `respond: {body: "%s"}`
	n := startWedge(t, cfg("fallback", fmt.Sprintf(respondA, "one")), "http")
	c := newClient(t, protoH1, n.addr("http"))
	body := func() string {
		t.Helper()
		resp, body := get(t, c, "http://app.test/a")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %q", resp.StatusCode, body)
		}
		return body
	}
	if got := body(); got != "one" {
		t.Fatalf("before reload: %q, want one", got)
	}

	mark := n.mark()
	writeConfig(t, n.cfgPath, cfg("fallback", fmt.Sprintf(respondA, "two")))
	n.signal(syscall.SIGHUP)
	n.waitMsg(mark, "reloaded")
	deadline := time.Now().Add(5 * time.Second)
	for got := body(); got != "two"; got = body() {
		if time.Now().After(deadline) {
			t.Fatalf("5s after the reload: %q, want two", got)
		}
		time.Sleep(20 * time.Millisecond)
	}

	mark = n.mark()
	writeConfig(t, n.cfgPath, cfg("fallback", "upstream: nope"))
	n.signal(syscall.SIGHUP)
	l := n.waitMsg(mark, "reload rejected; the running configuration keeps serving")
	if want := `tenants[0].routes[0].upstream: pool "nope" is not defined`; !strings.Contains(l.str("err"), want) {
		t.Errorf("rejection says %q; want it to name the field: %q", l.str("err"), want)
	}
	if l.str("level") != "ERROR" {
		t.Errorf("rejection logged at level %q, want ERROR", l.str("level"))
	}
	for range 3 {
		if got := body(); got != "two" {
			t.Fatalf("after a rejected reload: %q, want two", got)
		}
	}
	if n.exited() {
		t.Fatal("wedge exited after a rejected reload")
	}
	if _, err := n.waitLog(mark, 0, func(l logLine) bool { return l.msg() == "reloaded" }); err == nil {
		t.Error(`a rejected file was logged as "reloaded"`)
	}
}

// TestE2EReloadCertificates: a domain added by a reload gets a
// dev_self_signed certificate and is served.
func TestE2EReloadCertificates(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	cfg := func(domains string) string {
		return fmt.Sprintf(loopbackEgress+`listeners:
  - name: https
    address: 127.0.0.1:0
    tls: {dev_self_signed: true}
tenants:
  - name: acme
    domains: [%s]
    upstreams:
      - name: origin
        endpoints: [%s]
    routes:
      - upstream: origin
`, domains, origin)
	}
	n := startWedge(t, cfg("app.test"), "https")
	c := newClient(t, protoH2, n.addr("https"))
	resp, body := get(t, c, "https://new.test/x")
	if resp.StatusCode != 404 {
		t.Fatalf("before the reload, new.test: %d %q, want 404", resp.StatusCode, body)
	}
	if slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "new.test") {
		t.Fatal("the certificate covers new.test before any tenant owns it")
	}

	mark := n.mark()
	writeConfig(t, n.cfgPath, cfg("app.test, new.test"))
	n.signal(syscall.SIGHUP)
	n.waitMsg(mark, "reloaded")
	c.Transport.(*http.Transport).CloseIdleConnections() // a new handshake
	resp, body = get(t, c, "https://new.test/x")
	if e := echoOf(t, resp, body); e.Host != "new.test" {
		t.Errorf("origin saw host %q", e.Host)
	}
	if err := resp.TLS.PeerCertificates[0].VerifyHostname("new.test"); err != nil {
		t.Errorf("after the reload: %v", err)
	}
}

// TestE2EGracefulDrain: on SIGTERM the node stops accepting connections,
// lets the request in flight finish, and exits 0 — over each protocol.
func TestE2EGracefulDrain(t *testing.T) {
	t.Parallel()
	const bodySize = 40 << 10
	for _, p := range []proto{protoH1, protoH2, protoH2C, "h2c-upgrade"} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{})
			release := make(chan struct{})
			origin := startOrigin(t, map[string]http.Handler{
				"/block": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					close(started)
					select {
					case <-release:
					case <-r.Context().Done():
						return
					}
					w.Header().Set("Content-Length", fmt.Sprint(bodySize))
					w.Write(bytes.Repeat([]byte("d"), bodySize))
				}),
			})
			t.Cleanup(func() {
				select {
				case <-release:
				default:
					close(release)
				}
			})
			n := startWedge(t, withApp(`listeners:
  - name: http
    address: 127.0.0.1:0
  - name: https
    address: 127.0.0.1:0
    tls: {dev_self_signed: true}
limits: {drain_timeout: 15s}
`, origin), "http", "https")
			addr := n.addr("http")
			if p == protoH2 {
				addr = n.addr("https")
			}

			type result struct {
				status int
				body   string
				err    error
			}
			var c *http.Client
			if p != "h2c-upgrade" {
				c = newClient(t, p, addr)
			}
			results := make(chan result, 1)
			go func() {
				var r result
				if p == "h2c-upgrade" {
					resp, err := h2cUpgradeGet(addr, "app.test", "/block")
					r.err = err
					if resp != nil {
						r.status, r.body = resp.status, string(resp.body)
					}
				} else {
					resp, err := c.Get(p.scheme() + "://app.test/block")
					if err == nil {
						var b []byte
						b, err = io.ReadAll(resp.Body)
						resp.Body.Close()
						r.status, r.body = resp.StatusCode, string(b)
					}
					r.err = err
				}
				results <- r
			}()
			select {
			case <-started:
			case <-time.After(hangGuard):
				t.Fatal("the request never reached the origin")
			}

			mark := n.mark()
			n.signal(syscall.SIGTERM)
			n.waitMsg(mark, "draining")
			if err := waitRefused(addr, 5*time.Second); err != nil {
				t.Error(err)
			}
			// A node that does not wait for the request shows it within
			// moments: the request fails, or the node exits. A node that
			// waits passes whatever this wait is.
			select {
			case r := <-results:
				t.Fatalf("the request in flight ended during the drain, before the origin answered: status %d, %v", r.status, r.err)
			case <-n.done:
				t.Fatal("wedge exited with a request in flight")
			case <-time.After(300 * time.Millisecond):
			}
			if _, err := n.waitLog(mark, 0, func(l logLine) bool { return l.msg() == "stopped" }); err == nil {
				t.Error(`wedge logged "stopped" with a request in flight`)
			}

			close(release)
			var r result
			select {
			case r = <-results:
			case <-time.After(hangGuard):
				t.Fatal("the request in flight did not finish")
			}
			if r.err != nil || r.status != 200 || r.body != strings.Repeat("d", bodySize) {
				t.Errorf("request in flight: status %d, %d bytes, %v; want 200 with %d bytes", r.status, len(r.body), r.err, bodySize)
			}
			if code := n.wait(); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if _, err := n.waitLog(mark, 0, func(l logLine) bool { return l.msg() == "stopped" }); err != nil {
				t.Errorf(`no "stopped" log line: %v`, err)
			}
		})
	}
}

// runWedge runs the binary with args and returns its exit code and output.
func runWedge(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(wedgeBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// TestE2EValidate: `wedge validate` accepts a good file and lists every
// problem of a bad one, each with its field path and line.
func TestE2EValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeConfig(t, good, oneTenant("127.0.0.1:9000"))
	bad := filepath.Join(dir, "bad.yaml")
	writeConfig(t, bad, `listeners:
  - name: http
    address: nowhere
tenants:
  - name: Acme
    domains: [app.test]
    upstreams:
      - name: origin
        endpoints: [127.0.0.1:9000]
    routes:
      - upstream: missing
`+loopbackEgress)

	t.Run("good", func(t *testing.T) {
		code, out, errOut := runWedge(t, "validate", good)
		if code != 0 {
			t.Fatalf("exit %d, want 0; stderr %q", code, errOut)
		}
		if want := good + ": ok (1 listener, 1 tenant, 1 route)\n"; out != want {
			t.Errorf("stdout %q, want %q", out, want)
		}
	})
	t.Run("bad", func(t *testing.T) {
		code, out, errOut := runWedge(t, "validate", bad)
		if code != 1 {
			t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, out, errOut)
		}
		if !strings.Contains(errOut, "3 problems") {
			t.Errorf("stderr does not count 3 problems:\n%s", errOut)
		}
		for _, want := range []string{
			`listeners\[0\]\.address: "nowhere" .* \(line 3\)`,
			`tenants\[0\]\.name: "Acme" .* \(line 5\)`,
			`tenants\[0\]\.routes\[0\]\.upstream: pool "missing" .* \(line 11\)`,
		} {
			if !regexp.MustCompile(`(?m)^\s*` + want + `$`).MatchString(errOut) {
				t.Errorf("stderr has no line matching %s:\n%s", want, errOut)
			}
		}
		if got := len(regexp.MustCompile(`\(line \d+\)`).FindAllString(errOut, -1)); got != 3 {
			t.Errorf("%d problems with a line number, want 3:\n%s", got, errOut)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		code, _, errOut := runWedge(t, "validate", filepath.Join(dir, "absent.yaml"))
		if code != 1 || !strings.Contains(errOut, "absent.yaml") {
			t.Errorf("exit %d, stderr %q; want 1 naming the file", code, errOut)
		}
	})
	t.Run("serve refuses the bad file", func(t *testing.T) {
		code, _, errOut := runWedge(t, "serve", "--config", bad)
		if code != 1 || !strings.Contains(errOut, `pool "missing" is not defined`) {
			t.Errorf("exit %d, stderr %q; want 1 with the problems", code, errOut)
		}
	})
}

// TestE2EVersion: `wedge version` prints the version.
func TestE2EVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runWedge(t, "version")
	if code != 0 || !strings.HasPrefix(out, "wedge ") {
		t.Errorf("exit %d, stdout %q; want 0 and \"wedge <version>\"", code, out)
	}
}

// sharedDataDir is the data directory of the e2e nodes that run filters:
// its compilation cache is shared, so each test does not compile the Go
// filters again (slow under -race).
// Each node keeps its own store (store.path), since a store file is
// held by one process.
var sharedDataDir = filepath.Join(os.TempDir(), "wedge-e2e-data")

// sharedData is the node-file lines for sharedDataDir and a store of the
// test's own.
func sharedData(t *testing.T) string {
	return fmt.Sprintf("data_dir: %s\nstore: {path: %s}", sharedDataDir, filepath.Join(t.TempDir(), "store.db"))
}

// demoJWT is the README's HS256 token for the quickstart's jwt filter
// (sub alice, kid demo, expires in 2100).
const demoJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImRlbW8ifQ.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.TRAZZUJ8IG-ZgX6eSKlLCLb292WRqgvAjZVFalomHGs"

// TestE2EQuickstart serves examples/quickstart/wedge.yaml, with its ports
// and origin moved to free loopback ones.
func TestE2EQuickstart(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../examples/quickstart/wedge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	origin := startOrigin(t, nil)
	cfg := string(raw)
	for _, r := range []struct{ old, new string }{
		{"127.0.0.1:8080", "127.0.0.1:0"},
		{"127.0.0.1:8443", "127.0.0.2:0"}, // see TestE2EListenersOnPortZero
		{"endpoints: [127.0.0.1:9000]", "endpoints: [" + origin + "]"},
		{"allow: [127.0.0.1:9000]", "allow: [" + origin + "]"},
		{"data_dir: ../../data", sharedData(t)},
		{"admin: 127.0.0.1:9901", "admin: 127.0.0.1:0"},
	} {
		if strings.Count(cfg, r.old) != 1 {
			t.Fatalf("the example no longer has exactly one %q; update this test", r.old)
		}
		cfg = strings.Replace(cfg, r.old, r.new, 1)
	}
	filters, err := filepath.Abs("../../bin/filters")
	if err != nil {
		t.Fatal(err)
	}
	cfg = strings.ReplaceAll(cfg, "../../bin/filters", filters)
	n := startWedge(t, cfg, "http", "https")
	for _, tc := range []struct {
		p        proto
		listener string
	}{{protoH1, "http"}, {protoH2C, "http"}, {protoH2, "https"}} {
		t.Run(string(tc.p), func(t *testing.T) {
			c := newClient(t, tc.p, n.addr(tc.listener))
			base := tc.p.scheme() + "://demo.localhost"
			resp, body := get(t, c, base+"/hello")
			if resp.StatusCode != 200 || body != "hello from the wedge edge\n" {
				t.Errorf("/hello: %d %q", resp.StatusCode, body)
			}
			resp, body = get(t, c, tc.p.scheme()+"://api.demo.localhost/anything")
			if e := echoOf(t, resp, body); e.Host != "api.demo.localhost" || e.Path != "/anything" {
				t.Errorf("origin saw %q %q", e.Host, e.Path)
			}
			// The headers filter (Proxy-Wasm, Go SDK) acts both ways.
			if got := resp.Header.Get("X-Wedge-Filter"); got != "headers" {
				t.Errorf("X-Wedge-Filter %q, want headers", got)
			}
			if !strings.Contains(body, `"X-Edge-Filter"`) {
				t.Errorf("the origin did not get the filter's request header: %s", body)
			}
		})
	}

	// The jwt filter: no token, a bad one, the README's demo token.
	{
		c := newClient(t, protoH1, n.addr("http"))
		resp, body := get(t, c, "http://demo.localhost/private/x")
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="demo"` {
			t.Errorf("/private/ without a token: %d %q %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
		req, _ := http.NewRequest("GET", "http://demo.localhost/private/x", nil)
		req.Header.Set("Authorization", "Bearer "+demoJWT)
		resp, body = do(t, c, req)
		if resp.StatusCode != 200 || !strings.Contains(body, `"alice"`) {
			t.Errorf("/private/ with the demo token: %d %s", resp.StatusCode, body)
		}
		req.Header.Set("Authorization", "Bearer "+demoJWT+"x")
		resp, _ = do(t, c, req)
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("/private/ with a bad token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}

	// The cached route, and a purge through the admin API with the demo
	// tenant's token, as the README shows.
	c := newClient(t, protoH1, n.addr("http"))
	get(t, c, "http://demo.localhost/cached/page")
	if resp, _ := get(t, c, "http://demo.localhost/cached/page"); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("second /cached/page: Cache-Status %q, want a hit", resp.Header.Get("Cache-Status"))
	}
	admin := n.waitMsg(0, "admin listening").str("addr")
	purge := func(token string) int {
		req, _ := http.NewRequest("POST", "http://"+admin+"/v1/tenants/demo/purge", strings.NewReader(`{"url":"http://demo.localhost/cached/page"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, body := do(t, http.DefaultClient, req)
		// The count is what the call removed on this node; the node's
		// own purge follower may apply the stored purge first (seen on a
		// loaded machine), so 0 is a right answer too. The miss below is
		// the promise.
		if resp.StatusCode == 200 && body != "{\"purged\":1,\"fleet\":true}\n" && body != "{\"purged\":0,\"fleet\":true}\n" {
			t.Errorf("purge answered %q", body)
		}
		return resp.StatusCode
	}
	if code := purge("wrong-token"); code != http.StatusUnauthorized {
		t.Errorf("purge with a wrong token: %d, want 401", code)
	}
	if code := purge("demo-token"); code != 200 {
		t.Fatalf("purge with the demo token: %d", code)
	}
	if resp, _ := get(t, c, "http://demo.localhost/cached/page"); strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Errorf("after the purge: Cache-Status %q, want a miss", resp.Header.Get("Cache-Status"))
	}
}

// TestE2EListenersOnPortZero: two listeners on 127.0.0.1:0 are two fresh
// ports, not one address used twice, so the configuration is valid and
// serves. (The other tests bind a second listener on 127.0.0.2:0 instead:
// Linux routes all of 127.0.0.0/8 to the loopback device, and clients still
// connect from 127.0.0.1.)
func TestE2EListenersOnPortZero(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	cfg := withApp(`listeners:
  - name: one
    address: 127.0.0.1:0
  - name: two
    address: 127.0.0.1:0
`, origin)
	path := filepath.Join(t.TempDir(), "wedge.yaml")
	writeConfig(t, path, cfg)
	if code, _, errOut := runWedge(t, "validate", path); code != 0 {
		t.Errorf("wedge validate: exit %d, want 0: %s", code, errOut)
	}
	n := startWedge(t, cfg, "one", "two")
	if n.addr("one") == n.addr("two") {
		t.Fatalf("both listeners on %s", n.addr("one"))
	}
	for _, l := range []string{"one", "two"} {
		resp, body := get(t, newClient(t, protoH1, n.addr(l)), "http://app.test/x")
		echoOf(t, resp, body)
	}
}

// TestE2EReloadBadFilter: a reload naming a module that is not a
// Proxy-Wasm filter is rejected with the filter and the reason, and the
// running filter keeps serving; a good change to the filter's
// configuration applies.
func TestE2EReloadBadFilter(t *testing.T) {
	t.Parallel()
	bin, err := filepath.Abs("../../bin")
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(module, value string) string {
		return fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
%s
tenants:
  - name: acme
    domains: [app.test]
    routes:
      - name: a
        respond: {body: "hi"}
        filters:
          - name: stamp
            module: %s
            config: {response: {set: {x-stamp: %q}}}
`, sharedData(t), module, value)
	}
	headers := filepath.Join(bin, "filters", "headers.wasm")
	junk := filepath.Join(t.TempDir(), "junk.wasm")
	writeConfig(t, junk, "#!/bin/sh\necho not WebAssembly\n")
	n := startWedge(t, cfg(headers, "one"), "http")
	c := newClient(t, protoH1, n.addr("http"))
	stamp := func() string {
		t.Helper()
		resp, body := get(t, c, "http://app.test/")
		if resp.StatusCode != 200 || body != "hi" {
			t.Fatalf("status %d: %q", resp.StatusCode, body)
		}
		return resp.Header.Get("X-Stamp")
	}
	if got := stamp(); got != "one" {
		t.Fatalf("x-stamp %q, want one", got)
	}
	for _, bad := range []struct{ module, want string }{
		{filepath.Join(bin, "wat", "no_abi.wasm"), "no supported Proxy-Wasm ABI marker"},
		{junk, "invalid WebAssembly module"},
	} {
		mark := n.mark()
		writeConfig(t, n.cfgPath, cfg(bad.module, "two"))
		n.signal(syscall.SIGHUP)
		l := n.waitMsg(mark, "reload rejected; the running configuration keeps serving")
		if err := l.str("err"); !strings.Contains(err, `tenants[0].routes[0].filters[0] (filter "stamp")`) || !strings.Contains(err, bad.want) {
			t.Errorf("rejection says %q; want the filter named and %q", err, bad.want)
		}
		if got := stamp(); got != "one" {
			t.Fatalf("after a rejected reload: x-stamp %q, want one", got)
		}
	}
	mark := n.mark()
	writeConfig(t, n.cfgPath, cfg(headers, "two"))
	n.signal(syscall.SIGHUP)
	n.waitMsg(mark, "reloaded")
	deadline := time.Now().Add(5 * time.Second)
	for got := stamp(); got != "two"; got = stamp() {
		if time.Now().After(deadline) {
			t.Fatalf("5s after the reload: x-stamp %q, want two", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestE2EValidateFilters: validate compiles and starts filters as serve
// does, and lists every refused one with its reason.
func TestE2EValidateFilters(t *testing.T) {
	t.Parallel()
	bin, err := filepath.Abs("../../bin")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "wedge.yaml")
	writeConfig(t, path, fmt.Sprintf(loopbackEgress+`listeners:
  - address: 127.0.0.1:0
data_dir: %s
tenants:
  - name: acme
    domains: [app.test]
    routes:
      - respond: {body: "hi"}
        filters:
          - {name: a, module: %s}
          - {name: b, module: %s, config: {request: {set: {"bad name": x}}}}
          - {name: c, module: %s, config: ok}
`, dir, filepath.Join(bin, "wat", "no_abi.wasm"), filepath.Join(bin, "filters", "headers.wasm"), filepath.Join(bin, "wat", "config_echo.wasm")))
	code, _, errOut := runWedge(t, "validate", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errOut)
	}
	for _, want := range []string{
		`filters[0] (filter "a"): runtime: module exports no supported Proxy-Wasm ABI marker`,
		`filters[1] (filter "b")`, `request.set["bad name"]: invalid header name`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, `filter "c"`) {
		t.Errorf("the good filter was reported:\n%s", errOut)
	}
}

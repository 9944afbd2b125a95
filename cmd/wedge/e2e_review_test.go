package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawRequest sends one HTTP/1.1 request written by hand and returns the
// response status and body.
func rawRequest(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, startTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hangGuard))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response to %q: %v", strings.SplitN(req, "\r\n", 2)[0], err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestE2EPathNormalisation pins the review finding that //admin, /./admin
// and /x/../admin went past a deny route for /admin to the origin, which
// resolved them to /admin.
func TestE2EPathNormalisation(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
tenants:
  - name: acme
    domains: [acl.test]
    upstreams:
      - name: origin
        endpoints: [%s]
    routes:
      - match: {path_prefix: /admin}
        respond: {status: 403, body: denied}
      - upstream: origin
`, origin), "http")
	addr := n.addr("http")
	for _, target := range []string{"/admin/x", "//admin/x", "/./admin/x", "/x/../admin/x", "/x/..%2fadmin/x", "/x/..%2Fadmin/x"} {
		code, body := rawRequest(t, addr, "GET "+target+" HTTP/1.1\r\nHost: acl.test\r\nConnection: close\r\n\r\n")
		if code != 403 || body != "denied" {
			t.Errorf("GET %s: %d %q, want the deny route's 403", target, code, body)
		}
	}
	// What reaches the origin is the normalised path.
	code, body := rawRequest(t, addr, "GET /a//b/./c/../d HTTP/1.1\r\nHost: acl.test\r\nConnection: close\r\n\r\n")
	if code != 200 || !strings.Contains(body, `"path": "/a/b/d"`) {
		t.Errorf("GET /a//b/./c/../d: %d %s, want the origin to see /a/b/d", code, body)
	}
}

// TestE2EUpgradeEdgeCases pins review findings L1 and L3: Upgrade: h2c is
// never passed to the origin, and CONNECT is refused at the edge.
func TestE2EUpgradeEdgeCases(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, oneTenant(origin), "http")
	addr := n.addr("http")

	code, body := rawRequest(t, addr, "GET /echo HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nConnection: close\r\n\r\n")
	if code != 200 {
		t.Fatalf("h2c upgrade attempt: %d %s", code, body)
	}
	if strings.Contains(strings.ToLower(body), "h2c") {
		t.Errorf("the origin received an h2c upgrade offer: %s", body)
	}

	code, body = rawRequest(t, addr, "CONNECT app.test:443 HTTP/1.1\r\nHost: app.test:443\r\n\r\n")
	if code != http.StatusMethodNotAllowed || !strings.Contains(body, "CONNECT") {
		t.Errorf("CONNECT: %d %q, want 405 naming CONNECT", code, body)
	}
}

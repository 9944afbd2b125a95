package upstream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
)

// strayOrigin is a broken origin on raw TCP: it answers the request named
// by trigger (a HEAD, or a path answered 204 or 304) with headers only,
// and sends stray bytes that look like a response on that connection
// late: only once the next request has arrived on it, long after the
// client has taken the connection back. Every other request is answered
// with its own path. It returns the endpoint and the accept count.
func strayOrigin(t *testing.T, status int) (string, func() int32) {
	ep, n := rawOrigin(t, func(nc net.Conn, br *bufio.Reader) {
		stray := false
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if stray {
				// The stray bytes, after the client sent its next
				// request: no check at reuse time can see them.
				io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!")
				stray = false
			}
			if req.URL.Path == "/bodiless" {
				fmt.Fprintf(nc, "HTTP/1.1 %d %s\r\nContent-Length: 5\r\nEtag: \"x\"\r\n\r\n", status, http.StatusText(status))
				stray = true
				continue
			}
			fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
		}
	})
	return ep, n.Load
}

func forwardOnce(t *testing.T, p *Pool, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://upstream"+path, nil)
	req.Host = "site.test"
	resp, _, err := p.Forward(context.Background(), req, testTimeouts)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

// TestStrayBytesAfterBodilessResponse is issue 10 item 8: bytes an origin
// sends after a HEAD, 204 or 304 response, arriving only after the
// connection went back to the pool, were read as the next request's
// response. A connection whose last response had no body by definition
// is never reused: the next request gets a fresh connection and its own
// response.
func TestStrayBytesAfterBodilessResponse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		status int
	}{
		{"HEAD", "HEAD", 200},
		{"204", "GET", 204},
		{"304", "GET", 304},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep, accepted := strayOrigin(t, tc.status)
			p := testPool(ep)
			defer p.Close()
			if code, body := forwardOnce(t, p, tc.method, "/bodiless"); code != tc.status || body != "" {
				t.Fatalf("%s /bodiless: %d %q", tc.method, code, body)
			}
			for _, path := range []string{"/second", "/third"} {
				if code, body := forwardOnce(t, p, "GET", path); code != 200 || body != path {
					t.Fatalf("GET %s got %d %q: the stray bytes after the %s response were read as its response", path, code, body, tc.name)
				}
			}
			// The bodiless response's connection was closed, the next
			// one (clean) carried both GETs.
			if n := accepted(); n != 2 {
				t.Fatalf("the origin accepted %d connections, want 2: one closed after the bodiless response, one reused", n)
			}
		})
	}
}

// TestCleanConnectionReused checks that keep-alive still holds for
// connections whose responses had bodies, on the same raw origin.
func TestCleanConnectionReused(t *testing.T) {
	ep, accepted := strayOrigin(t, 204)
	p := testPool(ep)
	defer p.Close()
	for i := range 10 {
		path := fmt.Sprintf("/r%d", i)
		if code, body := forwardOnce(t, p, "GET", path); code != 200 || body != path {
			t.Fatalf("GET %s: %d %q", path, code, body)
		}
	}
	if n := accepted(); n != 1 {
		t.Fatalf("10 sequential requests used %d connections, want 1", n)
	}
}

package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/examples/origin/handler"
)

// TestE2EUploadLongerThanResponseHeaderTimeout: timeouts.response_header
// bounds the wait for response headers once the request is sent
// (config.Timeouts.ResponseHeader), so an upload that takes longer than it
// must not be cut off while the origin is still reading it.
func TestE2EUploadLongerThanResponseHeaderTimeout(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, nil)
	n := startWedge(t, strings.Replace(oneTenant(origin), "upstream: origin\n", "upstream: origin\n        timeouts: {response_header: 300ms}\n", 1), "http")
	c := newClient(t, protoH1, n.addr("http"))

	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("first half, "))
		// Longer than response_header: the upload is still being sent.
		time.Sleep(900 * time.Millisecond)
		pw.Write([]byte("second half"))
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://app.test/upload", pr)
	resp, body := do(t, c, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200: %q", resp.StatusCode, body)
	}
	if e := echoOf(t, resp, body); e.Body != "first half, second half" {
		t.Errorf("origin got %q", e.Body)
	}
}

// TestE2EEarlyResponse: an origin may answer before it has read the
// request body (RFC 9112 §9.3: a client watches for a response while it
// sends). Over HTTP/2, where the streams are full duplex, the client must
// get that answer while its body is still open. (Not over HTTP/1.1:
// net/http's HTTP/1.1 server, Wedge's included, reads the rest of the
// body before it answers unless the handler enables full duplex.)
func TestE2EEarlyResponse(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, map[string]http.Handler{
		"/early": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Answer now, without first reading the body to its end.
			if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
				t.Error(err)
			}
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "7")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "denied\n")
			w.(http.Flusher).Flush()
			io.Copy(io.Discard, r.Body) // then take the rest of the body
		}),
	})
	n := startWedge(t, withApp(`listeners:
  - name: http
    address: 127.0.0.1:0
  - name: https
    address: 127.0.0.1:0
    tls: {dev_self_signed: true}
`, origin), "http", "https")

	for _, p := range []proto{protoH2, protoH2C} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			addr := n.addr("http")
			if p == protoH2 {
				addr = n.addr("https")
			}
			c := newClient(t, p, addr)
			pr, pw := io.Pipe()
			answered := make(chan struct{})
			var gaveUp atomic.Bool
			go func() {
				pw.Write(bytes.Repeat([]byte("u"), 4<<10))
				// The rest of the body waits for the answer. After a
				// while the client gives up waiting and ends its body,
				// so a proxy that holds the answer back ends the test.
				select {
				case <-answered:
				case <-time.After(5 * time.Second):
					gaveUp.Store(true)
				}
				pw.Close()
			}()
			req, _ := http.NewRequest("POST", p.scheme()+"://app.test/early", pr)
			resp, body := do(t, c, req)
			close(answered)
			if resp.StatusCode != http.StatusForbidden || body != "denied\n" {
				t.Errorf("got %d %q, want the origin's 403 denied", resp.StatusCode, body)
			}
			if gaveUp.Load() {
				t.Error("the origin's answer reached the client only after the client ended its request body")
			}
		})
	}
}

// TestE2EUpstreamClosedIdleConnection: an origin that closes idle
// keep-alive connections (as every server does after its idle timeout)
// must not cost the next request, with or without a body.
func TestE2EUpstreamClosedIdleConnection(t *testing.T) {
	t.Parallel()
	var open atomic.Int64 // the origin's open connections
	srv := httptest.NewUnstartedServer(handler.New("origin"))
	srv.Config.IdleTimeout = 50 * time.Millisecond
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	n := startWedge(t, oneTenant(srv.Listener.Addr().String()), "http")
	c := newClient(t, protoH1, n.addr("http"))

	for _, tc := range []struct{ method, body string }{
		{"GET", ""},
		{"POST", "a body"},
		{"PUT", "another body"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			// One request leaves a keep-alive connection in the edge's
			// pool; wait until the origin has closed it as idle.
			resp, body := get(t, c, "http://app.test/warm")
			echoOf(t, resp, body)
			deadline := time.Now().Add(hangGuard)
			for open.Load() > 0 {
				if time.Now().After(deadline) {
					t.Fatal("the origin never closed the idle connection")
				}
				time.Sleep(10 * time.Millisecond)
			}
			var rb io.Reader
			if tc.body != "" {
				rb = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, "http://app.test/after-idle", rb)
			resp, body = do(t, c, req)
			if resp.StatusCode != 200 {
				t.Fatalf("%s after the origin closed an idle connection: %d %q", tc.method, resp.StatusCode, body)
			}
			if e := echoOf(t, resp, body); e.Body != tc.body {
				t.Errorf("origin got body %q, want %q", e.Body, tc.body)
			}
		})
	}
}

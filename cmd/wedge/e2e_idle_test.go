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

	"golang.org/x/net/websocket"
)

// idleConfig is one tenant behind a listener whose idle limits are short.
func idleConfig(origin string) string {
	return withApp(`listeners:
  - name: http
    address: 127.0.0.1:0
limits:
  body_idle_timeout: 300ms
  tunnel_idle_timeout: 1s
`, origin)
}

// TestE2EBodyIdleTimeout: a client that stops sending its request body is
// cut off (review finding M3: it held an upstream connection forever).
func TestE2EBodyIdleTimeout(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	origin := startOrigin(t, map[string]http.Handler{
		"/upload": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.Copy(io.Discard, r.Body)
			got <- err
		}),
	})
	n := startWedge(t, idleConfig(origin), "http")
	c, err := net.DialTimeout("tcp", n.addr("http"), startTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100\r\n\r\n0123456789")
	// ... and nothing more.
	c.SetReadDeadline(time.Now().Add(hangGuard))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled upload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "request body") {
		t.Fatalf("stalled upload: %d %q, want 408 naming the request body", resp.StatusCode, body)
	}
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("the origin received a complete body from a client that sent 10 of 100 bytes")
		}
	case <-time.After(500 * time.Millisecond):
		// The request head never reached the origin: nothing to end.
	}
}

// TestE2ETunnelIdleTimeout: an upgraded connection idle both ways is
// closed; one with traffic in a single direction is not.
func TestE2ETunnelIdleTimeout(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, map[string]http.Handler{
		"/ws-quiet": websocket.Handler(func(ws *websocket.Conn) {
			io.Copy(io.Discard, ws) // never writes
		}),
		"/ws-ticker": websocket.Handler(func(ws *websocket.Conn) {
			for i := 0; ; i++ { // server push only, every 100ms
				if websocket.Message.Send(ws, fmt.Sprint(i)) != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}),
	})
	n := startWedge(t, idleConfig(origin), "http")
	dial := func(path string) *websocket.Conn {
		conn, err := net.DialTimeout("tcp", n.addr("http"), startTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(hangGuard))
		cfg, _ := websocket.NewConfig("ws://app.test"+path, "http://app.test")
		ws, err := websocket.NewClient(cfg, conn)
		if err != nil {
			t.Fatalf("handshake through the edge: %v", err)
		}
		return ws
	}

	quiet := dial("/ws-quiet")
	start := time.Now()
	var m string
	err := websocket.Message.Receive(quiet, &m)
	if err == nil || time.Since(start) >= hangGuard-time.Second {
		t.Fatalf("idle tunnel: Receive = %q, %v after %v; want it closed by the edge", m, err, time.Since(start))
	}

	ticker := dial("/ws-ticker")
	for i := range 25 { // 2.5s of one-way traffic: over two idle periods
		if err := websocket.Message.Receive(ticker, &m); err != nil {
			t.Fatalf("one-way tunnel closed after %d messages: %v", i, err)
		}
		if !strings.HasPrefix(m, fmt.Sprint(i)) {
			t.Fatalf("message %d = %q", i, m)
		}
	}
}

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// TestE2EUpstreamFailures: the edge answers 502 and 504 with a body that
// names the cause and a request ID, and never the pool, the endpoint or
// the raw error (issue 16 item 5): those are in the node's log line under
// the same request ID.
func TestE2EUpstreamFailures(t *testing.T) {
	t.Parallel()
	origin := startOrigin(t, map[string]http.Handler{
		// Headers at once, then a body that never ends.
		"/stall": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}),
	})
	n := startWedge(t, fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
tenants:
  - name: acme
    domains: [down.test, hdr.test, req.test]
    upstreams:
      - name: dead
        endpoints: [%s]
      - name: origin
        endpoints: [%s]
    routes:
      - match: {domains: [down.test]}
        upstream: dead
        timeouts: {connect: 5s}
      - match: {domains: [hdr.test]}
        upstream: origin
        timeouts: {response_header: 300ms}
      - match: {domains: [req.test]}
        upstream: origin
        timeouts: {request: 300ms}
`, closedPort(t), origin), "http")
	c := newClient(t, protoH1, n.addr("http"))

	for _, tc := range []struct {
		name, url string
		status    int
		body      []string // each must be in the body
	}{
		{"upstream down", "http://down.test/x", 502, []string{"connecting to the upstream failed", "refused"}},
		{"no response headers", "http://hdr.test/slow?ms=3000", 504, []string{"no response headers", "300ms"}},
		{"request timeout", "http://req.test/slow?ms=3000", 504, []string{"request timeout", "300ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := get(t, c, tc.url)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tc.status, body)
			}
			for _, want := range tc.body {
				if !strings.Contains(body, want) {
					t.Errorf("body %q does not contain %q", body, want)
				}
			}
			if !strings.HasPrefix(body, "wedge: ") {
				t.Errorf("body %q does not say it comes from the edge", body)
			}
			for _, internal := range []string{`"dead"`, `"origin"`, "127.0.0.1", "dial", "tcp"} {
				if strings.Contains(body, internal) {
					t.Errorf("body %q shows the client %q", body, internal)
				}
			}
			id := resp.Header.Get("X-Request-Id")
			if len(id) != 16 || !strings.Contains(body, "(request "+id+")") {
				t.Fatalf("request ID %q is not in the body %q", id, body)
			}
			l, err := n.waitLog(0, hangGuard, func(l logLine) bool { return l.str("request_id") == id })
			if err != nil {
				t.Fatalf("no log line with request_id %s: %v", id, err)
			}
			if l.str("pool") == "" || !strings.HasPrefix(l.str("endpoint"), "127.0.0.1:") || l.str("error") == "" {
				t.Errorf("the log line lacks the pool, endpoint or error: %s", l.raw)
			}
		})
	}
	t.Run("request timeout mid-body", func(t *testing.T) {
		t.Parallel()
		resp, err := c.Get("http://req.test/stall")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want the origin's 200", resp.StatusCode)
		}
		body, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Fatalf("body %q ended cleanly; a body cut short by the request timeout must not look whole", body)
		}
		if string(body) != "partial" {
			t.Errorf("got %q before the error, want %q", body, "partial")
		}
	})
}

// TestE2EWebSocket: a WebSocket through the edge echoes, and closing
// either side closes the other.
func TestE2EWebSocket(t *testing.T) {
	t.Parallel()
	type wsCall struct {
		header http.Header
		done   chan struct{} // closed when the origin's handler returns
	}
	calls := make(chan *wsCall, 8)
	track := func(serve func(*websocket.Conn)) http.Handler {
		return websocket.Handler(func(ws *websocket.Conn) {
			call := &wsCall{header: ws.Request().Header.Clone(), done: make(chan struct{})}
			defer close(call.done)
			calls <- call
			serve(ws)
		})
	}
	origin := startOrigin(t, map[string]http.Handler{
		"/ws-echo": track(func(ws *websocket.Conn) { // whole messages, empty ones too
			for {
				var m []byte
				if websocket.Message.Receive(ws, &m) != nil || websocket.Message.Send(ws, string(m)) != nil {
					return
				}
			}
		}),
		"/ws-once": track(func(ws *websocket.Conn) { // one echo, then the origin hangs up
			var m string
			if websocket.Message.Receive(ws, &m) == nil {
				websocket.Message.Send(ws, m)
			}
		}),
	})
	n := startWedge(t, oneTenant(origin), "http")

	dial := func(t *testing.T, path string) (*websocket.Conn, net.Conn) {
		conn, err := net.DialTimeout("tcp", n.addr("http"), startTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(hangGuard))
		cfg, err := websocket.NewConfig("ws://app.test"+path, "http://app.test")
		if err != nil {
			t.Fatal(err)
		}
		ws, err := websocket.NewClient(cfg, conn)
		if err != nil {
			t.Fatalf("handshake through the edge: %v", err)
		}
		return ws, conn
	}
	nextCall := func(t *testing.T) *wsCall {
		select {
		case c := <-calls:
			return c
		case <-time.After(hangGuard):
			t.Fatal("the origin never got the WebSocket")
			return nil
		}
	}
	echo := func(t *testing.T, ws *websocket.Conn, msgs ...string) {
		for _, m := range msgs {
			if err := websocket.Message.Send(ws, m); err != nil {
				t.Fatalf("send: %v", err)
			}
			var got string
			if err := websocket.Message.Receive(ws, &got); err != nil {
				t.Fatalf("receive: %v", err)
			}
			if got != m {
				t.Fatalf("echo of %d bytes came back as %d bytes", len(m), len(got))
			}
		}
	}
	waitDone := func(t *testing.T, c *wsCall, why string) {
		select {
		case <-c.done:
		case <-time.After(hangGuard):
			t.Fatalf("%s, but the origin's connection stayed open", why)
		}
	}

	for _, tc := range []struct {
		name  string
		close func(ws *websocket.Conn, conn net.Conn)
	}{
		{"client sends close", func(ws *websocket.Conn, _ net.Conn) { ws.Close() }},
		{"client drops the connection", func(_ *websocket.Conn, conn net.Conn) { conn.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, conn := dial(t, "/ws-echo")
			call := nextCall(t)
			if got := call.header.Get("X-Forwarded-For"); got != "127.0.0.1" {
				t.Errorf("origin got X-Forwarded-For %q on the upgrade, want 127.0.0.1", got)
			}
			if got := call.header.Get("Via"); got != "1.1 wedge" {
				t.Errorf("origin got Via %q on the upgrade, want 1.1 wedge", got)
			}
			echo(t, ws, "one", "two", "", strings.Repeat("z", 200<<10), "last")
			tc.close(ws, conn)
			waitDone(t, call, "the client closed")
		})
	}
	t.Run("origin hangs up", func(t *testing.T) {
		ws, _ := dial(t, "/ws-once")
		call := nextCall(t)
		echo(t, ws, "only")
		waitDone(t, call, "")
		var m string
		err := websocket.Message.Receive(ws, &m)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("after the origin closed, the client read %q, %v; want io.EOF", m, err)
		}
	})
}

// TestE2EStreamingBodies moves 16 MiB each way and shows the edge streams
// them: the origin sees the start of a request body before the client has
// sent the rest, and the client sees the start of a response before the
// origin has sent the rest. An edge that buffered whole bodies would
// deadlock here (until the hang guard fails the test).
func TestE2EStreamingBodies(t *testing.T) {
	t.Parallel()
	const size = 16 << 20
	const head = 1 << 20
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{'w', 'e', 'd', 'g', 'e'})
	rng.Read(data)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	var mu sync.Mutex
	gates := map[string]chan struct{}{}
	gate := func(id string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if gates[id] == nil {
			gates[id] = make(chan struct{})
		}
		return gates[id]
	}
	origin := startOrigin(t, map[string]http.Handler{
		// Reads the first byte, tells the client, then reads the rest.
		"POST /sink/{id}": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := sha256.New()
			n, err := io.CopyN(h, r.Body, 1)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			close(gate(r.PathValue("id")))
			m, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"n": strconv.FormatInt(n+m, 10), "sha256": hex.EncodeToString(h.Sum(nil))})
		}),
		// Sends the first MiB, waits for the client to have seen some of
		// it, then sends the rest.
		"GET /gated/{id}": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Write(data[:head])
			w.(http.Flusher).Flush()
			select {
			case <-gate(r.PathValue("id")):
			case <-time.After(hangGuard):
				return // cut short: the client's read fails
			}
			w.Write(data[head:])
		}),
	})
	n := startWedge(t, withApp(`listeners:
  - name: http
    address: 127.0.0.1:0
  - name: https
    address: 127.0.0.1:0
    tls: {dev_self_signed: true}
`, origin), "http", "https")

	for _, p := range []proto{protoH1, protoH2} {
		t.Run(string(p), func(t *testing.T) {
			addr := n.addr("http")
			if p == protoH2 {
				addr = n.addr("https")
			}
			c := newClient(t, p, addr)
			base := p.scheme() + "://app.test"

			t.Run("upload", func(t *testing.T) {
				id := "up-" + string(p)
				pr, pw := io.Pipe()
				go func() {
					if _, err := pw.Write(data[:head]); err != nil {
						return
					}
					select {
					case <-gate(id):
					case <-time.After(hangGuard):
						pw.CloseWithError(errors.New("the origin got nothing of the body while the client held back the rest: the edge does not stream request bodies"))
						return
					}
					pw.Write(data[head:])
					pw.Close()
				}()
				req, _ := http.NewRequest("POST", base+"/sink/"+id, pr)
				resp, body := do(t, c, req)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %q", resp.StatusCode, body)
				}
				var got map[string]string
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatalf("%q: %v", body, err)
				}
				if got["n"] != strconv.Itoa(size) || got["sha256"] != want {
					t.Fatalf("origin got %s bytes with sha256 %s, want %d bytes with %s", got["n"], got["sha256"], size, want)
				}
			})
			t.Run("download", func(t *testing.T) {
				id := "down-" + string(p)
				resp, err := c.Get(base + "/gated/" + id)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != 200 || resp.ContentLength != size {
					t.Fatalf("status %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
				}
				first := make([]byte, 1)
				if _, err := io.ReadFull(resp.Body, first); err != nil {
					t.Fatalf("reading the first byte: %v", err)
				}
				close(gate(id))
				rest, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("reading the body after %d bytes: %v", 1+len(rest), err)
				}
				if got := append(first, rest...); !bytes.Equal(got, data) {
					t.Fatalf("got %d bytes, not the %d the origin sent", len(got), size)
				}
			})
			t.Run("bytes", func(t *testing.T) {
				resp, err := c.Get(base + "/bytes/" + strconv.Itoa(size))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				nx, err := io.Copy(xCounter{}, resp.Body)
				if err != nil || resp.StatusCode != 200 || nx != size {
					t.Fatalf("status %d: %d bytes of 'x', %v; want %d", resp.StatusCode, nx, err, size)
				}
			})
		})
	}
}

// xCounter accepts only 'x' bytes, as the origin's /bytes/N sends.
type xCounter struct{}

func (xCounter) Write(p []byte) (int, error) {
	for i, b := range p {
		if b != 'x' {
			return i, fmt.Errorf("byte %q in the body", b)
		}
	}
	return len(p), nil
}

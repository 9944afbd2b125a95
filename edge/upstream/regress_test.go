package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			accepted <- nc
		}
	}()
	c := newClient(1, 0)
	cn, err := c.dial(context.Background(), ln.Addr().String(), testTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.nc.Close()
	srv := <-accepted
	if !alive(cn) {
		t.Fatal("an open idle connection is reported dead")
	}
	srv.Write([]byte("x")) // unsolicited bytes: not reusable either
	waitFor(t, func() bool { return !alive(cn) }, "a connection with unsolicited bytes is still reported alive")

	cn2, err := c.dial(context.Background(), ln.Addr().String(), testTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	defer cn2.nc.Close()
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			nc.Close()
		}
	}()
	waitFor(t, func() bool { return !alive(cn2) }, "a connection closed by the upstream is still reported alive")
}

func waitFor(t *testing.T, ok func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawOrigin serves each connection with fn, counting connections.
func rawOrigin(t *testing.T, fn func(nc net.Conn, br *bufio.Reader)) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() {
				defer nc.Close()
				fn(nc, bufio.NewReader(nc))
			}()
		}
	}()
	return ln.Addr().String(), &n
}

// TestHeadBodyDoesNotPoisonNextResponse pins review finding H1: an origin
// that sends a body on a HEAD response left it buffered on the pooled
// connection, and the next request read it as its own response.
func TestHeadBodyDoesNotPoisonNextResponse(t *testing.T) {
	ep, _ := rawOrigin(t, func(nc net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.Method == "HEAD" {
				smuggled := "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninjected"
				fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(smuggled), smuggled)
				continue
			}
			fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
		}
	})
	c := newClient(4, 0)
	defer c.Close()
	req, _ := http.NewRequest("HEAD", "http://"+ep+"/h", nil)
	resp, err := c.RoundTrip(context.Background(), req, ep, testTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	time.Sleep(20 * time.Millisecond) // let the stray bytes arrive
	for _, p := range []string{"/b", "/c", "/d"} {
		if code, body := get(t, c, ep, p); code != 200 || body != p {
			t.Fatalf("GET %s got %d %q: another request's response", p, code, body)
		}
	}
}

// TestIdleTimeoutAtOrigin pins review finding H2: after the origin closed
// a burst of idle keep-alive connections, requests failed with 502
// because the retry took another dead pooled connection.
func TestIdleTimeoutAtOrigin(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond)
		io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 100 * time.Millisecond
	srv.Start()
	defer srv.Close()
	ep := srv.Listener.Addr().String()
	c := newClient(64, 0)
	defer c.Close()
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() { get(t, c, ep, "/warm") })
	}
	wg.Wait()
	time.Sleep(400 * time.Millisecond) // the origin closes all 40
	for i := range 10 {
		if code, body := get(t, c, ep, "/after"); code != 200 || body != "ok" {
			t.Fatalf("request %d after the origin's idle timeout: %d %q", i, code, body)
		}
	}
	for _, m := range []string{"POST", "PATCH"} {
		// Non-idempotent requests are not retried, so they must not be
		// handed a dead connection either.
		time.Sleep(300 * time.Millisecond)
		req, _ := http.NewRequest(m, "http://"+ep+"/", strings.NewReader("body"))
		resp, err := c.RoundTrip(context.Background(), req, ep, testTimeouts)
		if err != nil {
			t.Fatalf("%s after the origin's idle timeout: %v", m, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// TestNonIdempotentNotReplayed checks that a POST whose connection broke
// after it was sent is not sent again.
func TestNonIdempotentNotReplayed(t *testing.T) {
	var seen atomic.Int32
	ep, _ := rawOrigin(t, func(nc net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.Method == "POST" {
				seen.Add(1)
				return // close without answering
			}
			io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	c := newClient(4, 0)
	defer c.Close()
	get(t, c, ep, "/warm") // leaves a pooled connection
	req, _ := http.NewRequest("POST", "http://"+ep+"/", nil)
	if _, err := c.RoundTrip(context.Background(), req, ep, testTimeouts); err == nil {
		t.Fatal("POST answered by nobody succeeded")
	}
	if n := seen.Load(); n != 1 {
		t.Fatalf("the origin received the POST %d times, want 1", n)
	}
}

// TestStalledUploadTimesOut pins review finding M1: an origin that stops
// reading a request body held both ends forever.
func TestStalledUploadTimesOut(t *testing.T) {
	ep, _ := rawOrigin(t, func(nc net.Conn, br *bufio.Reader) {
		http.ReadRequest(br)
		time.Sleep(10 * time.Second) // never reads the body
	})
	c := newClient(4, 0)
	defer c.Close()
	big := strings.NewReader(strings.Repeat("x", 64<<20))
	req, _ := http.NewRequest("PUT", "http://"+ep+"/", big)
	done := make(chan error, 1)
	go func() {
		_, err := c.RoundTrip(context.Background(), req, ep, Timeouts{Connect: time.Second, ResponseHeader: 200 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUploadStalled) {
			t.Fatalf("err = %v, want ErrUploadStalled", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("a stalled upload was never cut off")
	}
}

func TestPoolFailsOverOnConnectError(t *testing.T) {
	srv, _ := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") }))
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	p := testPool(deadAddr, srv.Listener.Addr().String())
	for i := range 6 {
		req, _ := http.NewRequest("GET", "http://x/", nil)
		resp, ep, err := p.Forward(context.Background(), req, testTimeouts)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "up" || ep == deadAddr {
			t.Fatalf("request %d answered by %s: %q", i, ep, b)
		}
	}
	if p.endpoints[0].downUntil.Load() == 0 {
		t.Fatal("the dead endpoint was not marked down")
	}
}

// TestSuspectAfter204 checks that stray bytes already in the socket after
// a 204 are never read as the next response (the connection of a
// response without a body by definition is not reused at all; see
// TestStrayBytesAfterBodilessResponse for bytes that arrive later).
func TestSuspectAfter204(t *testing.T) {
	strayed := make(chan struct{}, 1)
	ep, _ := rawOrigin(t, func(nc net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/empty" {
				io.WriteString(nc, "HTTP/1.1 204 No Content\r\n\r\n")
				time.Sleep(5 * time.Millisecond)
				io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray") // a broken origin
				strayed <- struct{}{}
				continue
			}
			fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
		}
	})
	c := newClient(4, 0)
	defer c.Close()
	if code, _ := get(t, c, ep, "/empty"); code != 204 {
		t.Fatalf("status %d", code)
	}
	<-strayed // on loopback the bytes are in our socket once the write returns
	if code, body := get(t, c, ep, "/next"); code != 200 || body != "/next" {
		t.Fatalf("GET /next got %d %q: the stray bytes after a 204 were read as its response", code, body)
	}
}

package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func newOrigin(t *testing.T, h http.Handler) (*httptest.Server, *countingListener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	cl := &countingListener{Listener: srv.Listener}
	srv.Listener = cl
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cl
}

var testTimeouts = Timeouts{Connect: time.Second, ResponseHeader: 5 * time.Second}

func get(t *testing.T, c *Client, ep, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+ep+path, nil)
	resp, err := c.RoundTrip(context.Background(), req, ep, testTimeouts)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s body: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

func TestClientReusesConnections(t *testing.T) {
	srv, cl := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.URL.Path)
	}))
	ep := srv.Listener.Addr().String()
	c := newClient(4, 0)
	defer c.Close()
	for i := range 20 {
		if code, body := get(t, c, ep, "/x"); code != 200 || body != "ok /x" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := cl.n.Load(); n != 1 {
		t.Fatalf("20 sequential requests used %d connections, want 1", n)
	}
}

func TestClientClosedBodyIsNotReused(t *testing.T) {
	srv, cl := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 1<<20))
	}))
	ep := srv.Listener.Addr().String()
	c := newClient(4, 0)
	defer c.Close()
	for range 3 {
		req, _ := http.NewRequest("GET", "http://"+ep+"/", nil)
		resp, err := c.RoundTrip(context.Background(), req, ep, testTimeouts)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Read(make([]byte, 10))
		resp.Body.Close() // unread remainder: the connection must not be reused
	}
	if n := cl.n.Load(); n != 3 {
		t.Fatalf("3 half-read responses used %d connections, want 3", n)
	}
}

// TestClientRetriesStaleConnection pins the case of an upstream that closes
// idle keep-alive connections: the next request on the dead connection is
// sent again on a new one instead of failing.
func TestClientRetriesStaleConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				// Answer one request with keep-alive, then close.
				defer nc.Close()
				br := bufio.NewReader(nc)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	ep := ln.Addr().String()
	c := newClient(4, 0)
	defer c.Close()
	for i := range 3 {
		if code, body := get(t, c, ep, "/"); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		time.Sleep(20 * time.Millisecond) // let the server's close land
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("accepted %d connections, want 3", n)
	}
}

func TestClientResponseHeaderTimeout(t *testing.T) {
	srv, _ := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	ep := srv.Listener.Addr().String()
	c := newClient(4, 0)
	defer c.Close()
	req, _ := http.NewRequest("GET", "http://"+ep+"/", nil)
	_, err := c.RoundTrip(context.Background(), req, ep, Timeouts{Connect: time.Second, ResponseHeader: 50 * time.Millisecond})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a net.Error timeout", err)
	}
}

func TestClientContextCancel(t *testing.T) {
	srv, _ := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	ep := srv.Listener.Addr().String()
	c := newClient(4, 0)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequest("GET", "http://"+ep+"/", nil)
	if _, err := c.RoundTrip(ctx, req, ep, testTimeouts); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestClientHeaderTooLarge(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		http.ReadRequest(bufio.NewReader(nc))
		io.WriteString(nc, "HTTP/1.1 200 OK\r\n")
		line := "X-Big: " + strings.Repeat("a", 1000) + "\r\n"
		for range 2000 { // 2 MB of headers
			if _, err := io.WriteString(nc, line); err != nil {
				return
			}
		}
	}()
	ep := ln.Addr().String()
	c := newClient(4, 0)
	defer c.Close()
	req, _ := http.NewRequest("GET", "http://"+ep+"/", nil)
	if _, err := c.RoundTrip(context.Background(), req, ep, testTimeouts); !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("err = %v, want errHeaderTooLarge", err)
	}
}

func TestClientSkipsInterimResponses(t *testing.T) {
	srv, _ := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		body, _ := io.ReadAll(r.Body) // Expect: 100-continue makes the server send 100
		io.WriteString(w, "got "+string(body))
	}))
	ep := srv.Listener.Addr().String()
	c := newClient(4, 0)
	defer c.Close()
	req, _ := http.NewRequest("POST", "http://"+ep+"/", strings.NewReader("hello"))
	req.Header.Set("Expect", "100-continue")
	resp, err := c.RoundTrip(context.Background(), req, ep, testTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "got hello" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

func TestClientDialError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ep := ln.Addr().String()
	ln.Close()
	c := newClient(4, 0)
	req, _ := http.NewRequest("GET", "http://"+ep+"/", nil)
	_, err := c.RoundTrip(context.Background(), req, ep, testTimeouts)
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("err = %v, want a dial *net.OpError", err)
	}
}

func testPool(addrs ...string) *Pool {
	p := &Pool{client: newClient(4, 0)}
	for _, a := range addrs {
		p.endpoints = append(p.endpoints, &endpoint{addr: a})
	}
	return p
}

func TestPoolPickRoundRobin(t *testing.T) {
	p := testPool("a:1", "b:1", "c:1")
	seen := map[string]int{}
	for range 300 {
		seen[p.pick(0).addr]++
	}
	for _, e := range p.endpoints {
		if seen[e.addr] != 100 {
			t.Fatalf("picks = %v, want 100 each", seen)
		}
	}
}

func TestPoolPickSkipsDown(t *testing.T) {
	p := testPool("a:1", "b:1", "c:1")
	p.endpoints[1].downUntil.Store(100)
	for range 30 {
		if e := p.pick(50); e.addr == "b:1" {
			t.Fatal("picked an endpoint that is down")
		}
	}
	for _, e := range p.endpoints {
		e.downUntil.Store(100)
	}
	if e := p.pick(50); e == nil {
		t.Fatal("no endpoint picked when all are down")
	}
}

func BenchmarkPick(b *testing.B) {
	p := testPool("a:1", "b:1", "c:1")
	b.ReportAllocs()
	for b.Loop() {
		p.pick(0)
	}
}

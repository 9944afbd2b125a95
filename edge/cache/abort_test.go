package cache

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// An origin that breaks off mid-body: the client's response is aborted,
// nothing is stored, and coalesced waiters are released.
func TestTruncatedBodyNotStored(t *testing.T) {
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("only ten b"))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	req, _ := http.NewRequest("GET", e.front.URL+"/t", nil)
	res, err := e.client.Do(req)
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Fatal("the client got a truncated body without an error")
	}
	if s := e.c.Stats(); s.Entries != 0 {
		t.Fatalf("a truncated response was stored: %+v", s)
	}
	e.origin.set(fixed(200, "whole", "Cache-Control", "max-age=60"))
	if r := e.get("/t"); r.body != "whole" || isHit(r) {
		t.Fatalf("%q %q", r.body, r.cs())
	}
}

// Trailers the upstream sends after the body reach the client.
func TestTrailersRelayed(t *testing.T) {
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Write([]byte("body"))
		w.Header().Set("X-Checksum", "abc")
	})
	// Read the raw response: Go's client would hide where the field came from.
	conn, err := net.Dial("tcp", e.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /tr HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	raw, _ := io.ReadAll(bufio.NewReader(conn))
	if !strings.Contains(string(raw), "\r\nX-Checksum: abc\r\n") {
		t.Fatalf("trailer missing:\n%s", raw)
	}
}

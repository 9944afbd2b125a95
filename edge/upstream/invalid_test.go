package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// closeTracker records whether a request body was closed.
type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

// TestForwardRefusesInvalidRequest checks the client side of issue 10
// item 7: a request the writer refuses fails with ErrInvalidRequest
// before any connection is made, its body closed, its endpoint not
// marked down.
func TestForwardRefusesInvalidRequest(t *testing.T) {
	ep, accepted := strayOrigin(t, 204)
	p := testPool(ep)
	defer p.Close()
	for _, tc := range []struct {
		name   string
		method string
		header http.Header
		body   string
		length int64
	}{
		{"tab in a header name", "GET", http.Header{"Transfer-Encoding\t": {"chunked"}}, "", 0},
		{"tab in a header name, with a body", "POST", http.Header{"Transfer-Encoding\t": {"chunked"}}, "hello", 5},
		{"CRLF in a value, chunked body", "PUT", http.Header{"X-A": {"v\r\nX-B: w"}}, "hello", -1},
		{"space in the method", "GET /x HTTP/1.1\r\nX:", http.Header{}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://upstream/", nil)
			req.Method, req.Header = tc.method, tc.header
			var body *closeTracker
			if tc.body != "" {
				body = &closeTracker{Reader: strings.NewReader(tc.body)}
				req.Body, req.ContentLength = body, tc.length
			}
			_, _, err := p.Forward(context.Background(), req, testTimeouts)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
			if body != nil && !body.closed {
				t.Error("the refused request's body was not closed")
			}
		})
	}
	if n := accepted(); n != 0 {
		t.Fatalf("the origin accepted %d connections for refused requests", n)
	}
	if p.endpoints[0].downUntil.Load() != 0 {
		t.Fatal("a refused request marked the endpoint down")
	}
}

// TestForwardRefusesInvalidTrailer checks a trailer value that turns
// invalid while the body is streamed: the request fails with
// ErrInvalidRequest (not the timeout that wakes the reader), and the
// message is never finished.
func TestForwardRefusesInvalidTrailer(t *testing.T) {
	got := make(chan string, 1)
	ep, _ := rawOrigin(t, func(nc net.Conn, br *bufio.Reader) {
		all, _ := io.ReadAll(br) // until the client closes
		got <- string(all)
	})
	p := testPool(ep)
	defer p.Close()
	req, _ := http.NewRequest("PUT", "http://upstream/t", nil)
	req.Trailer = http.Header{"X-Checksum": nil}
	req.Body = &trailerSetter{r: io.NopCloser(strings.NewReader("hello")),
		set: func() { req.Trailer["X-Checksum"] = []string{"a\r\n\r\nGET /smuggled HTTP/1.1"} }}
	req.ContentLength = -1
	_, _, err := p.Forward(context.Background(), req, testTimeouts)
	if !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("err = %v, want ErrInvalidRequest", err)
	}
	wire := <-got
	if strings.Contains(wire, "smuggled") || strings.Contains(wire, "0\r\n") {
		t.Fatalf("the origin received the end of the message: %q", wire)
	}
	if !strings.HasSuffix(wire, "5\r\nhello\r\n") {
		t.Fatalf("the origin received %q, want the head and the one chunk", wire)
	}
}

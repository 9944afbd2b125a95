package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// roundTrip writes req with writeRequest and parses it back with net/http.
func roundTrip(t testing.TB, req *http.Request) (*http.Request, []byte, error) {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	if err := writeRequest(bw, req); err != nil {
		return nil, nil, err
	}
	bw.Flush()
	got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(buf.Bytes())))
	if err != nil {
		t.Fatalf("net/http cannot parse what writeRequest wrote: %v\n%s", err, buf.Bytes())
	}
	body, err := io.ReadAll(got.Body)
	if err != nil {
		t.Fatalf("body: %v\n%s", err, buf.Bytes())
	}
	return got, body, nil
}

func TestWriteRequest(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		url        string
		host       string
		header     http.Header
		body       string
		chunked    bool
		wantURI    string
		wantLength int64
	}{
		{name: "get", method: "GET", url: "http://10.0.0.1:80/a/b?x=1&y=2", host: "site.test",
			header: http.Header{"Accept": {"*/*"}, "X-Multi": {"1", "2"}}, wantURI: "/a/b?x=1&y=2"},
		{name: "escaped path kept", method: "GET", url: "http://e/a%2Fb/c%20d", host: "site.test", wantURI: "/a%2Fb/c%20d"},
		{name: "empty path", method: "GET", url: "http://e", host: "site.test", wantURI: "/"},
		{name: "post with body", method: "POST", url: "http://e/p", host: "site.test", body: "hello", wantURI: "/p", wantLength: 5},
		{name: "post without body", method: "POST", url: "http://e/p", host: "site.test", wantURI: "/p"},
		{name: "chunked", method: "PUT", url: "http://e/c", host: "site.test", body: "streamed", chunked: true, wantURI: "/c", wantLength: -1},
		{name: "framing headers from the caller are not trusted", method: "GET", url: "http://e/", host: "site.test",
			header: http.Header{"Content-Length": {"99"}, "Transfer-Encoding": {"chunked"}, "Host": {"evil"}}, wantURI: "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(tt.url)
			req := &http.Request{Method: tt.method, URL: u, Host: tt.host, Header: tt.header}
			if req.Header == nil {
				req.Header = http.Header{}
			}
			if tt.body != "" {
				req.Body = io.NopCloser(strings.NewReader(tt.body))
				req.ContentLength = int64(len(tt.body))
				if tt.chunked {
					req.ContentLength = -1
				}
			}
			got, body, err := roundTrip(t, req)
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != tt.method || got.RequestURI != tt.wantURI || got.Host != tt.host {
				t.Errorf("got %s %s host %q", got.Method, got.RequestURI, got.Host)
			}
			if string(body) != tt.body || got.ContentLength != tt.wantLength && !(tt.wantLength == 0 && got.ContentLength == 0) {
				t.Errorf("body %q length %d, want %q %d", body, got.ContentLength, tt.body, tt.wantLength)
			}
			for k, vv := range tt.header {
				if k == "Content-Length" || k == "Transfer-Encoding" || k == "Host" {
					continue
				}
				if !reflect.DeepEqual(got.Header[k], vv) {
					t.Errorf("header %s = %q, want %q", k, got.Header[k], vv)
				}
			}
		})
	}
}

func TestWriteRequestShortBody(t *testing.T) {
	u, _ := url.Parse("http://e/")
	req := &http.Request{Method: "POST", URL: u, Host: "h", Header: http.Header{},
		Body: io.NopCloser(strings.NewReader("abc")), ContentLength: 10}
	if err := writeRequest(bufio.NewWriter(io.Discard), req); err == nil {
		t.Fatal("a body shorter than its Content-Length was written without error")
	}
}

// TestWriteRequestRefuses lists requests a filter can produce that
// HTTP/1.1 parsers could read differently: each is refused with
// ErrInvalidRequest, and nothing is written.
func TestWriteRequestRefuses(t *testing.T) {
	tests := []struct {
		name   string
		method string
		target string // Path, or Opaque when it starts with "op:"
		query  string
		host   string
		header http.Header
	}{
		{name: "method with a space", method: "GET /x HTTP/1.1\r\nX:", target: "/"},
		{name: "method with a tab", method: "GET\t/x", target: "/"},
		{name: "empty method", method: "", target: "/"},
		{name: "relative target", method: "GET", target: "op:x"},
		{name: "target with a space", method: "GET", target: "op:/a HTTP/1.1\r\nX: y"},
		{name: "target with a bad escape", method: "GET", target: "op:/a%zz"},
		{name: "query with CRLF", method: "GET", target: "/", query: "a=1\r\nX-Injected: 1"},
		{name: "query with a space", method: "GET", target: "/", query: "a=1 HTTP/1.1"},
		{name: "asterisk outside OPTIONS", method: "GET", target: "*"},
		{name: "host with CRLF", method: "GET", target: "/", host: "h\r\nX-Injected: 1"},
		{name: "host with a space", method: "GET", target: "/", host: "h x"},
		{name: "transfer-encoding with a tab", method: "POST", target: "/",
			header: http.Header{"Transfer-Encoding\t": {"chunked"}, "Content-Length": {"5"}}},
		{name: "transfer-encoding with a space", method: "POST", target: "/",
			header: http.Header{"Transfer-Encoding ": {"chunked"}}},
		{name: "name with a colon", method: "GET", target: "/", header: http.Header{"X-A:b": {"v"}}},
		{name: "name with NUL", method: "GET", target: "/", header: http.Header{"X-A\x00": {"v"}}},
		{name: "empty name", method: "GET", target: "/", header: http.Header{"": {"v"}}},
		{name: "value with CRLF", method: "GET", target: "/", header: http.Header{"X-A": {"v\r\nX-Injected: 1"}}},
		{name: "value with LF", method: "GET", target: "/", header: http.Header{"X-A": {"v\nX-Injected: 1"}}},
		{name: "value with CR", method: "GET", target: "/", header: http.Header{"X-A": {"v\rX-Injected: 1"}}},
		{name: "obs-fold", method: "GET", target: "/", header: http.Header{"X-A": {"v\r\n folded"}}},
		{name: "value with NUL", method: "GET", target: "/", header: http.Header{"X-A": {"v\x00w"}}},
		{name: "value with DEL", method: "GET", target: "/", header: http.Header{"X-A": {"v\x7fw"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &url.URL{Path: tt.target, RawQuery: tt.query}
			if op, ok := strings.CutPrefix(tt.target, "op:"); ok {
				u = &url.URL{Opaque: op, RawQuery: tt.query}
			}
			host := tt.host
			if host == "" {
				host = "site.test"
			}
			req := &http.Request{Method: tt.method, URL: u, Host: host, Header: tt.header}
			var buf bytes.Buffer
			bw := bufio.NewWriter(&buf)
			err := writeRequest(bw, req)
			bw.Flush()
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest; wrote %q", err, buf.Bytes())
			}
			if !strings.HasPrefix(err.Error(), "upstream: ") {
				t.Errorf("error %q does not start with \"upstream: \"", err)
			}
			if buf.Len() != 0 {
				t.Errorf("a refused request wrote %q", buf.Bytes())
			}
		})
	}
}

// TestWriteRequestOwnsFraming checks that framing fields in the header
// map, in any case spelling, never reach the wire: the writer writes its
// own from the body.
func TestWriteRequestOwnsFraming(t *testing.T) {
	u, _ := url.Parse("http://e/p")
	req := &http.Request{Method: "POST", URL: u, Host: "site.test", Header: http.Header{
		"content-length":    {"1"},
		"CONTENT-LENGTH":    {"2"},
		"Content-Length":    {"3"},
		"transfer-encoding": {"chunked"},
		"Transfer-Encoding": {"gzip"},
		"trailer":           {"X-T"},
		"host":              {"evil"},
		"Transfer_Encoding": {"chunked"},
		"CONTENT_length":    {"0"},
		"X-Kept":            {"  padded\t"},
	}, Body: io.NopCloser(strings.NewReader("hello")), ContentLength: 5}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	if err := writeRequest(bw, req); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	want := "POST /p HTTP/1.1\r\nHost: site.test\r\nX-Kept: padded\r\nContent-Length: 5\r\n\r\nhello"
	if buf.String() != want {
		t.Fatalf("wrote %q, want %q", buf.String(), want)
	}
}

// TestWriteRequestChunked checks the chunked path: a body of unknown
// length, and one of known length sent chunked for its trailers.
func TestWriteRequestChunked(t *testing.T) {
	for _, length := range []int64{-1, 11} {
		u, _ := url.Parse("http://e/c")
		req := &http.Request{Method: "PUT", URL: u, Host: "site.test",
			Header:  http.Header{"X-A": {"1"}, "Transfer-Encoding": {"identity"}},
			Trailer: http.Header{"X-Checksum": nil},
			Body:    io.NopCloser(io.MultiReader(strings.NewReader("hello "), strings.NewReader("world"))), ContentLength: length}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		r := &trailerSetter{r: req.Body, set: func() { req.Trailer["X-Checksum"] = []string{"abc"} }}
		req.Body = r
		if err := writeRequest(bw, req); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		want := "PUT /c HTTP/1.1\r\nHost: site.test\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" +
			"6\r\nhello \r\n5\r\nworld\r\n0\r\nX-Checksum: abc\r\n\r\n"
		if buf.String() != want {
			t.Fatalf("length %d: wrote %q, want %q", length, buf.String(), want)
		}
		if !r.closed {
			t.Errorf("length %d: the body was not closed", length)
		}
	}
}

// trailerSetter sets a trailer value when its body reaches EOF, as a
// served request's Trailer is filled.
type trailerSetter struct {
	r      io.ReadCloser
	set    func()
	closed bool
}

func (ts *trailerSetter) Read(p []byte) (int, error) {
	n, err := ts.r.Read(p)
	if err == io.EOF {
		ts.set()
	}
	return n, err
}

func (ts *trailerSetter) Close() error { ts.closed = true; return ts.r.Close() }

// TestWriteRequestStopsReadingOnWriteError checks that a body is not read
// on once the connection failed: the rest of a large upload is not
// pulled from the client for nothing.
func TestWriteRequestStopsReadingOnWriteError(t *testing.T) {
	const size = 1 << 20
	body := &countingReader{r: bytes.NewReader(make([]byte, size))}
	u, _ := url.Parse("http://e/")
	req := &http.Request{Method: "PUT", URL: u, Host: "h", Header: http.Header{},
		Body: io.NopCloser(body), ContentLength: size}
	bw := bufio.NewWriterSize(failingWriter{}, 4096)
	if err := writeRequest(bw, req); err == nil {
		t.Fatal("a body written to a failing connection reported no error")
	}
	if body.n > 2*4096 {
		t.Fatalf("read %d bytes of the body after the connection failed", body.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestWriteRequestProbesUnknownLength checks that a body of unknown
// length (an HTTP/3 request's) on a method that usually has none is sent
// only when it has a byte: an empty one goes without framing, as net/http
// sends it; other methods send an empty chunked body.
func TestWriteRequestProbesUnknownLength(t *testing.T) {
	for _, tc := range []struct {
		method, body, want string
	}{
		{"GET", "", "GET /c HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"HEAD", "", "HEAD /c HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"GET", "abc", "GET /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"},
		{"POST", "", "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	} {
		u, _ := url.Parse("http://e/c")
		body := &trailerSetter{r: io.NopCloser(strings.NewReader(tc.body)), set: func() {}}
		req := &http.Request{Method: tc.method, URL: u, Host: "h", Header: http.Header{}, Body: body, ContentLength: -1}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		if err := writeRequest(bw, req); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		if buf.String() != tc.want {
			t.Errorf("%s with body %q: wrote %q, want %q", tc.method, tc.body, buf.String(), tc.want)
		}
		if !body.closed {
			t.Errorf("%s with body %q: the body was not closed", tc.method, tc.body)
		}
	}
}

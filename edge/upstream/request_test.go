package upstream

import (
	"bufio"
	"bytes"
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
		{name: "chunked falls back", method: "PUT", url: "http://e/c", host: "site.test", body: "streamed", chunked: true, wantURI: "/c", wantLength: -1},
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

func FuzzWriteRequest(f *testing.F) {
	f.Add("GET", "/a?b=c", "site.test", "X-A", "v")
	f.Add("POST", "/", "h:8080", "Cookie", "a=b; c=d")
	f.Add("GET", "/x", "h", "X-Bad", "a\r\nInjected: 1")
	f.Fuzz(func(t *testing.T, method, target, host, key, value string) {
		if method == "" || strings.ContainsAny(method, " \r\n\t") || !strings.HasPrefix(target, "/") {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{key: {value}}}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		if err := writeRequest(bw, req); err != nil {
			return // refused: fine, as long as nothing was smuggled
		}
		bw.Flush()
		// Whatever was written must parse as exactly one request.
		br := bufio.NewReader(&buf)
		got, err := http.ReadRequest(br)
		if err != nil {
			return // net/http refuses it: the upstream would too
		}
		io.Copy(io.Discard, got.Body)
		if br.Buffered() > 0 {
			t.Fatalf("a second request was smuggled after the first: %q", buf.String())
		}
	})
}

package upstream

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// benchRequest is a typical proxied request: the headers a browser sends
// plus the forwarding headers the proxy adds.
func benchRequest() *http.Request {
	return &http.Request{
		Method: "GET",
		URL:    &url.URL{Scheme: "http", Host: "upstream", Path: "/assets/app.js", RawQuery: "v=12"},
		Host:   "site.test",
		Header: http.Header{
			"Accept":            {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
			"Accept-Encoding":   {"gzip, deflate, br"},
			"Accept-Language":   {"en-GB,en;q=0.5"},
			"Cookie":            {"session=0123456789abcdef; theme=dark"},
			"User-Agent":        {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
			"Content-Length":    {"0"},
			"X-Forwarded-For":   {"192.0.2.1"},
			"X-Forwarded-Proto": {"https"},
			"X-Forwarded-Host":  {"site.test"},
			"Via":               {"1.1 wedge"},
		},
	}
}

func BenchmarkWriteRequest(b *testing.B) {
	b.Run("get", func(b *testing.B) {
		req := benchRequest()
		bw := bufio.NewWriterSize(io.Discard, 16<<10)
		b.ReportAllocs()
		for b.Loop() {
			if err := writeRequest(bw, req); err != nil {
				b.Fatal(err)
			}
			bw.Flush()
		}
	})
	b.Run("post", func(b *testing.B) {
		req := benchRequest()
		req.Method = "POST"
		const payload = `{"name":"wedge","kind":"edge gateway"}`
		body := strings.NewReader(payload)
		req.Body = io.NopCloser(body)
		req.ContentLength = int64(len(payload))
		bw := bufio.NewWriterSize(io.Discard, 16<<10)
		b.ReportAllocs()
		for b.Loop() {
			body.Reset(payload)
			if err := writeRequest(bw, req); err != nil {
				b.Fatal(err)
			}
			bw.Flush()
		}
	})
}

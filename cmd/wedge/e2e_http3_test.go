package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// TestE2EHTTP3 proxies over HTTP/3 (QUIC on the TLS listener's port) and
// checks that HTTP/1.1 and HTTP/2 answers advertise it.
func TestE2EHTTP3(t *testing.T) {
	t.Parallel()
	framing := make(chan string, 1)
	origin := startOrigin(t, map[string]http.Handler{
		"/framing": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			framing <- fmt.Sprintf("cl=%d te=%q", r.ContentLength, r.TransferEncoding)
		}),
	})
	n := startWedge(t, withApp(`listeners:
  - name: https
    address: 127.0.0.1:0
    tls: {dev_self_signed: true}
`, origin), "https")
	addr := n.addr("https")
	_, port, _ := net.SplitHostPort(addr)

	resp, _ := get(t, newClient(t, protoH2, addr), "https://app.test/alt")
	if got, want := resp.Header.Get("Alt-Svc"), `h3=":`+port+`"; ma=86400`; got != want {
		t.Fatalf("Alt-Svc = %q, want %q", got, want)
	}

	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "app.test"},
		Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddr(ctx, addr, tc, qc) // the TLS port number, over UDP
		},
	}
	t.Cleanup(func() { tr.Close() })
	c := &http.Client{Transport: tr, Timeout: hangGuard}

	resp, body := get(t, c, "https://app.test/h3?q=1")
	if resp.ProtoMajor != 3 {
		t.Fatalf("client got %s, want HTTP/3", resp.Proto)
	}
	e := echoOf(t, resp, body)
	if e.Path != "/h3" || e.Query != "q=1" || e.Host != "app.test" {
		t.Errorf("origin saw path %q query %q host %q", e.Path, e.Query, e.Host)
	}
	if got := header(e, "Via"); !slices.Equal(got, []string{"3.0 wedge"}) {
		t.Errorf("Via at origin = %q, want [3.0 wedge]", got)
	}
	if got := header(e, "X-Forwarded-Proto"); !slices.Equal(got, []string{"https"}) {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	// A body-less HTTP/3 GET must reach the origin without a body framing
	// (no chunked empty body), so it stays retryable and cheap.
	get(t, c, "https://app.test/framing")
	if got := <-framing; got != `cl=0 te=[]` {
		t.Errorf("body-less HTTP/3 GET reached the origin with %s, want cl=0 te=[]", got)
	}

	// A request body streams through too.
	payload := strings.Repeat("h3-body ", 4096)
	req, _ := http.NewRequest("POST", "https://app.test/upload", bytes.NewBufferString(payload))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if e := echoOf(t, resp, string(b)); e.Body != payload {
		t.Errorf("origin got a %d-byte body, want %d", len(e.Body), len(payload))
	}
}

package listen

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/wedgeproxy/wedge/edge/config"
)

func startTLS(t *testing.T, lc config.Listener) *Server {
	t.Helper()
	certs, err := LoadCerts(lc.TLS, []string{"site.test"})
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Proto, r.Host)
	})
	s, err := New(lc, config.Limits{}, h, certs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

func TestHTTP3AndAltSvc(t *testing.T) {
	s := startTLS(t, config.Listener{Address: "127.0.0.1:0", TLS: &config.TLS{DevSelfSigned: true}})
	port := strings.TrimPrefix(s.Addr().String(), "127.0.0.1:")
	tlsConf := &tls.Config{InsecureSkipVerify: true, ServerName: "site.test"}

	// HTTP/2 over TLS advertises HTTP/3 on the same port.
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true}}
	resp, err := h2.Get("https://" + s.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(body) != "HTTP/2.0 "+s.Addr().String() {
		t.Fatalf("h2: proto %d body %q", resp.ProtoMajor, body)
	}
	if got, want := resp.Header.Get("Alt-Svc"), `h3=":`+port+`"; ma=86400`; got != want {
		t.Fatalf("Alt-Svc = %q, want %q", got, want)
	}

	// HTTP/3 over QUIC reaches the same handler.
	tr := &http3.Transport{TLSClientConfig: tlsConf}
	defer tr.Close()
	h3 := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err = h3.Get("https://" + s.UDPAddr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 3 || !strings.HasPrefix(string(body), "HTTP/3") {
		t.Fatalf("h3: proto %d body %q", resp.ProtoMajor, body)
	}
}

func TestHTTP3Disabled(t *testing.T) {
	s := startTLS(t, config.Listener{Address: "127.0.0.1:0", TLS: &config.TLS{DevSelfSigned: true}, DisableHTTP3: true})
	if s.UDPAddr() != nil {
		t.Fatal("HTTP/3 listening although disabled")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get("https://" + s.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Alt-Svc"); v != "" {
		t.Fatalf("Alt-Svc %q advertised with HTTP/3 disabled", v)
	}
}

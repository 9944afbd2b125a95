package listen

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/net/http2"
)

// h2cUpgrade serves the HTTP/1.1 "Upgrade: h2c" handshake (RFC 7540 §3.2)
// and passes every other request to h. Prior-knowledge h2c is handled by
// net/http itself (Protocols.UnencryptedHTTP2). Only requests without a
// body are upgraded; for the rest the Upgrade header is ignored, as the
// RFC allows, and they are served over HTTP/1.1.
//
// Upgraded connections leave net/http's tracking, so the upgrader drains
// them itself: see shutdown.
type h2cUpgrader struct {
	h      http.Handler
	base   *http.Server
	h2     *http2.Server
	hooks  *http.Server // carries h2's graceful-shutdown hook; serves nothing
	active sync.WaitGroup
}

func newH2CUpgrader(h http.Handler, base *http.Server) (*h2cUpgrader, error) {
	u := &h2cUpgrader{
		h:    h,
		base: base,
		h2: &http2.Server{
			MaxConcurrentStreams: uint32(base.HTTP2.MaxConcurrentStreams),
			IdleTimeout:          base.IdleTimeout,
		},
		hooks: &http.Server{},
	}
	// ConfigureServer registers h2's connections for graceful shutdown
	// (GOAWAY, then close once their streams end) as an OnShutdown hook
	// of hooks. It is not the base server: there it would replace
	// net/http's own HTTP/2, which serves prior-knowledge h2c.
	if err := http2.ConfigureServer(u.hooks, u.h2); err != nil {
		return nil, fmt.Errorf("listen: h2c: %w", err)
	}
	return u, nil
}

// shutdown sends GOAWAY on every upgraded connection and waits until their
// streams have finished or ctx ends.
func (u *h2cUpgrader) shutdown(ctx context.Context) error {
	u.hooks.Shutdown(ctx) // runs the hook; hooks has no listener to wait for
	done := make(chan struct{})
	go func() { u.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("listen: h2c connections still open: %w", ctx.Err())
	}
}

func (u *h2cUpgrader) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := u.h
	if r.ProtoMajor != 1 || r.Header["Upgrade"] == nil || r.Header["Http2-Settings"] == nil || !isH2CUpgrade(r) {
		h.ServeHTTP(w, r)
		return
	}
	settings, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(r.Header.Get("Http2-Settings"), "="))
	if err != nil || r.ContentLength != 0 {
		h.ServeHTTP(w, r)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.ServeHTTP(w, r)
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	r.Header.Del("Upgrade")
	r.Header.Del("Connection")
	r.Header.Del("Http2-Settings")
	u.active.Add(1)
	defer u.active.Done()
	u.h2.ServeConn(&bufConn{Conn: conn, r: brw.Reader}, &http2.ServeConnOpts{
		Context:        r.Context(),
		BaseConfig:     u.base,
		Handler:        h,
		UpgradeRequest: r,
		Settings:       settings,
	})
}

func isH2CUpgrade(r *http.Request) bool {
	up := false
	for _, v := range r.Header["Upgrade"] {
		if strings.EqualFold(strings.TrimSpace(v), "h2c") {
			up = true
		}
	}
	if !up {
		return false
	}
	for _, v := range r.Header["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "http2-settings") {
				return true
			}
		}
	}
	return false
}

// bufConn reads first what the HTTP/1 server had already buffered.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

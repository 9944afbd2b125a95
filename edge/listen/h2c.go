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

	"github.com/wedgeproxy/wedge/edge/internal/httpx"
)

// h2cUpgrade serves the HTTP/1.1 "Upgrade: h2c" handshake (RFC 7540 §3.2)
// and passes every other request to h. Prior-knowledge h2c is handled by
// net/http itself (Protocols.UnencryptedHTTP2). Only requests without a
// body are upgraded; for the rest the Upgrade header is ignored, as the
// RFC allows, and they are served over HTTP/1.1.
//
// Upgraded connections leave net/http's tracking, so the upgrader drains
// them itself: see shutdown.
//
// x/net/http2's server is deprecated in favour of net/http's, which serves
// prior-knowledge h2c but not the Upgrade handshake (RFC 9113 §3.1 dropped
// it). The handshake is kept because clients still send it (curl --http2
// on http:// URLs); when x/net removes its server, this path goes and such
// clients stay on HTTP/1.1, which the RFC allows.
type h2cUpgrader struct {
	h     http.Handler
	base  *http.Server
	h2    *http2.Server
	hooks *http.Server // carries h2's graceful-shutdown hook; serves nothing

	mu       sync.Mutex
	conns    map[net.Conn]struct{} // upgraded connections being served
	draining bool
	idle     chan struct{} // closed when draining and no connection is left
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
		conns: map[net.Conn]struct{}{},
		idle:  make(chan struct{}),
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
// Connections still open when ctx ends are closed. No connection is
// upgraded once shutdown has begun.
func (u *h2cUpgrader) shutdown(ctx context.Context) error {
	u.mu.Lock()
	if !u.draining && len(u.conns) == 0 {
		close(u.idle) // a second shutdown finds it closed, or closed by the last connection
	}
	u.draining = true
	u.mu.Unlock()
	u.hooks.Shutdown(ctx) // runs the hook; hooks has no listener to wait for
	select {
	case <-u.idle:
		return nil
	case <-ctx.Done():
		u.mu.Lock()
		n := len(u.conns)
		for c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
		return fmt.Errorf("listen: closed %d h2c connections still open: %w", n, ctx.Err())
	}
}

// track registers an upgraded connection; it refuses once draining.
func (u *h2cUpgrader) track(c net.Conn) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.draining {
		return false
	}
	u.conns[c] = struct{}{}
	return true
}

func (u *h2cUpgrader) untrack(c net.Conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.conns, c)
	if u.draining && len(u.conns) == 0 {
		close(u.idle)
	}
}

func (u *h2cUpgrader) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := u.h
	if r.ProtoMajor != 1 || r.Header["Upgrade"] == nil || r.Header["Http2-Settings"] == nil || !isH2CUpgrade(r) {
		h.ServeHTTP(w, r)
		return
	}
	settings, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(r.Header.Get("Http2-Settings"), "="))
	u.mu.Lock()
	draining := u.draining
	u.mu.Unlock()
	if err != nil || r.ContentLength != 0 || draining {
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
	if !u.track(conn) {
		conn.Close() // shutting down: the client retries elsewhere
		return
	}
	defer u.untrack(conn)
	u.h2.ServeConn(&bufConn{Conn: conn, r: brw.Reader}, &http2.ServeConnOpts{
		Context:        r.Context(),
		BaseConfig:     u.base,
		Handler:        h,
		UpgradeRequest: r,
		Settings:       settings,
	})
}

func isH2CUpgrade(r *http.Request) bool {
	return httpx.HasToken(r.Header["Upgrade"], "h2c") && httpx.HasToken(r.Header["Connection"], "http2-settings")
}

// bufConn reads first what the HTTP/1 server had already buffered.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Package listen runs a node's client-facing servers: HTTP/1.1 with h2c on
// plain ports, HTTP/1.1 and HTTP/2 by ALPN on TLS ports. Every server feeds
// the same http.Handler.
package listen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/wedgeproxy/wedge/edge/config"
)

// Server is one listener.
type Server struct {
	cfg config.Listener
	srv *http.Server
	ln  net.Listener
}

// New makes the server for listener cfg with the node's limits (defaults
// applied by the caller or here). certs is required for a TLS listener.
func New(cfg config.Listener, limits config.Limits, h http.Handler, certs *Certs, log *slog.Logger) (*Server, error) {
	limits = limits.WithDefaults()
	srv := &http.Server{
		ReadHeaderTimeout: limits.ReadHeaderTimeout.D(),
		IdleTimeout:       limits.IdleTimeout.D(),
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:      limits.MaxConcurrentStreams,
			MaxReceiveBufferPerStream: 1 << 20,
		},
		ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		Protocols: new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	if cfg.TLS != nil {
		if certs == nil {
			return nil, fmt.Errorf("listen: %s: TLS listener without certificates", cfg.Address)
		}
		srv.Protocols.SetHTTP2(true)
		srv.TLSConfig = &tls.Config{
			GetCertificate: certs.GetCertificate,
			MinVersion:     tls.VersionTLS12,
		}
		srv.Handler = h
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
		srv.Handler = h2cUpgrade(h, srv)
	}
	return &Server{cfg: cfg, srv: srv}, nil
}

// Listen binds the listener's address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown. It returns nil after a shutdown.
func (s *Server) Serve() error {
	var err error
	if s.cfg.TLS != nil {
		err = s.srv.ServeTLS(s.ln, "", "")
	} else {
		err = s.srv.Serve(s.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("listen: %s: %w", s.cfg.Address, err)
}

// Shutdown stops accepting, closes idle connections and waits for requests
// in flight until ctx ends; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return err
}

// Package listen runs a node's client-facing servers: HTTP/1.1 with h2c on
// plain ports; HTTP/1.1 and HTTP/2 by ALPN on TLS ports, plus HTTP/3 over
// QUIC on the same port number. Every server feeds the same http.Handler.
package listen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wedgeproxy/wedge/edge/config"
)

// Server is one listener.
type Server struct {
	cfg config.Listener
	srv *http.Server
	ln  net.Listener

	h2c    *h2cUpgrader  // plain listeners only
	h3     *http3.Server // nil without HTTP/3
	udp    net.PacketConn
	altSvc []string // the Alt-Svc value advertising h3, set by Listen
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
		s := &Server{cfg: cfg, srv: srv}
		if !cfg.DisableHTTP3 {
			s.h3 = &http3.Server{
				Handler:        h,
				TLSConfig:      http3.ConfigureTLSConfig(srv.TLSConfig),
				MaxHeaderBytes: limits.MaxHeaderBytes,
				IdleTimeout:    limits.IdleTimeout.D(),
				QUICConfig:     &quic.Config{MaxIncomingStreams: int64(limits.MaxConcurrentStreams)},
				Logger:         log,
			}
			srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Alt-Svc"] = s.altSvc
				h.ServeHTTP(w, r)
			})
		}
		return s, nil
	}
	srv.Protocols.SetUnencryptedHTTP2(true)
	up, err := newH2CUpgrader(h, srv)
	if err != nil {
		return nil, err
	}
	srv.Handler = up
	return &Server{cfg: cfg, srv: srv, h2c: up}, nil
}

// Listen binds the listener's address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.ln = ln
	if s.h3 != nil {
		// HTTP/3 takes the same port number over UDP.
		port := ln.Addr().(*net.TCPAddr).Port
		host, _, _ := net.SplitHostPort(s.cfg.Address)
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen: http3: %w", err)
		}
		s.udp = udp
		s.altSvc = []string{fmt.Sprintf(`h3=":%d"; ma=86400`, port)}
	}
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown. It returns nil after a shutdown.
func (s *Server) Serve() error {
	if s.h3 == nil {
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
	// TCP and QUIC halves: when one fails, the other is closed, so that
	// Alt-Svc never advertises a dead HTTP/3.
	errs := make(chan error, 2)
	go func() { errs <- s.h3.Serve(s.udp) }()
	go func() { errs <- s.srv.ServeTLS(s.ln, "", "") }()
	var first error
	for range 2 {
		err := <-errs
		if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, quic.ErrServerClosed) {
			continue
		}
		if first == nil {
			first = fmt.Errorf("listen: %s: %w", s.cfg.Address, err)
			s.srv.Close()
			s.h3.Close()
		}
	}
	return first
}

// Shutdown stops accepting, closes idle connections and waits for requests
// in flight until ctx ends; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	var h3err error
	var wg sync.WaitGroup
	if s.h3 != nil {
		wg.Go(func() {
			if h3err = s.h3.Shutdown(ctx); h3err != nil {
				s.h3.Close()
			}
			s.udp.Close()
		})
	}
	var h2cErr error
	if s.h2c != nil {
		wg.Go(func() { h2cErr = s.h2c.shutdown(ctx) })
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	wg.Wait()
	return errors.Join(err, h3err, h2cErr)
}

// Close closes the listener's sockets without serving; for a server whose
// Serve never ran (a node that failed to start).
func (s *Server) Close() {
	if s.ln != nil {
		s.ln.Close()
	}
	if s.udp != nil {
		s.udp.Close()
	}
}

// UDPAddr is the HTTP/3 address, or nil without HTTP/3.
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/credentials"
)

// config reads t's files into a client TLS configuration.
func (t *EtcdTLS) config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store: etcd TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store: etcd TLS CA file %s: %w", t.CAFile, errNoPEMCert)
		}
		c.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("store: etcd TLS client certificate %s and key %s: %w", t.CertFile, t.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	case t.CertFile != "":
		return nil, errors.New("store: etcd TLS: a client certificate needs its key file")
	case t.KeyFile != "":
		return nil, errors.New("store: etcd TLS: a client key needs its certificate file")
	}
	return c, nil
}

var errNoPEMCert = errors.New("no PEM certificate in it")

// tlsCreds are grpc's TLS credentials for etcd, which dial ServerName
// when one is set, and remember why TLS with etcd last failed: a call
// that cannot reach etcd because one side does not trust the other says
// so, instead of looking like an outage.
type tlsCreds struct {
	credentials.TransportCredentials
	serverName string
	roots      string // what etcd's certificate must chain to, for errors
	state      *tlsState
}

// tlsState is what the clones of one tlsCreds share.
type tlsState struct {
	mu sync.Mutex
	// last is the error of the latest handshake that failed, or the TLS
	// alert etcd ended a connection with before sending anything (with
	// TLS 1.3 the client's handshake is done before etcd checks the
	// client's certificate); nil once etcd has answered.
	last error
}

func (st *tlsState) set(err error) {
	st.mu.Lock()
	st.last = err
	st.mu.Unlock()
}

func newTLSCreds(c *tls.Config, caFile string) *tlsCreds {
	roots := "the system's roots"
	if caFile != "" {
		roots = caFile
	}
	return &tlsCreds{TransportCredentials: credentials.NewTLS(c), serverName: c.ServerName, roots: roots, state: new(tlsState)}
}

// ClientHandshake is TLS's, recording its error.
func (c *tlsCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if c.serverName != "" {
		authority = c.serverName // grpc verifies the name it is given, not tls.Config's
	}
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		if ctx.Err() == nil { // not a dial given up
			c.state.set(err)
		}
		return conn, info, err
	}
	return &watchedConn{Conn: conn, state: c.state}, info, nil
}

// Clone is a copy sharing the record.
func (c *tlsCreds) Clone() credentials.TransportCredentials {
	cc := *c
	cc.TransportCredentials = c.TransportCredentials.Clone()
	return &cc
}

// watchedConn is a TLS connection to etcd that records the alert etcd
// ends it with before sending anything, and clears the record when etcd
// sends something.
type watchedConn struct {
	net.Conn
	state    *tlsState
	answered atomic.Bool
}

func (w *watchedConn) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if w.answered.Load() {
		return n, err
	}
	var op *net.OpError
	switch {
	case n > 0:
		w.answered.Store(true)
		w.state.set(nil)
	case errors.As(err, &op) && op.Op == "remote error": // crypto/tls's word for an alert from the peer
		w.state.set(err)
	}
	return n, err
}

// cause is why TLS with etcd last failed, when it is one side not
// trusting the other, or nil.
func (c *tlsCreds) cause() error {
	c.state.mu.Lock()
	err := c.state.last
	c.state.mu.Unlock()
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var op *net.OpError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unknown):
		return fmt.Errorf("etcd's certificate is not trusted: not signed by an authority in %s: %w", c.roots, err)
	case errors.As(err, &host):
		return fmt.Errorf("etcd's certificate is not trusted: not valid for the name %q: %w", host.Host, err)
	case errors.As(err, &invalid), errors.As(err, &verify):
		return fmt.Errorf("etcd's certificate is not trusted: %w", err)
	case errors.As(err, &op) && op.Op == "remote error":
		return fmt.Errorf("etcd refused the TLS connection (does it trust the client certificate?): %w", err)
	}
	return nil
}

// explain is etcdErr, saying first when etcd could not be reached
// because one side does not trust the other. c may be nil (no TLS).
func (c *tlsCreds) explain(what string, err error) error {
	if c != nil && unavailable(err) {
		if why := c.cause(); why != nil {
			return fmt.Errorf("%w: %s: %w (%w)", ErrUnavailable, what, why, err)
		}
	}
	return etcdErr(what, err)
}

package store_test

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store"
	"github.com/wedgeproxy/wedge/edge/control/store/storetest"
)

// TestEtcdTLS: over TLS, with etcd's authority and a client certificate
// it trusts, the store passes the whole suite (gets, transactions,
// watches); endpoints without a scheme are dialled as https://, and
// ServerName is the name checked. Not parallel: the suite's module
// round trip has 10s for megabytes over TLS under -race, so it runs
// before the package's other etcds start.
func TestEtcdTLS(t *testing.T) {
	e := storetest.StartEtcdTLS(t)
	storetest.Run(t, func(t *testing.T) store.Store { return e.Open(t) })

	hostPort := strings.TrimPrefix(e.Endpoints()[0], "https://")
	for _, tc := range []struct {
		name       string
		endpoint   string
		serverName string
	}{
		{"host:port", hostPort, ""},
		{"server name", e.Endpoints()[0], "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := e.ClientTLS().EtcdTLS()
			tl.ServerName = tc.serverName
			cfg := store.EtcdConfig{Endpoints: []string{tc.endpoint}, Prefix: "/tls-" + strings.ReplaceAll(tc.name, " ", "-") + "/", TLS: tl}
			s, err := store.OpenEtcd(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := ctxTimeout(t, 10*time.Second)
			rev, err := s.Txn(ctx, nil, []store.Op{{Key: "a", Value: []byte("1")}})
			if err != nil {
				t.Fatalf("Txn over TLS: %v", err)
			}
			if kv, err := s.Get(ctx, "a"); err != nil || string(kv.Value) != "1" || kv.ModRev != rev {
				t.Fatalf("Get over TLS: %+v, %v", kv, err)
			}
			if cfg.Endpoints[0] != tc.endpoint || *cfg.TLS != *tl {
				t.Errorf("OpenEtcd changed the caller's config: %+v", cfg)
			}
		})
	}
}

// TestEtcdTLSRefused: a client that does not trust etcd's certificate,
// or that etcd does not trust, gets nothing: every call fails with
// ErrUnavailable, and one that distrusts etcd says its certificate is
// not trusted, with the x509 error in the chain.
func TestEtcdTLSRefused(t *testing.T) {
	t.Parallel()
	e := storetest.StartEtcdTLS(t)
	good, bad := e.ClientTLS(), e.Untrusted()
	tests := []struct {
		name string
		tls  store.EtcdTLS
		want string // in the error
		as   any    // errors.As target, or nil
	}{
		{"another authority", store.EtcdTLS{CAFile: bad.CAFile, CertFile: good.CertFile, KeyFile: good.KeyFile},
			"etcd's certificate is not trusted: not signed by an authority in " + bad.CAFile, &x509.UnknownAuthorityError{}},
		{"the system's roots", store.EtcdTLS{CertFile: good.CertFile, KeyFile: good.KeyFile},
			"etcd's certificate is not trusted: not signed by an authority in the system's roots", &x509.UnknownAuthorityError{}},
		{"another name", store.EtcdTLS{CAFile: good.CAFile, CertFile: good.CertFile, KeyFile: good.KeyFile, ServerName: "etcd.invalid"},
			`etcd's certificate is not trusted: not valid for the name "etcd.invalid"`, &x509.HostnameError{}},
		{"no client certificate", store.EtcdTLS{CAFile: good.CAFile}, "etcd refused the TLS connection (does it trust the client certificate?): remote error: tls: ", nil},
		{"a client certificate etcd does not trust", store.EtcdTLS{CAFile: good.CAFile, CertFile: bad.CertFile, KeyFile: bad.KeyFile},
			"etcd refused the TLS connection (does it trust the client certificate?): remote error: tls: ", nil},
	}
	t.Run("refused", func(t *testing.T) { // returns when its parallel subtests have
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s, err := store.OpenEtcd(store.EtcdConfig{Endpoints: e.Endpoints(), TLS: &tc.tls})
				if err != nil {
					t.Fatalf("OpenEtcd must not wait for etcd: %v", err)
				}
				defer s.Close()
				// Long enough for a handshake etcd refuses to have failed at
				// least once on a loaded machine (TLS 1.3 learns of a refused
				// client certificate only at its first read): the error
				// names the last failure seen before the deadline.
				_, err = s.Txn(ctxTimeout(t, 10*time.Second), nil, []store.Op{{Key: "refused", Value: []byte("x")}})
				t.Logf("Txn: %v", err)
				if err == nil {
					t.Fatal("Txn succeeded")
				}
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("error %v, want ErrUnavailable", err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not say %q", err, tc.want)
				}
				if tc.as != nil && !errors.As(err, tc.as) {
					t.Errorf("error %v: no %T in its chain", err, tc.as)
				}
			})
		}
	})
	// Nothing was written by any of them (under the default prefix).
	s, err := store.OpenEtcd(store.EtcdConfig{Endpoints: e.Endpoints(), TLS: good.EtcdTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctxTimeout(t, 5*time.Second), "refused"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused client's write: %v, want ErrNotFound", err)
	}
}

// TestOpenEtcdTLSFiles: files that do not load, and an http:// endpoint
// with TLS, fail OpenEtcd at once, saying which and why.
func TestOpenEtcdTLSFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good, bad := storetest.WriteTLSFiles(t)
	endpoints := []string{"https://127.0.0.1:1"} // never dialled
	tests := []struct {
		name      string
		endpoints []string
		tls       store.EtcdTLS
		want      []string // in the error
		is        error
	}{
		{"missing CA file", nil, store.EtcdTLS{CAFile: missing}, []string{"store: etcd TLS CA file: ", missing}, fs.ErrNotExist},
		{"CA file not PEM", nil, store.EtcdTLS{CAFile: notPEM}, []string{"store: etcd TLS CA file " + notPEM + ": no PEM certificate"}, nil},
		{"missing client certificate", nil, store.EtcdTLS{CertFile: missing, KeyFile: good.KeyFile}, []string{"store: etcd TLS client certificate " + missing}, fs.ErrNotExist},
		{"key of another certificate", nil, store.EtcdTLS{CertFile: good.CertFile, KeyFile: bad.KeyFile}, []string{"store: etcd TLS client certificate", "private key does not match"}, nil},
		{"certificate without key", nil, store.EtcdTLS{CertFile: good.CertFile}, []string{"store: etcd TLS: a client certificate needs its key file"}, nil},
		{"key without certificate", nil, store.EtcdTLS{KeyFile: good.KeyFile}, []string{"store: etcd TLS: a client key needs its certificate file"}, nil},
		{"http endpoint", []string{"https://127.0.0.1:2379", "http://127.0.0.1:2380"}, *good.EtcdTLS(),
			[]string{`store: etcd endpoint "http://127.0.0.1:2380" is plain http:// but TLS is set`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eps := tc.endpoints
			if eps == nil {
				eps = endpoints
			}
			s, err := store.OpenEtcd(store.EtcdConfig{Endpoints: eps, TLS: &tc.tls})
			if err == nil {
				s.Close()
				t.Fatal("OpenEtcd succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

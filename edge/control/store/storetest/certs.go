package storetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// TLSFiles are the PEM files a client of a TLS etcd uses: the authority
// etcd's certificate must chain to, and a client certificate and its key.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// EtcdTLS is f as the store's TLS settings.
func (f TLSFiles) EtcdTLS() *store.EtcdTLS {
	return &store.EtcdTLS{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile}
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

// newCA makes a certificate authority named name and writes its
// certificate to dir/name.pem.
func newCA(dir, name string) (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &testCA{cert: cert, key: key, file: filepath.Join(dir, name+".pem")}
	return ca, writePEM(ca.file, "CERTIFICATE", der)
}

// issue signs a certificate named name, for servers on 127.0.0.1, ::1
// and localhost when server is set (and for clients: etcd's gateway
// dials etcd with its server certificate), else for clients only. It
// writes dir/name.pem and dir/name.key.
func (ca *testCA) issue(dir, name string, server bool) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	return certFile, keyFile, writePEM(keyFile, "PRIVATE KEY", kder)
}

// etcdCerts are the files of a TLS etcd and of its clients.
type etcdCerts struct {
	serverCert, serverKey string
	client                TLSFiles // trusted both ways
	untrusted             TLSFiles // another authority, and a client certificate it signed
}

// makeEtcdCerts makes, in dir, an authority, etcd's certificate and a
// client's signed by it, and another authority with a client
// certificate of its own.
func makeEtcdCerts(dir string) (*etcdCerts, error) {
	ca, err := newCA(dir, "ca")
	if err != nil {
		return nil, fmt.Errorf("storetest: %w", err)
	}
	other, err := newCA(dir, "other-ca")
	if err != nil {
		return nil, fmt.Errorf("storetest: %w", err)
	}
	c := &etcdCerts{client: TLSFiles{CAFile: ca.file}, untrusted: TLSFiles{CAFile: other.file}}
	if c.serverCert, c.serverKey, err = ca.issue(dir, "etcd", true); err != nil {
		return nil, fmt.Errorf("storetest: %w", err)
	}
	if c.client.CertFile, c.client.KeyFile, err = ca.issue(dir, "client", false); err != nil {
		return nil, fmt.Errorf("storetest: %w", err)
	}
	if c.untrusted.CertFile, c.untrusted.KeyFile, err = other.issue(dir, "other-client", false); err != nil {
		return nil, fmt.Errorf("storetest: %w", err)
	}
	return c, nil
}

// WriteTLSFiles writes into a temporary directory of t's the client
// files a StartEtcdTLS etcd has, without starting one: trusted are an
// authority and a client certificate it signed, untrusted another
// authority and a client certificate of its own. For tests of what
// happens before any connection.
func WriteTLSFiles(t testing.TB) (trusted, untrusted TLSFiles) {
	t.Helper()
	c, err := makeEtcdCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c.client, c.untrusted
}

// clientConfig is f loaded, for the health check.
func (f TLSFiles) clientConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", f.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// writeCert writes a self-signed certificate for 127.0.0.1 into dir and
// returns its files and pool.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wedge admin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "admin.pem"), filepath.Join(dir, "admin.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestAdminTLS: with admin_tls the admin API speaks only HTTPS, with the
// configured certificate; a certificate that does not load stops the node
// from starting, naming admin_tls.
func TestAdminTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir)
	cfg := &config.Config{
		DataDir:   dir,
		Admin:     "127.0.0.1:0",
		AdminTLS:  &config.Certificate{CertFile: certFile, KeyFile: keyFile},
		Listeners: []config.Listener{{Name: "http", Address: "127.0.0.1:0"}},
	}
	n := startNode(t, cfg)
	addr := n.AdminAddr().String()

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("admin over TLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || string(body) != "ok\n" {
		t.Fatalf("admin over TLS: %d tls=%v %q", resp.StatusCode, resp.TLS != nil, body)
	}
	// The operator's calls work over it too.
	req, _ := http.NewRequest("PUT", "https://"+addr+"/v1/tenants/acme", nil)
	req.Header.Set("Authorization", "Bearer "+partialOperator)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("operator call over TLS: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// Plain HTTP gets no admin answer.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("plain HTTP served by a TLS admin listener: %d %q", resp.StatusCode, b)
		}
	}

	// A key that does not match fails the start, saying which.
	otherCert, _, _ := writeCert(t, t.TempDir())
	bad := *cfg
	bad.DataDir = t.TempDir()
	bad.AdminTLS = &config.Certificate{CertFile: otherCert, KeyFile: keyFile}
	if n, err := New(&bad, slog.New(slog.DiscardHandler), ""); err == nil {
		n.closeListeners()
		t.Fatal("a node started with a certificate and key that do not match")
	} else if !strings.Contains(err.Error(), "admin_tls") {
		t.Fatalf("error %q does not name admin_tls", err)
	}
}

package listen

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
)

// writePair writes a self-signed pair for names into dir.
func writePair(t *testing.T, dir, base string, names ...string) config.Certificate {
	t.Helper()
	c, err := selfSigned(names)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	cert := config.Certificate{CertFile: filepath.Join(dir, base+".pem"), KeyFile: filepath.Join(dir, base+".key")}
	os.WriteFile(cert.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600)
	os.WriteFile(cert.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
	return cert
}

func TestCertsBySNI(t *testing.T) {
	dir := t.TempDir()
	certs, err := LoadCerts(&config.TLS{Certificates: []config.Certificate{
		writePair(t, dir, "first", "first.test"),
		writePair(t, dir, "wild", "*.wild.test"),
		writePair(t, dir, "exact", "a.wild.test"),
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ sni, want string }{
		{"first.test", "first.test"},
		{"a.wild.test", "a.wild.test"},   // exact beats wildcard
		{"B.Wild.Test", "*.wild.test"},   // case-insensitive
		{"x.y.wild.test", "*.wild.test"}, // any depth
		{"unknown.test", "first.test"},   // default: the first
		{"", "first.test"},
	}
	for _, tt := range tests {
		c, err := certs.GetCertificate(&tls.ClientHelloInfo{ServerName: tt.sni})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(c.Leaf.DNSNames, tt.want) {
			t.Errorf("SNI %q got certificate for %v, want %q", tt.sni, c.Leaf.DNSNames, tt.want)
		}
	}
}

func TestDevSelfSignedCoversDomains(t *testing.T) {
	certs, err := LoadCerts(&config.TLS{DevSelfSigned: true}, []string{"Demo.Test", "*.demo.test"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := certs.GetCertificate(&tls.ClientHelloInfo{ServerName: "x.demo.test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"demo.test", "*.demo.test", "localhost"} {
		if !slices.Contains(c.Leaf.DNSNames, n) {
			t.Errorf("dev certificate names %v lack %q", c.Leaf.DNSNames, n)
		}
	}
	if err := c.Leaf.VerifyHostname("x.demo.test"); err != nil {
		t.Error(err)
	}
}

func TestLoadErrorKeepsOldSet(t *testing.T) {
	dir := t.TempDir()
	certs, err := LoadCerts(&config.TLS{Certificates: []config.Certificate{writePair(t, dir, "a", "a.test")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = certs.Load(&config.TLS{Certificates: []config.Certificate{{CertFile: filepath.Join(dir, "missing.pem"), KeyFile: filepath.Join(dir, "missing.key")}}}, nil)
	if err == nil {
		t.Fatal("loading a missing certificate succeeded")
	}
	c, err := certs.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.test"})
	if err != nil || !slices.Contains(c.Leaf.DNSNames, "a.test") {
		t.Fatalf("old certificate gone after a failed load: %v", err)
	}
}

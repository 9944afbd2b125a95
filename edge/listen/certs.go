package listen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// Certs chooses a TLS listener's certificate by SNI. Its set can be
// replaced while connections are being accepted.
type Certs struct {
	cur atomic.Pointer[certSet]
}

type certSet struct {
	exact map[string]*tls.Certificate
	wild  map[string]*tls.Certificate // keyed by ".example.com"
	def   *tls.Certificate
}

// LoadCerts loads the certificates of t. With DevSelfSigned it generates one
// certificate covering domains (tenant domains, wildcards included),
// localhost and the loopback addresses.
func LoadCerts(t *config.TLS, domains []string) (*Certs, error) {
	c := &Certs{}
	if err := c.Load(t, domains); err != nil {
		return nil, err
	}
	return c, nil
}

// Load replaces the certificate set. On error the old set stays.
func (c *Certs) Load(t *config.TLS, domains []string) error {
	swap, err := c.Prepare(t, domains)
	if err != nil {
		return err
	}
	swap()
	return nil
}

// Prepare loads a new certificate set and returns the function that swaps
// it in, so that several sets can be loaded before any is used.
func (c *Certs) Prepare(t *config.TLS, domains []string) (swap func(), err error) {
	set, err := loadSet(t, domains)
	if err != nil {
		return nil, err
	}
	return func() { c.cur.Store(set) }, nil
}

func loadSet(t *config.TLS, domains []string) (*certSet, error) {
	set := &certSet{exact: map[string]*tls.Certificate{}, wild: map[string]*tls.Certificate{}}
	var all []*tls.Certificate
	for i, cf := range t.Certificates {
		cert, err := tls.LoadX509KeyPair(cf.CertFile, cf.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("listen: certificates[%d]: %w", i, err)
		}
		all = append(all, &cert)
	}
	if t.DevSelfSigned {
		cert, err := selfSigned(domains)
		if err != nil {
			return nil, fmt.Errorf("listen: dev_self_signed: %w", err)
		}
		all = append(all, cert)
	}
	for _, cert := range all {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("listen: parse certificate: %w", err)
		}
		cert.Leaf = leaf
		if set.def == nil {
			set.def = cert
		}
		for _, name := range leaf.DNSNames {
			name = strings.ToLower(name)
			m, key := set.exact, name
			if suffix, ok := strings.CutPrefix(name, "*"); ok {
				m, key = set.wild, suffix
			}
			if _, dup := m[key]; !dup {
				m[key] = cert
			}
		}
	}
	return set, nil
}

// GetCertificate is a tls.Config.GetCertificate: the exact SNI name, then
// the most specific wildcard, then the default certificate.
func (c *Certs) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	set := c.cur.Load()
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if cert, ok := set.exact[name]; ok {
		return cert, nil
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			if cert, ok := set.wild[name[i:]]; ok {
				return cert, nil
			}
		}
	}
	if set.def == nil {
		return nil, fmt.Errorf("listen: no certificate for %q", hello.ServerName)
	}
	return set.def, nil
}

// selfSigned makes a short-lived ECDSA certificate for names.
func selfSigned(names []string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "wedge dev self-signed", Organization: []string{"Wedge development"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, n := range names {
		tmpl.DNSNames = append(tmpl.DNSNames, strings.ToLower(n))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

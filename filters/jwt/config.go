package main

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/wedgeproxy/wedge/sdk"
)

// config is the filter's JSON configuration. Zero values take the defaults
// documented on each field.
type config struct {
	// Realm is the realm of the WWW-Authenticate challenge. Default "wedge".
	Realm string `json:"realm"`
	// Mode is "required" (default: a request without a bearer token gets
	// 401) or "optional" (it goes on unauthenticated). A token that is
	// present but invalid gets 401 in both modes.
	Mode string `json:"mode"`
	// Keys verify signatures; at least one.
	Keys []keyConfig `json:"keys"`
	// Issuer, when set, must equal the token's iss claim.
	Issuer string `json:"issuer"`
	// Audiences, when set, must include one of the token's aud values.
	Audiences []string `json:"audiences"`
	// LeewaySeconds is the clock skew allowed on exp, nbf and iat
	// (default 0, at most 300).
	LeewaySeconds int `json:"leeway_seconds"`
	// AllowMissingExp accepts tokens without an exp claim (default: they
	// are refused).
	AllowMissingExp bool `json:"allow_missing_exp"`
	// Forward copies claims of a verified token into request headers.
	Forward []forwardConfig `json:"forward"`
	// ForwardToken keeps the Authorization header on the request sent
	// upstream (default: it is removed once verified).
	ForwardToken bool `json:"forward_token"`
}

// keyConfig is one verification key. Exactly one of Secret, SecretBase64
// and PublicKey is set; it fixes the only algorithm the key verifies.
type keyConfig struct {
	// Kid is the key id tokens name in their kid header. Optional, unique.
	Kid string `json:"kid"`
	// Secret is an HS256 shared secret, as text.
	Secret string `json:"secret"`
	// SecretBase64 is an HS256 shared secret in base64 (standard or URL
	// alphabet, padded or not).
	SecretBase64 string `json:"secret_base64"`
	// PublicKey is an RS256 public key in PEM: "PUBLIC KEY" (PKIX),
	// "RSA PUBLIC KEY" (PKCS #1) or a "CERTIFICATE".
	PublicKey string `json:"public_key"`
}

// forwardConfig copies one claim into one request header.
type forwardConfig struct {
	Claim  string `json:"claim"`
	Header string `json:"header"`
}

// forward is a compiled forwardConfig.
type forward struct {
	claim, header string
}

const (
	defaultRealm = "wedge"
	maxLeeway    = 300
	// minSecret is the shortest HS256 secret: RFC 7518 §3.2 requires a
	// key as long as the hash output.
	minSecret = sha256.Size
	// minRSABits is the smallest RSA modulus accepted.
	minRSABits = 2048
)

// compile validates c and builds the plugin. Every problem is reported,
// each with its field path.
func (c *config) compile() (*plugin, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("jwt: config: "+format, args...))
	}
	p := &plugin{v: &verifier{
		issuer:   c.Issuer,
		leeway:   float64(c.LeewaySeconds),
		needExp:  !c.AllowMissingExp,
		keyByKid: map[string]*key{},
		cache:    newCache(cacheEntries),
	}}

	realm := c.Realm
	if realm == "" {
		realm = defaultRealm
	}
	if !quotable(realm) {
		bad("realm: %q: want printable ASCII without '\"' or '\\'", realm)
	}
	switch c.Mode {
	case "", "required":
	case "optional":
		p.optional = true
	default:
		bad("mode: %q: want \"required\" or \"optional\"", c.Mode)
	}
	if c.LeewaySeconds < 0 || c.LeewaySeconds > maxLeeway {
		bad("leeway_seconds: %d: want 0 to %d", c.LeewaySeconds, maxLeeway)
	}
	for i, a := range c.Audiences {
		if a == "" {
			bad("audiences[%d]: empty audience", i)
		}
	}
	p.v.audiences = c.Audiences

	if len(c.Keys) == 0 {
		bad("keys: at least one key is required")
	}
	for i := range c.Keys {
		k, err := c.Keys[i].compile()
		if err != nil {
			bad("keys[%d]: %v", i, err)
			continue
		}
		if k.kid != "" {
			if _, dup := p.v.keyByKid[k.kid]; dup {
				bad("keys[%d].kid: %q is already used by another key", i, k.kid)
				continue
			}
			p.v.keyByKid[k.kid] = k
		}
		p.v.keys = append(p.v.keys, k)
	}

	seen := map[string]int{}
	for i, f := range c.Forward {
		name := strings.ToLower(f.Header)
		if f.Claim == "" {
			bad("forward[%d].claim: empty claim name", i)
		}
		if err := checkHeaderName(name); err != nil {
			bad("forward[%d].header: %v", i, err)
			continue
		}
		if j, dup := seen[name]; dup {
			bad("forward[%d].header: %s is already the header of forward[%d]", i, name, j)
			continue
		}
		seen[name] = i
		p.forward = append(p.forward, forward{claim: f.Claim, header: name})
		p.v.forward = append(p.v.forward, f.Claim)
	}
	p.forwardToken = c.ForwardToken
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	p.challenge = `Bearer realm="` + realm + `"`
	for r := reason(0); r < numReasons; r++ {
		p.challenges[r] = p.challenge + `, error="invalid_token", error_description="` + r.Error() + `"`
		p.bodies[r] = []byte("invalid token: " + r.Error() + "\n")
	}
	return p, nil
}

// compile checks one key and prepares it.
func (kc *keyConfig) compile() (*key, error) {
	set := 0
	for _, s := range []string{kc.Secret, kc.SecretBase64, kc.PublicKey} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("give exactly one of secret, secret_base64 and public_key")
	}
	k := &key{kid: kc.Kid}
	switch {
	case kc.Secret != "" || kc.SecretBase64 != "":
		secret := []byte(kc.Secret)
		if kc.SecretBase64 != "" {
			var err error
			if secret, err = decodeAnyBase64(kc.SecretBase64); err != nil {
				return nil, fmt.Errorf("secret_base64: %v", err)
			}
		}
		if len(secret) < minSecret {
			return nil, fmt.Errorf("secret: %d bytes is too short for HS256: want at least %d (RFC 7518 section 3.2)", len(secret), minSecret)
		}
		k.alg = algHS256
		k.mac = hmac.New(sha256.New, secret)
	default:
		pub, err := parseRSAPublicKey(kc.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("public_key: %v", err)
		}
		k.alg = algRS256
		k.rsa = pub
	}
	return k, nil
}

// decodeAnyBase64 decodes standard or URL-safe base64, padded or not.
func decodeAnyBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %v", err)
	}
	return b, nil
}

// parseRSAPublicKey reads one PEM block holding an RSA public key.
func parseRSAPublicKey(s string) (*rsa.PublicKey, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("more than one PEM block: give one key per entry")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", block.Type)
	}
	if err != nil {
		return nil, err
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an RSA key: only RS256 is supported", pub)
	}
	if n := rk.N.BitLen(); n < minRSABits {
		return nil, fmt.Errorf("RSA key of %d bits is too small: want at least %d", n, minRSABits)
	}
	return rk, nil
}

// quotable reports whether s can go in an RFC 9110 quoted-string as is.
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// forbiddenHeaders frame the message or the connection, or select the
// route: a claim must not set them.
var forbiddenHeaders = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "upgrade": true, "te": true,
	"transfer-encoding": true, "content-length": true, "host": true, "authorization": true,
}

// checkHeaderName accepts a lower-case RFC 9110 field name that is not a
// pseudo-header nor a forbidden header.
func checkHeaderName(name string) error {
	if name == "" {
		return errors.New("empty header name")
	}
	if name[0] == ':' {
		return fmt.Errorf("%s: pseudo-headers cannot be set", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !sdk.IsTokenChar(c) {
			return fmt.Errorf("%q: byte %q at %d is not allowed in a header name", name, c, i)
		}
	}
	if forbiddenHeaders[name] {
		return fmt.Errorf("%s cannot be set from a claim", name)
	}
	return nil
}

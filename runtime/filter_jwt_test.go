package runtime

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

const jwtTestSecret = "runtime-test-secret-of-32-bytes!!"

// jwtTestToken signs claims with alg and kid: with an HMAC when key is
// []byte, with RSA when it is *rsa.PrivateKey, unsigned when it is nil.
func jwtTestToken(t *testing.T, alg, kid string, claims map[string]any, key any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	hdr := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	signed := enc(hdr) + "." + enc(claims)
	var sig []byte
	switch k := key.(type) {
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(signed))
		sig = m.Sum(nil)
	case *rsa.PrivateKey:
		sum := sha256.Sum256([]byte(signed))
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:]); err != nil {
			t.Fatal(err)
		}
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestFilterJWT runs bin/filters/jwt.wasm in the host: tokens verified
// with the HS256 and RS256 keys of its configuration, claims forwarded,
// and RFC 6750 401s for a missing or invalid token.
func TestFilterJWT(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	cfg, err := json.Marshal(map[string]any{
		"realm":     "api",
		"issuer":    "https://issuer.test",
		"audiences": []string{"api"},
		"keys": []map[string]any{
			{"kid": "hs", "secret": jwtTestSecret},
			{"kid": "rs", "public_key": pubPEM},
		},
		"forward": []map[string]any{{"claim": "sub", "header": "x-user"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t)
	p := startPlugin(t, e, "filters", "jwt", PluginConfig{Config: cfg, Limits: Limits{Instances: 1}})

	now := time.Now()
	claims := func(extra map[string]any) map[string]any {
		c := map[string]any{"iss": "https://issuer.test", "aud": "api", "sub": "user-7",
			"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	secret := []byte(jwtTestSecret)
	hsTok := jwtTestToken(t, "HS256", "hs", claims(nil), secret)
	challenge := func(desc string) string {
		return `Bearer realm="api", error="invalid_token", error_description="` + desc + `"`
	}
	tests := []struct {
		name     string
		auth     string // the Authorization header; "" for none
		want401  string // the WWW-Authenticate of the 401; "" when the request goes on
		wantUser string
	}{
		{"HS256", "Bearer " + hsTok, "", "user-7"},
		{"HS256 again (remembered)", "Bearer " + hsTok, "", "user-7"},
		{"RS256", "Bearer " + jwtTestToken(t, "RS256", "rs", claims(map[string]any{"sub": "user-8"}), rk), "", "user-8"},
		{"missing", "", `Bearer realm="api"`, ""},
		{"expired", "Bearer " + jwtTestToken(t, "HS256", "hs", claims(map[string]any{"exp": now.Add(-time.Minute).Unix()}), secret),
			challenge("token expired"), ""},
		{"wrong signature", "Bearer " + jwtTestToken(t, "HS256", "hs", claims(nil), []byte(strings.Repeat("k", 32))),
			challenge("invalid signature"), ""},
		{"alg confusion", "Bearer " + jwtTestToken(t, "HS256", "rs", claims(nil), []byte(pubPEM)),
			challenge("signature algorithm not allowed for the key"), ""},
		{"alg none", "Bearer " + jwtTestToken(t, "none", "", claims(nil), nil),
			challenge("unsigned tokens (alg none) are not accepted"), ""},
		{"wrong audience", "Bearer " + jwtTestToken(t, "RS256", "rs", claims(map[string]any{"aud": "web"}), rk),
			challenge("wrong audience"), ""},
		{"malformed", "Bearer not.a.jwt", challenge("malformed token"), ""},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHost([2]string{":method", "GET"}, [2]string{":path", "/"}, [2]string{"x-user", "spoofed"})
			if tt.auth != "" {
				h.req.Add("authorization", tt.auth)
			}
			s, err := p.NewStream(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			r, err := s.RequestHeaders(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want401 == "" {
				if r != Continue {
					t.Fatalf("result %v, local response %+v; want Continue", r, s.LocalResponse())
				}
				if got := header(h.req, "x-user"); got != tt.wantUser {
					t.Errorf("x-user = %q, want %q", got, tt.wantUser)
				}
				if _, ok := h.req.Get("authorization"); ok {
					t.Error("the verified token was forwarded upstream")
				}
				return
			}
			lr := s.LocalResponse()
			if r != Respond || lr == nil {
				t.Fatalf("result %v, local response %+v; want a 401", r, lr)
			}
			if lr.Status != 401 {
				t.Errorf("status %d, want 401", lr.Status)
			}
			if got := header(&lr.Headers, "www-authenticate"); got != tt.want401 {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, tt.want401)
			}
			if len(lr.Body) == 0 {
				t.Error("empty body")
			}
		})
	}
	if n := p.Crashes(); n != 0 {
		t.Errorf("%d instances crashed", n)
	}
}

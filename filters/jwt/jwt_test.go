package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/sdktest"
)

// now is the clock of every test: tokens are made relative to it.
var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const secret = "0123456789abcdef0123456789abcdef-shared"

var (
	rsaOnce      sync.Once
	rsaA, rsaB   *rsa.PrivateKey
	pemA, pemB   string
	rsaGenerated error
)

// rsaKeys makes two RSA keys once per test binary.
func rsaKeys(t testing.TB) {
	t.Helper()
	rsaOnce.Do(func() {
		if rsaA, rsaGenerated = rsa.GenerateKey(rand.Reader, 2048); rsaGenerated != nil {
			return
		}
		if rsaB, rsaGenerated = rsa.GenerateKey(rand.Reader, 2048); rsaGenerated != nil {
			return
		}
		pemA, pemB = pemPublic(t, &rsaA.PublicKey), pemPublic(t, &rsaB.PublicKey)
	})
	if rsaGenerated != nil {
		t.Fatal(rsaGenerated)
	}
}

func pemPublic(t testing.TB, pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func seg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// token signs header and claims: with an HMAC when key is []byte, with
// RSA when it is *rsa.PrivateKey, and not at all when it is nil.
func token(header, claims map[string]any, key any) string {
	signed := seg(header) + "." + seg(claims)
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
			panic(err)
		}
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func hs(claims map[string]any) string {
	return token(map[string]any{"alg": "HS256", "typ": "JWT"}, claims, []byte(secret))
}

// valid returns claims valid at now, with extra merged in (nil deletes).
func valid(extra map[string]any) map[string]any {
	c := map[string]any{
		"iss": "https://issuer.test",
		"aud": "api",
		"sub": "user-42",
		"iat": now.Add(-time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// baseConfig has an HS256 key without kid, RSA key A as "a" and RSA key B
// without kid.
func baseConfig(extra map[string]any) string {
	c := map[string]any{
		"realm":     "api",
		"issuer":    "https://issuer.test",
		"audiences": []string{"api", "admin"},
		"keys": []map[string]any{
			{"secret": secret},
			{"kid": "a", "public_key": pemA},
			{"public_key": pemB},
		},
		"forward": []map[string]any{
			{"claim": "sub", "header": "X-User"},
			{"claim": "roles", "header": "x-roles"},
			{"claim": "level", "header": "x-level"},
		},
	}
	for k, v := range extra {
		c[k] = v
	}
	return jsonString(c)
}

func challenge(desc string) string {
	return `Bearer realm="api", error="invalid_token", error_description="` + desc + `"`
}

func TestJWT(t *testing.T) {
	rsaKeys(t)
	rs := func(kid string, k *rsa.PrivateKey, claims map[string]any) string {
		h := map[string]any{"alg": "RS256"}
		if kid != "" {
			h["kid"] = kid
		}
		return token(h, claims, k)
	}
	hsToken := hs(valid(nil))
	tests := []struct {
		name   string
		config string // default baseConfig(nil)
		auth   []string
		// want401 is "" for a request that goes on, else the
		// WWW-Authenticate value of the 401.
		want401     string
		wantHeaders []sdk.Header // the request headers after the filter, when it goes on
	}{
		{
			name:        "valid HS256, sub forwarded, token removed, spoofed header replaced",
			auth:        []string{"authorization", "Bearer " + hsToken, "x-user", "spoofed"},
			wantHeaders: sdktest.Headers(":path", "/", "x-user", "user-42"),
		},
		{
			name:        "valid RS256 selected by kid",
			auth:        []string{"authorization", "Bearer " + rs("a", rsaA, valid(nil))},
			wantHeaders: sdktest.Headers(":path", "/", "x-user", "user-42"),
		},
		{
			name:        "valid RS256 without kid tries every RS256 key",
			auth:        []string{"authorization", "bearer   " + rs("", rsaB, valid(nil))},
			wantHeaders: sdktest.Headers(":path", "/", "x-user", "user-42"),
		},
		{
			name:        "RS256 key in a certificate and as PKCS1",
			config:      jsonString(map[string]any{"keys": []map[string]any{{"public_key": certPEM(t, rsaA)}, {"kid": "b", "public_key": pkcs1PEM(rsaB)}}}),
			auth:        []string{"authorization", "Bearer " + rs("", rsaA, valid(nil))},
			wantHeaders: sdktest.Headers(":path", "/"),
		},
		{
			name:        "secret in base64",
			config:      jsonString(map[string]any{"keys": []map[string]any{{"secret_base64": base64.StdEncoding.EncodeToString([]byte(secret))}}}),
			auth:        []string{"authorization", "Bearer " + hsToken},
			wantHeaders: sdktest.Headers(":path", "/"),
		},
		{
			name:        "secret in unpadded base64url",
			config:      jsonString(map[string]any{"keys": []map[string]any{{"secret_base64": base64.RawURLEncoding.EncodeToString([]byte(secret))}}}),
			auth:        []string{"authorization", "Bearer " + hsToken},
			wantHeaders: sdktest.Headers(":path", "/"),
		},
		{
			name:        "array and number claims forwarded",
			auth:        []string{"authorization", "Bearer " + hs(valid(map[string]any{"roles": []string{"a", "b"}, "level": 3.5}))},
			wantHeaders: sdktest.Headers(":path", "/", "x-user", "user-42", "x-roles", "a,b", "x-level", "3.5"),
		},
		{
			name:        "claim that is no valid header value is not forwarded",
			auth:        []string{"authorization", "Bearer " + hs(valid(map[string]any{"sub": "a\r\nx-evil: 1"}))},
			wantHeaders: sdktest.Headers(":path", "/"),
		},
		{
			name:        "audience array with one match",
			auth:        []string{"authorization", "Bearer " + hs(valid(map[string]any{"aud": []string{"other", "admin"}}))},
			wantHeaders: sdktest.Headers(":path", "/", "x-user", "user-42"),
		},
		{
			name:        "forward_token keeps the authorization header",
			config:      baseConfig(map[string]any{"forward_token": true, "forward": nil}),
			auth:        []string{"authorization", "Bearer " + hsToken},
			wantHeaders: sdktest.Headers(":path", "/", "authorization", "Bearer "+hsToken),
		},
		{
			name:        "expired within the leeway",
			config:      baseConfig(map[string]any{"leeway_seconds": 60}),
			auth:        []string{"authorization", "Bearer " + hs(valid(map[string]any{"exp": now.Add(-30 * time.Second).Unix()}))},
			wantHeaders: sdktest.Headers(":path", "/", "x-user", "user-42"),
		},
		{
			name:        "no exp allowed",
			config:      baseConfig(map[string]any{"allow_missing_exp": true}),
			auth:        []string{"authorization", "Bearer " + hs(valid(map[string]any{"exp": nil}))},
			wantHeaders: sdktest.Headers(":path", "/", "x-user", "user-42"),
		},
		{
			name:    "expired",
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"exp": now.Unix()}))},
			want401: challenge("token expired"),
		},
		{
			name:    "expired beyond the leeway",
			config:  baseConfig(map[string]any{"leeway_seconds": 60}),
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"exp": now.Add(-61 * time.Second).Unix()}))},
			want401: challenge("token expired"),
		},
		{
			name:    "not yet valid",
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"nbf": now.Add(time.Second).Unix()}))},
			want401: challenge("token not yet valid"),
		},
		{
			name:    "issued in the future",
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"iat": now.Add(time.Minute).Unix()}))},
			want401: challenge("token issued in the future"),
		},
		{
			name:    "no exp",
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"exp": nil}))},
			want401: challenge("token has no expiry"),
		},
		{
			name:    "exp not a number",
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"exp": "tomorrow"}))},
			want401: challenge("malformed claims"),
		},
		{
			name:    "wrong HMAC secret",
			auth:    []string{"authorization", "Bearer " + token(map[string]any{"alg": "HS256"}, valid(nil), []byte(strings.Repeat("x", 32)))},
			want401: challenge("invalid signature"),
		},
		{
			name:    "payload changed after signing",
			auth:    []string{"authorization", "Bearer " + swapPayload(hsToken, valid(map[string]any{"sub": "admin"}))},
			want401: challenge("invalid signature"),
		},
		{
			name:    "RS256 signed by another key than its kid",
			auth:    []string{"authorization", "Bearer " + rs("a", rsaB, valid(nil))},
			want401: challenge("invalid signature"),
		},
		{
			name:    "wrong alg for the kid's key",
			auth:    []string{"authorization", "Bearer " + token(map[string]any{"alg": "HS256", "kid": "a"}, valid(nil), []byte(secret))},
			want401: challenge("signature algorithm not allowed for the key"),
		},
		{
			name:    "alg confusion: HS256 signed with the RSA public key",
			config:  jsonString(map[string]any{"realm": "api", "keys": []map[string]any{{"public_key": pemA}}}),
			auth:    []string{"authorization", "Bearer " + token(map[string]any{"alg": "HS256"}, valid(nil), []byte(pemA))},
			want401: challenge("signature algorithm not allowed for the key"),
		},
		{
			name:    "alg none",
			auth:    []string{"authorization", "Bearer " + token(map[string]any{"alg": "none"}, valid(nil), nil)},
			want401: challenge("unsigned tokens (alg none) are not accepted"),
		},
		{
			name:    "alg NoNe with a signature",
			auth:    []string{"authorization", "Bearer " + token(map[string]any{"alg": "NoNe"}, valid(nil), []byte(secret))},
			want401: challenge("unsigned tokens (alg none) are not accepted"),
		},
		{
			name:    "unsupported alg",
			auth:    []string{"authorization", "Bearer " + token(map[string]any{"alg": "ES256"}, valid(nil), []byte(secret))},
			want401: challenge("unsupported signature algorithm"),
		},
		{
			name:    "alg names are case-sensitive",
			auth:    []string{"authorization", "Bearer " + token(map[string]any{"alg": "hs256"}, valid(nil), []byte(secret))},
			want401: challenge("unsupported signature algorithm"),
		},
		{
			name:    "unknown kid",
			auth:    []string{"authorization", "Bearer " + rs("zz", rsaA, valid(nil))},
			want401: challenge("unknown key id"),
		},
		{
			name:    "critical header",
			auth:    []string{"authorization", "Bearer " + token(map[string]any{"alg": "HS256", "crit": []string{"exp"}}, valid(nil), []byte(secret))},
			want401: challenge("unsupported critical header"),
		},
		{
			name:    "malformed: one segment",
			auth:    []string{"authorization", "Bearer abc"},
			want401: challenge("malformed token"),
		},
		{
			name:    "malformed: four segments",
			auth:    []string{"authorization", "Bearer " + hsToken + ".x"},
			want401: challenge("malformed token"),
		},
		{
			name:    "malformed: header not base64url",
			auth:    []string{"authorization", "Bearer e30+." + strings.SplitN(hsToken, ".", 2)[1]},
			want401: challenge("malformed token"),
		},
		{
			name:    "malformed: header not JSON",
			auth:    []string{"authorization", "Bearer " + base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + strings.SplitN(hsToken, ".", 2)[1]},
			want401: challenge("malformed token"),
		},
		{
			name:    "malformed: signature not base64url",
			auth:    []string{"authorization", "Bearer " + hsToken[:strings.LastIndexByte(hsToken, '.')] + ".@@"},
			want401: challenge("malformed token"),
		},
		{
			name:    "too large",
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"pad": strings.Repeat("x", maxToken)}))},
			want401: challenge("token too large"),
		},
		{
			name:    "wrong issuer",
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"iss": "https://evil.test"}))},
			want401: challenge("wrong issuer"),
		},
		{
			name:    "wrong audience",
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"aud": []string{"web"}}))},
			want401: challenge("wrong audience"),
		},
		{
			name:    "no audience",
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"aud": nil}))},
			want401: challenge("wrong audience"),
		},
		{
			name:    "missing authorization header",
			want401: `Bearer realm="api"`,
		},
		{
			name:    "another scheme is no bearer token",
			auth:    []string{"authorization", "Basic dXNlcjpwYXNz"},
			want401: `Bearer realm="api"`,
		},
		{
			name:    "bearer without a token",
			auth:    []string{"authorization", "Bearer   "},
			want401: `Bearer realm="api"`,
		},
		{
			name:        "optional: no token goes on, spoofed claim header removed",
			config:      baseConfig(map[string]any{"mode": "optional"}),
			auth:        []string{"x-user", "spoofed", "x-other", "kept"},
			wantHeaders: sdktest.Headers(":path", "/", "x-other", "kept"),
		},
		{
			name:    "optional: an invalid token is still refused",
			config:  baseConfig(map[string]any{"mode": "optional"}),
			auth:    []string{"authorization", "Bearer " + hs(valid(map[string]any{"exp": now.Add(-time.Hour).Unix()}))},
			want401: challenge("token expired"),
		},
		{
			name:    "default realm",
			config:  jsonString(map[string]any{"keys": []map[string]any{{"secret": secret}}}),
			want401: `Bearer realm="wedge"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.config
			if cfg == "" {
				cfg = baseConfig(nil)
			}
			h := sdktest.NewHost(t)
			h.SetNow(now)
			p, err := h.NewPlugin(newPlugin, cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := p.NewStream()
			req := append(sdktest.Headers(":path", "/"), sdktest.Headers(tt.auth...)...)
			got := s.SendRequestHeaders(req, true)
			lr := s.LocalResponse()
			if tt.want401 == "" {
				if got != sdk.Continue || lr != nil {
					t.Fatalf("action %v, local response %+v; want the request to go on", got, lr)
				}
				if hs := s.RequestHeaders(); !slices.Equal(hs, tt.wantHeaders) {
					t.Errorf("request headers:\n got %v\nwant %v", hs, tt.wantHeaders)
				}
				return
			}
			if got != sdk.Pause || lr == nil {
				t.Fatalf("action %v, local response %+v; want Pause and a 401", got, lr)
			}
			if lr.StatusCode != 401 {
				t.Errorf("status %d, want 401", lr.StatusCode)
			}
			if v := headerOf(lr.Headers, "www-authenticate"); v != tt.want401 {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", v, tt.want401)
			}
			if len(lr.Body) == 0 || len(lr.Body) > 100 {
				t.Errorf("body %q: want a short one", lr.Body)
			}
		})
	}
}

func headerOf(hs []sdk.Header, name string) string {
	for _, h := range hs {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// swapPayload replaces tok's payload and keeps its header and signature.
func swapPayload(tok string, claims map[string]any) string {
	parts := strings.Split(tok, ".")
	return parts[0] + "." + seg(claims) + "." + parts[2]
}

func pkcs1PEM(k *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)}))
}

func certPEM(t *testing.T, k *rsa.PrivateKey) string {
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestJWTBadConfig(t *testing.T) {
	rsaKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hsKey := []map[string]any{{"secret": secret}}
	tests := []struct {
		name   string
		config string
		want   []string // each must be in the refusal
	}{
		{"empty config", ``, []string{"keys: at least one key is required"}},
		{"no keys", `{"keys":[]}`, []string{"keys: at least one key is required"}},
		{"unknown field", `{"keys":[{"secret":"` + secret + `"}],"isuer":"x"}`, []string{`unknown field "isuer"`}},
		{"not JSON", `keys: []`, []string{"sdk: config"}},
		{"two kinds of key material", jsonString(map[string]any{"keys": []map[string]any{{"secret": secret, "public_key": pemA}}}),
			[]string{"keys[0]: give exactly one of secret, secret_base64 and public_key"}},
		{"no key material", `{"keys":[{"kid":"x"}]}`, []string{"keys[0]: give exactly one of"}},
		{"short secret", `{"keys":[{"secret":"short"}]}`, []string{"keys[0]: secret: 5 bytes is too short for HS256"}},
		{"bad base64", `{"keys":[{"secret_base64":"***"}]}`, []string{"keys[0]: secret_base64: not valid base64"}},
		{"not PEM", `{"keys":[{"public_key":"MIIB..."}]}`, []string{"keys[0]: public_key: no PEM block found"}},
		{"private key PEM", jsonString(map[string]any{"keys": []map[string]any{{"public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))}}}),
			[]string{`keys[0]: public_key: PEM block "PRIVATE KEY": want PUBLIC KEY`}},
		{"two PEM blocks", jsonString(map[string]any{"keys": []map[string]any{{"public_key": pemA + pemB}}}),
			[]string{"keys[0]: public_key: more than one PEM block"}},
		{"EC key", jsonString(map[string]any{"keys": []map[string]any{{"public_key": pemPublic(t, &ec.PublicKey)}}}),
			[]string{"keys[0]: public_key: *ecdsa.PublicKey is not an RSA key"}},
		{"small RSA key", jsonString(map[string]any{"keys": []map[string]any{{"public_key": pemPublic(t, &small.PublicKey)}}}),
			[]string{"keys[0]: public_key: RSA key of 1024 bits is too small"}},
		{"duplicate kid", jsonString(map[string]any{"keys": []map[string]any{{"kid": "a", "secret": secret}, {"kid": "a", "public_key": pemA}}}),
			[]string{`keys[1].kid: "a" is already used`}},
		{"bad mode", jsonString(map[string]any{"keys": hsKey, "mode": "maybe"}), []string{`mode: "maybe": want "required" or "optional"`}},
		{"negative leeway", jsonString(map[string]any{"keys": hsKey, "leeway_seconds": -1}), []string{"leeway_seconds: -1: want 0 to 300"}},
		{"huge leeway", jsonString(map[string]any{"keys": hsKey, "leeway_seconds": 86400}), []string{"leeway_seconds: 86400"}},
		{"realm with a quote", jsonString(map[string]any{"keys": hsKey, "realm": `a"b`}), []string{"realm:"}},
		{"empty audience", jsonString(map[string]any{"keys": hsKey, "audiences": []string{""}}), []string{"audiences[0]: empty audience"}},
		{"forward to a pseudo-header", jsonString(map[string]any{"keys": hsKey, "forward": []map[string]any{{"claim": "sub", "header": ":path"}}}),
			[]string{"forward[0].header: :path: pseudo-headers cannot be set"}},
		{"forward to a forbidden header", jsonString(map[string]any{"keys": hsKey, "forward": []map[string]any{{"claim": "sub", "header": "Host"}}}),
			[]string{"forward[0].header: host cannot be set from a claim"}},
		{"forward to an invalid name", jsonString(map[string]any{"keys": hsKey, "forward": []map[string]any{{"claim": "sub", "header": "x user"}}}),
			[]string{`forward[0].header: "x user": byte ' '`}},
		{"forward without a claim", jsonString(map[string]any{"keys": hsKey, "forward": []map[string]any{{"header": "x-user"}}}),
			[]string{"forward[0].claim: empty claim name"}},
		{"forward twice to a header", jsonString(map[string]any{"keys": hsKey, "forward": []map[string]any{{"claim": "sub", "header": "x-u"}, {"claim": "iss", "header": "X-U"}}}),
			[]string{"forward[1].header: x-u is already the header of forward[0]"}},
		{"every problem at once", jsonString(map[string]any{"keys": []map[string]any{{"secret": "x"}, {}}, "mode": "no", "leeway_seconds": -5}),
			[]string{"keys[0]: secret", "keys[1]: give exactly one", `mode: "no"`, "leeway_seconds: -5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			_, err := h.NewPlugin(newPlugin, tt.config)
			if err == nil {
				t.Fatal("the configuration was accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q\ndoes not say %q", err, w)
				}
			}
			if !h.Logged(sdk.LevelError, tt.want[0]) {
				t.Errorf("the reason was not logged at error level: %v", h.Logs())
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearerabc", "", false},
		{"Basic abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := bearerToken(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestJWTTokensAcrossStreams checks that the verifier's reused buffers do
// not leak one request's claims into the next.
func TestJWTTokensAcrossStreams(t *testing.T) {
	h := sdktest.NewHost(t)
	h.SetNow(now)
	p, err := h.NewPlugin(newPlugin, jsonString(map[string]any{
		"keys":    []map[string]any{{"secret": secret}},
		"forward": []map[string]any{{"claim": "sub", "header": "x-user"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"a-much-longer-subject-first", "b", "c-medium"} {
		s := p.NewStream()
		if got := s.SendRequestHeaders(sdktest.Headers("authorization", "Bearer "+hs(valid(map[string]any{"sub": sub}))), true); got != sdk.Continue {
			t.Fatalf("%s: action %v, local response %+v", sub, got, s.LocalResponse())
		}
		if v := headerOf(s.RequestHeaders(), "x-user"); v != sub {
			t.Errorf("x-user = %q, want %q", v, sub)
		}
		s.Finish()
	}
}

func bigOne() *big.Int { return big.NewInt(1) }

// TestJWTCache checks that a token verified once is remembered but still
// has its times checked on every use, and that the cache stays bounded.
func TestJWTCache(t *testing.T) {
	h := sdktest.NewHost(t)
	h.SetNow(now)
	p, err := h.NewPlugin(newPlugin, jsonString(map[string]any{
		"keys":    []map[string]any{{"secret": secret}},
		"forward": []map[string]any{{"claim": "sub", "header": "x-user"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	send := func(tok string) *sdktest.Stream {
		s := p.NewStream()
		s.SendRequestHeaders(sdktest.Headers("authorization", "Bearer "+tok), true)
		s.Finish()
		return s
	}
	tok := hs(valid(map[string]any{"exp": now.Add(time.Minute).Unix()}))
	for i := range 2 {
		s := send(tok)
		if s.LocalResponse() != nil || headerOf(s.RequestHeaders(), "x-user") != "user-42" {
			t.Fatalf("use %d: local response %+v, headers %v", i, s.LocalResponse(), s.RequestHeaders())
		}
	}
	if tampered := send(swapPayload(tok, valid(map[string]any{"sub": "admin"}))); tampered.LocalResponse() == nil {
		t.Fatal("a token with the cached token's signature and another payload was accepted")
	}
	h.SetNow(now.Add(2 * time.Minute))
	s := send(tok)
	if lr := s.LocalResponse(); lr == nil || headerOf(lr.Headers, "www-authenticate") != `Bearer realm="wedge", error="invalid_token", error_description="token expired"` {
		t.Fatalf("a remembered token past its exp: %+v", lr)
	}

	c := newCache(3)
	for i := range 10 {
		c.put(strings.Repeat("t", i+1), &result{})
	}
	if len(c.m) != 3 {
		t.Errorf("cache of 3 holds %d entries", len(c.m))
	}
	c.put(strings.Repeat("x", maxCachedToken+1), &result{})
	if c.get(strings.Repeat("x", maxCachedToken+1)) != nil {
		t.Error("a token longer than maxCachedToken was cached")
	}
}

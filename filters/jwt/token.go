package main

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"strconv"
	"strings"
	"time"
)

// The algorithms a key can verify.
const (
	algHS256 = "HS256"
	algRS256 = "RS256"
)

// maxToken bounds the token read from a request: larger ones are refused
// before any decoding.
const maxToken = 16 << 10

// key is one verification key; its type fixes the one algorithm it
// accepts, so an RS256 public key can never be used as an HS256 secret.
type key struct {
	kid string
	alg string
	mac hash.Hash      // HS256: the HMAC, reset before each use
	rsa *rsa.PublicKey // RS256
}

// verifier checks tokens against the configured keys and claims. It reuses
// its buffers, so it serves one request at a time (as a module does).
type verifier struct {
	keys      []*key
	keyByKid  map[string]*key
	issuer    string
	audiences []string
	leeway    float64 // seconds
	needExp   bool
	forward   []string // the claims to forward, in the plugin's order

	cache cache // verified tokens

	// Scratch, reused: the token, a decoded segment, the signature.
	tok, buf, sig []byte
}

// result is what a verified token gives a request: its time claims, which
// are checked on every use, and the values of the claims to forward (one
// per verifier.forward; ok false: not forwarded).
type result struct {
	exp, nbf, iat numericDate
	values        []value
}

type value struct {
	s  string
	ok bool
}

// reason is why a token was refused. Its text goes into the
// error_description of the challenge, so it holds no quote or backslash.
type reason int

const (
	reasonMalformed reason = iota
	reasonTooLarge
	reasonAlgNone
	reasonAlgUnsupported
	reasonCrit
	reasonUnknownKid
	reasonAlgNotAllowed
	reasonSignature
	reasonClaims
	reasonNoExp
	reasonExpired
	reasonNotYetValid
	reasonIssuedInFuture
	reasonIssuer
	reasonAudience
	numReasons
)

var reasonText = [numReasons]string{
	reasonMalformed:      "malformed token",
	reasonTooLarge:       "token too large",
	reasonAlgNone:        "unsigned tokens (alg none) are not accepted",
	reasonAlgUnsupported: "unsupported signature algorithm",
	reasonCrit:           "unsupported critical header",
	reasonUnknownKid:     "unknown key id",
	reasonAlgNotAllowed:  "signature algorithm not allowed for the key",
	reasonSignature:      "invalid signature",
	reasonClaims:         "malformed claims",
	reasonNoExp:          "token has no expiry",
	reasonExpired:        "token expired",
	reasonNotYetValid:    "token not yet valid",
	reasonIssuedInFuture: "token issued in the future",
	reasonIssuer:         "wrong issuer",
	reasonAudience:       "wrong audience",
}

func (r reason) Error() string { return reasonText[r] }

// b64 is the JWS segment encoding: base64url without padding, strict (no
// stray bits), so a token has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// header is the JOSE header, the parts of it we read.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// claims are the registered claims the filter checks.
type claims struct {
	Iss string      `json:"iss"`
	Aud audience    `json:"aud"`
	Exp numericDate `json:"exp"`
	Nbf numericDate `json:"nbf"`
	Iat numericDate `json:"iat"`
}

// numericDate is a JSON number of seconds since the epoch (RFC 7519 §2).
type numericDate struct {
	set bool
	v   float64
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return errNotNumber
	}
	d.set, d.v = true, v
	return nil
}

var errNotNumber = errors.New("jwt: a numeric date must be a number")

// audience is the aud claim: one string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// verify checks tok's form, signature and claims at time now. The error,
// when there is one, is a reason. A token verified once is remembered: the
// next request with it only has its times checked.
func (v *verifier) verify(tok string, now time.Time) (*result, error) {
	if r := v.cache.get(tok); r != nil {
		if err := v.checkTimes(r, now); err != nil {
			v.cache.remove(tok)
			return nil, err
		}
		return r, nil
	}
	r, err := v.verifyFresh(tok)
	if err != nil {
		return nil, err
	}
	if err := v.checkTimes(r, now); err != nil {
		return nil, err
	}
	v.cache.put(tok, r)
	return r, nil
}

// verifyFresh checks everything but the times, and extracts the result.
func (v *verifier) verifyFresh(tok string) (*result, error) {
	if len(tok) > maxToken {
		return nil, reasonTooLarge
	}
	t := append(v.tok[:0], tok...)
	v.tok = t
	dot1 := bytes.IndexByte(t, '.')
	dot2 := bytes.LastIndexByte(t, '.')
	if dot1 <= 0 || dot2 <= dot1+1 || bytes.IndexByte(t[dot1+1:dot2], '.') >= 0 {
		return nil, reasonMalformed
	}
	var h header
	b, err := b64.AppendDecode(v.buf[:0], t[:dot1])
	v.buf = b[:0]
	if err != nil || json.Unmarshal(b, &h) != nil {
		return nil, reasonMalformed
	}
	switch {
	case strings.EqualFold(h.Alg, "none"):
		return nil, reasonAlgNone
	case h.Alg != algHS256 && h.Alg != algRS256:
		return nil, reasonAlgUnsupported
	case h.Crit != nil:
		// RFC 7515 section 4.1.11: extensions we do not understand must fail.
		return nil, reasonCrit
	}
	if err := v.checkSignature(t[:dot2], t[dot2+1:], h); err != nil {
		return nil, err
	}

	payload, err := b64.AppendDecode(v.buf[:0], t[dot1+1:dot2])
	v.buf = payload[:0]
	if err != nil {
		return nil, reasonMalformed
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, reasonClaims
	}
	if err := v.checkClaims(&c); err != nil {
		return nil, err
	}
	r := &result{exp: c.Exp, nbf: c.Nbf, iat: c.Iat}
	if len(v.forward) > 0 {
		var fields map[string]json.RawMessage
		if json.Unmarshal(payload, &fields) != nil {
			return nil, reasonClaims
		}
		r.values = make([]value, len(v.forward))
		for i, name := range v.forward {
			r.values[i].s, r.values[i].ok = headerValue(fields[name])
		}
	}
	return r, nil
}

// checkSignature verifies sigSeg over signed ("header.payload") with the
// key the token names, or with every key of its algorithm when it names
// none.
func (v *verifier) checkSignature(signed, sigSeg []byte, h header) error {
	sig, err := b64.AppendDecode(v.sig[:0], sigSeg)
	if err != nil {
		return reasonMalformed
	}
	v.sig = sig
	if h.Kid != "" {
		k, ok := v.keyByKid[h.Kid]
		switch {
		case !ok:
			return reasonUnknownKid
		case k.alg != h.Alg:
			return reasonAlgNotAllowed
		case k.verify(signed, sig):
			return nil
		}
		return reasonSignature
	}
	tried := false
	for _, k := range v.keys {
		if k.alg != h.Alg {
			continue
		}
		tried = true
		if k.verify(signed, sig) {
			return nil
		}
	}
	if !tried {
		return reasonAlgNotAllowed
	}
	return reasonSignature
}

// verify reports whether sig is k's signature of signed.
func (k *key) verify(signed, sig []byte) bool {
	var sum [sha256.Size]byte
	switch k.alg {
	case algHS256:
		k.mac.Reset()
		k.mac.Write(signed)
		return hmac.Equal(k.mac.Sum(sum[:0]), sig)
	case algRS256:
		sum = sha256.Sum256(signed)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, sum[:], sig) == nil
	}
	return false
}

// checkClaims checks what does not change with time: the presence of exp,
// the issuer and the audience.
func (v *verifier) checkClaims(c *claims) error {
	switch {
	case !c.Exp.set && v.needExp:
		return reasonNoExp
	case v.issuer != "" && c.Iss != v.issuer:
		return reasonIssuer
	}
	if len(v.audiences) == 0 {
		return nil
	}
	for _, a := range c.Aud {
		for _, want := range v.audiences {
			if a == want {
				return nil
			}
		}
	}
	return reasonAudience
}

// checkTimes checks exp, nbf and iat at now, with the leeway.
func (v *verifier) checkTimes(r *result, now time.Time) error {
	t := float64(now.UnixNano()) / 1e9
	switch {
	case r.exp.set && t >= r.exp.v+v.leeway:
		return reasonExpired
	case r.nbf.set && t+v.leeway < r.nbf.v:
		return reasonNotYetValid
	case r.iat.set && t+v.leeway < r.iat.v:
		return reasonIssuedInFuture
	}
	return nil
}

// headerValue turns a claim into a header value: a string as is, an array
// of strings joined by commas, anything else as its compact JSON text. A
// null claim, or one that would not be a valid header value, gives none.
func headerValue(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var out string
	switch raw[0] {
	case '"':
		if json.Unmarshal(raw, &out) != nil {
			return "", false
		}
	case '[':
		var list []string
		if json.Unmarshal(raw, &list) == nil {
			out = strings.Join(list, ",")
			break
		}
		fallthrough
	default:
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			return "", false
		}
		out = buf.String()
	}
	return out, validValue(out)
}

// validValue reports whether s is an RFC 9110 field value without
// surrounding whitespace: no control characters but tab.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return s == strings.TrimSpace(s)
}

// Command jwt is a Wedge filter that verifies JSON Web Tokens (RFC 7519)
// sent as OAuth 2.0 bearer tokens (RFC 6750), signed with HS256 or RS256,
// and forwards chosen claims to the upstream as request headers. See
// README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o jwt.wasm .
package main

import (
	"strings"

	"github.com/wedgeproxy/wedge/sdk"
)

// The factory is registered from init: a -buildmode=c-shared module runs
// its package initialisers but never main.
func init() { sdk.Register(newPlugin) }

func main() {}

// plugin is a configured jwt filter. It keeps no per-stream state, so it is
// also the filter of every stream.
type plugin struct {
	sdk.DefaultFilter
	v *verifier

	optional     bool
	forwardToken bool
	forward      []forward

	// The answers, built once: the WWW-Authenticate value for a missing
	// token, and one per reason a token is refused.
	challenge  string
	challenges [numReasons]string
	bodies     [numReasons][]byte
}

var missingBody = []byte("missing bearer token\n")

func newPlugin(cfg sdk.PluginConfig) (sdk.Plugin, error) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return c.compile()
}

// NewFilter returns the plugin itself: the filter is stateless.
func (p *plugin) NewFilter() sdk.Filter { return p }

// OnRequestHeaders checks the bearer token, and either lets the request go
// on with the claims forwarded or answers 401.
func (p *plugin) OnRequestHeaders(s *sdk.Stream, _ bool) sdk.Action {
	h := s.RequestHeaders()
	// The client must not be able to send what looks like a verified
	// claim: the forwarded headers are removed whatever happens next.
	for i := range p.forward {
		if err := h.Remove(p.forward[i].header); err != nil {
			sdk.Warnf("jwt: remove %s: %v", p.forward[i].header, err)
		}
	}
	auth, _ := h.Get("authorization")
	tok, ok := bearerToken(auth)
	if !ok {
		if p.optional {
			return sdk.Continue
		}
		return p.deny(s, p.challenge, missingBody)
	}
	res, err := p.v.verify(tok, sdk.Now())
	if err != nil {
		r := err.(reason)
		sdk.Debugf("jwt: token refused: %s", r.Error())
		return p.deny(s, p.challenges[r], p.bodies[r])
	}
	for i, v := range res.values {
		if !v.ok {
			continue
		}
		if err := h.Set(p.forward[i].header, v.s); err != nil {
			sdk.Warnf("jwt: set %s: %v", p.forward[i].header, err)
		}
	}
	if !p.forwardToken {
		if err := h.Remove("authorization"); err != nil {
			sdk.Warnf("jwt: remove authorization: %v", err)
		}
	}
	return sdk.Continue
}

// deny answers 401 with the challenge and a short plain-text body.
func (p *plugin) deny(s *sdk.Stream, challenge string, body []byte) sdk.Action {
	err := s.SendLocalResponse(401, body,
		sdk.Header{Name: "www-authenticate", Value: challenge},
		sdk.Header{Name: "content-type", Value: "text/plain; charset=utf-8"},
		sdk.Header{Name: "cache-control", Value: "no-store"})
	if err != nil {
		sdk.Errorf("jwt: send 401: %v", err)
	}
	return sdk.Pause
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// value (RFC 6750 §2.1; the scheme is case-insensitive). Another scheme,
// or no token, is no bearer token.
func bearerToken(auth string) (string, bool) {
	const scheme = "bearer"
	if len(auth) <= len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) || auth[len(scheme)] != ' ' {
		return "", false
	}
	tok := strings.Trim(auth[len(scheme):], " \t")
	return tok, tok != ""
}

// Command ratelimit is a Wedge filter that limits requests with a token
// bucket per client IP or per value of a request header. Buckets live in
// the host's shared data, so every instance of the plugin on a node
// counts against the same buckets. See README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ratelimit.wasm .
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"

	"github.com/wedgeproxy/wedge/sdk"
)

// The factory is registered from init: a -buildmode=c-shared module runs
// its package initialisers but never main.
func init() { sdk.Register(newPlugin) }

func main() {}

// casAttempts bounds the read-modify-write rounds on a bucket that other
// instances keep changing under us.
const casAttempts = 8

// maxKeyValue is the longest key kept as is; longer header values are
// replaced by their SHA-256, so a client cannot store large keys.
const maxKeyValue = 128

// plugin is a configured ratelimit filter.
type plugin struct {
	sdk.DefaultFilter
	lim             limiter
	status          int
	responseHeaders bool
	fromHeader      bool
	header          string
	missing         int

	prefix      string // of every shared data key: "ratelimit\0<bucket>\0"
	limit       string // X-RateLimit-Limit
	missingBody []byte

	// Scratch, reused (the module runs one callback at a time).
	keyBuf, stateBuf []byte
}

func newPlugin(cfg sdk.PluginConfig) (sdk.Plugin, error) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return c.compile()
}

// NewFilter returns the plugin itself when no per-stream state is needed,
// else a filter that carries the request's count to its response.
func (p *plugin) NewFilter() sdk.Filter {
	if p.responseHeaders {
		return &stream{p: p}
	}
	return p
}

// OnRequestHeaders takes a token from the request's bucket, or answers
// with the configured status.
func (p *plugin) OnRequestHeaders(s *sdk.Stream, _ bool) sdk.Action {
	a, _, _ := p.limitRequest(s)
	return a
}

// stream is the filter of a stream when allowed responses carry the
// X-RateLimit headers.
type stream struct {
	sdk.DefaultFilter
	p         *plugin
	limited   bool // the request was counted and allowed
	remaining int64
}

func (f *stream) OnRequestHeaders(s *sdk.Stream, _ bool) sdk.Action {
	a, limited, remaining := f.p.limitRequest(s)
	f.limited = limited && a == sdk.Continue
	f.remaining = remaining
	return a
}

func (f *stream) OnResponseHeaders(s *sdk.Stream, _ bool) sdk.Action {
	if !f.limited {
		return sdk.Continue
	}
	h := s.ResponseHeaders()
	if err := h.Set("x-ratelimit-limit", f.p.limit); err != nil {
		sdk.Warnf("ratelimit: set x-ratelimit-limit: %v", err)
	}
	if err := h.Set("x-ratelimit-remaining", strconv.FormatInt(f.remaining, 10)); err != nil {
		sdk.Warnf("ratelimit: set x-ratelimit-remaining: %v", err)
	}
	return sdk.Continue
}

// limitRequest decides the request: Continue or Pause (answered locally).
// limited reports whether it was counted, remaining the tokens left.
func (p *plugin) limitRequest(s *sdk.Stream) (a sdk.Action, limited bool, remaining int64) {
	key, ok := p.key(s)
	if !ok {
		if p.missing == missingDeny {
			p.send(s, 400, p.missingBody)
			return sdk.Pause, false, 0
		}
		return sdk.Continue, false, 0
	}
	d, err := p.take(key)
	if err != nil {
		// The store failed us: let the request through rather than
		// refuse traffic the limit was not meant to stop.
		sdk.Warnf("ratelimit: bucket %q: %v; request allowed", key[len(p.prefix):], err)
		return sdk.Continue, false, 0
	}
	if d.allowed {
		return sdk.Continue, true, d.remaining
	}
	err = s.SendLocalResponse(p.status, overBody,
		sdk.Header{Name: "retry-after", Value: strconv.FormatInt(retryAfterSeconds(d.retry), 10)},
		sdk.Header{Name: "x-ratelimit-limit", Value: p.limit},
		sdk.Header{Name: "x-ratelimit-remaining", Value: "0"},
		sdk.Header{Name: "content-type", Value: "text/plain; charset=utf-8"})
	if err != nil {
		sdk.Errorf("ratelimit: send %d: %v", p.status, err)
	}
	return sdk.Pause, true, 0
}

var overBody = []byte("rate limit exceeded\n")

func (p *plugin) send(s *sdk.Stream, status int, body []byte) {
	if err := s.SendLocalResponse(status, body, sdk.Header{Name: "content-type", Value: "text/plain; charset=utf-8"}); err != nil {
		sdk.Errorf("ratelimit: send %d: %v", status, err)
	}
}

var errContended = errors.New("the bucket kept changing under us")

// setShared is sdk.SetSharedData; tests interpose on it to play another
// instance that writes between our read and our write.
var setShared = sdk.SetSharedData

// take runs the compare-and-swap loop on the bucket key: read the state,
// decide, and store the new state only if nobody stored since.
func (p *plugin) take(key string) (decision, error) {
	for range casAttempts {
		val, cas, err := sdk.GetSharedData(key)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			// A new bucket. Proxy-Wasm has no create-if-absent, so two
			// instances creating one at once may each count a request
			// against a full bucket: one token of slack, once.
			cas = 0
		case err != nil:
			return decision{}, err
		}
		d := p.lim.take(decodeState(val), sdk.Now().UnixNano())
		if !d.allowed {
			return d, nil
		}
		p.stateBuf = encodeState(p.stateBuf[:0], d.tat)
		err = setShared(key, p.stateBuf, cas)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, sdk.ErrCASMismatch) {
			return decision{}, err
		}
	}
	return decision{}, errContended
}

// key returns the shared data key of the request's bucket, and false when
// the request has none (no header and missing is not "ip", or no client
// address).
func (p *plugin) key(s *sdk.Stream) (string, bool) {
	b := append(p.keyBuf[:0], p.prefix...)
	if p.fromHeader {
		v, ok := s.RequestHeaders().Get(p.header)
		if ok && v != "" {
			b = append(b, "h\x00"...)
			if len(v) > maxKeyValue {
				sum := sha256.Sum256([]byte(v))
				b = append(b, "sha256:"...)
				b = hex.AppendEncode(b, sum[:])
			} else {
				b = append(b, v...)
			}
			p.keyBuf = b
			return string(b), true
		}
		if p.missing != missingIP {
			return "", false
		}
	}
	ip, ok := clientIP()
	if !ok {
		sdk.Debugf("ratelimit: no client address (property source.address); request not limited")
		return "", false
	}
	b = append(b, "ip\x00"...)
	b = ip.AppendTo(b)
	p.keyBuf = b
	return string(b), true
}

// clientIP returns the client address of the current stream (property
// source.address, "ip:port" or a bare IP), without its port, IPv4-mapped
// IPv6 addresses as IPv4.
func clientIP() (netip.Addr, bool) {
	addr, err := sdk.PropertyString("source", "address")
	if err != nil || addr == "" {
		return netip.Addr{}, false
	}
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap(), true
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

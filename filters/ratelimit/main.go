// Command ratelimit is a Wedge filter that limits requests with a token
// bucket per client IP or per value of a request header. Buckets live in
// the host's shared data, so every instance of the plugin on a node
// counts against the same buckets. See README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ratelimit.wasm .
package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
)

// The factory is registered from init: a -buildmode=c-shared module runs
// its package initialisers but never main.
func init() { sdk.Register(newPlugin) }

func main() {}

// casAttempts bounds the read-modify-write rounds on a bucket that other
// instances keep changing under us.
const casAttempts = 8

// warnInterval spaces the filter's warnings (store full, contention):
// one per instance per interval, the next one saying how many were left
// out, so a full store does not flood the node's log.
const warnInterval = int64(time.Minute)

// plugin is a configured ratelimit filter.
type plugin struct {
	sdk.DefaultFilter
	lim             limiter
	status          int
	responseHeaders bool
	fromHeader      bool
	header          string
	missing         int
	denyFull        bool // on_full: deny

	prefix      string // of every shared data key: "ratelimit\0<bucket>\0"
	limit       string // X-RateLimit-Limit
	missingBody []byte

	// Warnings left out since the last one logged, and when the next
	// may be (Unix nanoseconds).
	warnSkipped int
	warnNext    int64

	// Scratch, reused (the module runs one callback at a time).
	matBuf, stateBuf []byte
	entries          []entry
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
	d, slot, err := p.take(key)
	if err != nil {
		now := sdk.Now().UnixNano()
		if errors.Is(err, sdk.ErrInternalFailure) {
			// The host's shared data is full (its bound per tenant):
			// on_full says what the request gets.
			if p.denyFull {
				p.warnf(now, "ratelimit: the host's shared data refused bucket slot %d (full): %v; request denied (on_full: deny)", slot, err)
				err = s.SendLocalResponse(p.status, fullBody,
					sdk.Header{Name: "retry-after", Value: "1"},
					sdk.Header{Name: "content-type", Value: "text/plain; charset=utf-8"})
				if err != nil {
					sdk.Errorf("ratelimit: send %d: %v", p.status, err)
				}
				return sdk.Pause, false, 0
			}
			p.warnf(now, "ratelimit: the host's shared data refused bucket slot %d (full): %v; request allowed (on_full: allow)", slot, err)
			return sdk.Continue, false, 0
		}
		// The store failed us otherwise: let the request through
		// rather than refuse traffic the limit was not meant to stop.
		p.warnf(now, "ratelimit: bucket slot %d: %v; request allowed", slot, err)
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

var (
	overBody = []byte("rate limit exceeded\n")
	fullBody = []byte("rate limiter unavailable\n")
)

// warnf logs a warning unless one was logged less than warnInterval ago;
// the next one logged counts those left out.
func (p *plugin) warnf(now int64, format string, args ...any) {
	if now < p.warnNext {
		p.warnSkipped++
		return
	}
	msg := fmt.Sprintf(format, args...)
	if p.warnSkipped > 0 {
		msg += fmt.Sprintf(" (%d more ratelimit warnings were not logged since the last one)", p.warnSkipped)
	}
	sdk.Warnf("%s", msg)
	p.warnNext = now + warnInterval
	p.warnSkipped = 0
}

func (p *plugin) send(s *sdk.Stream, status int, body []byte) {
	if err := s.SendLocalResponse(status, body, sdk.Header{Name: "content-type", Value: "text/plain; charset=utf-8"}); err != nil {
		sdk.Errorf("ratelimit: send %d: %v", status, err)
	}
}

var errContended = errors.New("the bucket kept changing under us")

// setShared is sdk.SetSharedData; tests interpose on it to play another
// instance that writes between our read and our write.
var setShared = sdk.SetSharedData

// take runs the compare-and-swap loop on the bucket's slot: read the
// slot, decide, and store the new slot only if nobody stored since. key
// is what the bucket belongs to; slot is the slot's number, for logs.
func (p *plugin) take(key []byte) (d decision, slot int, err error) {
	slotKey, id, slot := locate(p.prefix, key)
	for range casAttempts {
		val, cas, err := sdk.GetSharedData(slotKey)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			// A new slot. Proxy-Wasm has no create-if-absent, so two
			// instances creating one at once may each count a request
			// against a full bucket: one token of slack, once.
			cas, val = 0, nil
		case err != nil:
			return decision{}, slot, err
		}
		now := sdk.Now().UnixNano()
		p.entries = decodeSlot(p.entries[:0], val)
		d := p.lim.take(stateOf(p.entries, id), now)
		if !d.allowed {
			return d, slot, nil
		}
		es, evicted := update(p.entries, id, d.tat, now)
		p.entries = es
		p.stateBuf = encodeSlot(p.stateBuf[:0], es)
		err = setShared(slotKey, p.stateBuf, cas)
		if err == nil {
			if evicted {
				p.warnf(now, "ratelimit: bucket slot %d holds %d buckets in use; the one closest to full was forgotten to make room", slot, slotEntries)
			}
			return d, slot, nil
		}
		if !errors.Is(err, sdk.ErrCASMismatch) {
			return decision{}, slot, err
		}
	}
	return decision{}, slot, errContended
}

// key returns what the request's bucket belongs to ("h\x00<value>" or
// "ip\x00<address>"), and false when the request has none (no header and
// missing is not "ip", or no client address). The client address is the
// property source.address, never a header: X-Forwarded-For is the host's
// to trust or not (Wedge derives source.address from it only for peers
// that are the listener's trusted proxies).
func (p *plugin) key(s *sdk.Stream) ([]byte, bool) {
	b := p.matBuf[:0]
	if p.fromHeader {
		v, ok := s.RequestHeaders().Get(p.header)
		if ok && v != "" {
			b = append(b, "h\x00"...)
			b = append(b, v...)
			p.matBuf = b
			return b, true
		}
		if p.missing != missingIP {
			return nil, false
		}
	}
	ip, ok := clientIP()
	if !ok {
		sdk.Debugf("ratelimit: no client address (property source.address); request not limited")
		return nil, false
	}
	b = append(b, "ip\x00"...)
	b = ip.AppendTo(b)
	p.matBuf = b
	return b, true
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

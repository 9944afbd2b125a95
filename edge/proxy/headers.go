package proxy

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
	"time"

	"github.com/wedgeproxy/wedge/edge/internal/httpx"
)

// isHopByHop reports whether the canonical header key k names a hop-by-hop
// header (RFC 9110 §7.6.1), which a proxy never forwards.
func isHopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// isForwarding reports whether k is a header that records the path a
// request took, which only a trusted proxy may set.
func isForwarding(k string) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Real-Ip":
		return true
	}
	return false
}

// hopByHop lists the hop-by-hop headers (RFC 9110 §7.6.1), canonical.
// isHopByHop is the fast form of the same list.
var hopByHop = [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// removeConnectionTokens deletes from h the headers named in the Connection
// header of src (RFC 9110 §7.6.1).
func removeConnectionTokens(h http.Header, src http.Header) {
	httpx.EachToken(src["Connection"], func(tok string) {
		for _, k := range hopByHop {
			if strings.EqualFold(tok, k) {
				return // already never forwarded
			}
		}
		if !strings.EqualFold(tok, "close") {
			delete(h, textproto.CanonicalMIMEHeaderKey(tok))
		}
	})
}

// connectionHas reports whether a Connection header lists token.
func connectionHas(h http.Header, token string) bool {
	return httpx.HasToken(h["Connection"], token)
}

// upgradeIsH2C reports whether an Upgrade header offers h2c, which is
// never passed upstream: an origin that accepted it would give the client
// an HTTP/2 tunnel past the edge's routing.
func upgradeIsH2C(vals []string) bool {
	for _, v := range vals {
		if strings.Contains(strings.ToLower(v), "h2c") {
			return true
		}
	}
	return false
}

// Shared header values. Nothing writes into these slices: headers are
// replaced, never edited in place, and append on a full slice copies.
var (
	viaByProto = map[int][]string{1: {"1.1 wedge"}, 2: {"2.0 wedge"}, 3: {"3.0 wedge"}}
	viaHTTP11  = []string{"1.1 wedge"}
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
	teTrailers = []string{"trailers"}
)

func via(r *http.Request) []string {
	if v, ok := viaByProto[r.ProtoMajor]; ok {
		return v
	}
	return viaHTTP11
}

// outboundHeader builds the header of the request sent upstream: the
// client's end-to-end headers, then the forwarding headers Wedge vouches
// for. Values are shared with the inbound request, never modified.
func outboundHeader(r *http.Request, l *Listener) http.Header {
	in := r.Header
	out := make(http.Header, len(in)+4)
	trusted := l.trusts(r.RemoteAddr)
	for k, vv := range in {
		if isHopByHop(k) || (!trusted && isForwarding(k)) || k == "Via" {
			continue
		}
		out[k] = vv
	}
	if in["Connection"] != nil {
		removeConnectionTokens(out, in)
		if up := in["Upgrade"]; up != nil && connectionHas(in, "upgrade") && !upgradeIsH2C(up) {
			out["Connection"] = []string{"Upgrade"}
			out["Upgrade"] = up
		}
	}
	for _, te := range in["Te"] {
		if strings.Contains(strings.ToLower(te), "trailers") {
			out["Te"] = teTrailers
			break
		}
	}
	ip := remoteIP(r.RemoteAddr)
	if prior := in["X-Forwarded-For"]; trusted && len(prior) > 0 {
		out["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + ip}
	} else {
		out["X-Forwarded-For"] = []string{ip}
	}
	if !trusted || out["X-Forwarded-Proto"] == nil {
		if l.TLS {
			out["X-Forwarded-Proto"] = protoHTTPS
		} else {
			out["X-Forwarded-Proto"] = protoHTTP
		}
	}
	if !trusted || out["X-Forwarded-Host"] == nil {
		out["X-Forwarded-Host"] = []string{r.Host}
	}
	if prior := in["Via"]; len(prior) > 0 {
		out["Via"] = append(prior[:len(prior):len(prior)], via(r)[0])
	} else {
		out["Via"] = via(r)
	}
	return out
}

// copyResponseHeader copies the upstream's end-to-end response headers into
// dst, sharing their values, and appends Wedge to Via.
func copyResponseHeader(dst, src http.Header) {
	for k, vv := range src {
		if isHopByHop(k) || k == "Alt-Svc" {
			// The origin's Alt-Svc names the origin's services, not
			// the edge's.
			continue
		}
		dst[k] = vv
	}
	if src["Connection"] != nil {
		removeConnectionTokens(dst, src)
	}
	if prior := src["Via"]; len(prior) > 0 {
		dst["Via"] = append(prior[:len(prior):len(prior)], viaHTTP11[0])
	} else {
		dst["Via"] = viaHTTP11
	}
}

// Listener is what the proxy knows of the listener a request came in on.
type Listener struct {
	// Name of the listener, for logs.
	Name string
	// TLS is true for a TLS listener (X-Forwarded-Proto: https).
	TLS bool
	// Trusted are the peers whose X-Forwarded-* headers are kept and
	// extended instead of replaced.
	Trusted []netip.Prefix
	// BodyIdle cuts off a client that moves no byte of a request or
	// response body for this long; 0 = never.
	BodyIdle time.Duration
	// TunnelIdle closes an upgraded connection idle both ways for this
	// long; 0 = never.
	TunnelIdle time.Duration

	log *slog.Logger // the server's, set by Handler
}

// trusts reports whether the client address remote ("ip:port") is a
// trusted proxy.
func (l *Listener) trusts(remote string) bool {
	if len(l.Trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	return l.trustsAddr(ap.Addr())
}

// trustsAddr reports whether a is the address of a trusted proxy.
func (l *Listener) trustsAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteIP returns the IP part of "ip:port" or "[ip]:port" without
// allocating.
func remoteIP(remote string) string {
	i := strings.LastIndexByte(remote, ':')
	if i < 0 {
		return remote
	}
	h := remote[:i]
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return h
}

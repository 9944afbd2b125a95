package proxy

import (
	"encoding/binary"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/wedgeproxy/wedge/edge/route"
	"github.com/wedgeproxy/wedge/runtime"
)

// requestMap is the request's Proxy-Wasm header map, over the outbound
// request (what goes upstream): a filter edits that, never the served
// request. Pseudo-headers map to the method, path, host and scheme.
type requestMap struct {
	r   *http.Request // the outbound request
	tls bool
	// dirty is set by an edit that can change the route (the method,
	// path, authority, or a header some route matches on): the route is
	// chosen again once the request-header filters ran.
	dirty bool
	// table is the routing table of the request's snapshot; nil: no
	// header edit changes the route.
	table *route.Table[*routeEntry]
}

// touch notes an edit of header ck.
func (m *requestMap) touch(ck string) {
	if m.table != nil && m.table.MatchesHeader(ck) {
		m.dirty = true
	}
}

func (m *requestMap) pseudo(key string) (string, bool) {
	switch key {
	case ":method":
		return m.r.Method, true
	case ":path":
		return m.r.URL.RequestURI(), true
	case ":authority":
		return m.r.Host, true
	case ":scheme":
		if m.tls {
			return "https", true
		}
		return "http", true
	}
	return "", false
}

// Len counts the pairs without building them.
func (m *requestMap) Len() int { return 4 + headerLen(m.r.Header) }

func (m *requestMap) Get(key string) (string, bool) {
	if strings.HasPrefix(key, ":") {
		return m.pseudo(key)
	}
	return headerGet(m.r.Header, key)
}

func (m *requestMap) Range(fn func(k, v string) bool) {
	for _, k := range [...]string{":authority", ":path", ":method", ":scheme"} {
		v, _ := m.pseudo(k)
		if !fn(k, v) {
			return
		}
	}
	headerRange(m.r.Header, fn)
}

func (m *requestMap) Add(key, value string) {
	if strings.HasPrefix(key, ":") {
		m.Set(key, value)
		return
	}
	// Values are shared with the served request: append past a full
	// slice, never into its spare capacity.
	ck := textproto.CanonicalMIMEHeaderKey(key)
	m.touch(ck)
	vv := m.r.Header[ck]
	m.r.Header[ck] = append(vv[:len(vv):len(vv)], value)
}

func (m *requestMap) Set(key, value string) {
	switch key {
	case ":method":
		// Checked, with every other field, by the upstream writer: a
		// method that is not a token fails the request there.
		m.r.Method = value
		m.dirty = true
	case ":path":
		if u, err := m.r.URL.Parse(value); err == nil && strings.HasPrefix(value, "/") {
			m.r.URL.Path, m.r.URL.RawPath, m.r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
			m.dirty = true
		}
	case ":authority":
		m.r.Host = value
		m.dirty = true
	case ":scheme":
	default:
		ck := textproto.CanonicalMIMEHeaderKey(key)
		m.r.Header[ck] = []string{value}
		m.touch(ck)
	}
}

func (m *requestMap) Del(key string) {
	if !strings.HasPrefix(key, ":") {
		ck := textproto.CanonicalMIMEHeaderKey(key)
		delete(m.r.Header, ck)
		m.touch(ck)
	}
}

// responseMap is the response's header map, over the writer's headers
// before they are sent, with ":status".
type responseMap struct {
	h      http.Header
	status *int
}

// Len counts the pairs without building them.
func (m *responseMap) Len() int { return 1 + headerLen(m.h) }

func headerLen(h http.Header) int {
	n := 0
	for _, vv := range h {
		n += len(vv)
	}
	return n
}

func (m *responseMap) Get(key string) (string, bool) {
	if key == ":status" {
		return strconv.Itoa(*m.status), true
	}
	return headerGet(m.h, key)
}

func (m *responseMap) Range(fn func(k, v string) bool) {
	if !fn(":status", strconv.Itoa(*m.status)) {
		return
	}
	headerRange(m.h, fn)
}

func (m *responseMap) Add(key, value string) {
	if key == ":status" {
		m.Set(key, value)
		return
	}
	m.h.Add(key, value)
}

func (m *responseMap) Set(key, value string) {
	if key == ":status" {
		if n, err := strconv.Atoi(value); err == nil && n >= 100 && n <= 599 {
			*m.status = n
		}
		return
	}
	m.h.Set(key, value)
}

func (m *responseMap) Del(key string) {
	if key != ":status" {
		m.h.Del(key)
	}
}

func headerGet(h http.Header, key string) (string, bool) {
	vv := h[textproto.CanonicalMIMEHeaderKey(key)]
	if len(vv) == 0 {
		return "", false
	}
	return vv[0], true
}

// headerRange lists h with lower-case names, as HTTP/2 and Proxy-Wasm
// spell them.
func headerRange(h http.Header, fn func(k, v string) bool) {
	for k, vv := range h {
		lk := lower(k)
		for _, v := range vv {
			if !fn(lk, v) {
				return
			}
		}
	}
}

// lower lower-cases an ASCII header name, without allocating when it is
// lower-case already.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// streamHost is what one request's streams see: header maps and Envoy's
// attribute names as properties.
type streamHost struct {
	req    requestMap    // over the outbound request
	served *http.Request // the request as the client sent it
	resp   *responseMap
	reqTr  *trailerMap // set once the request's trailers arrived
	respTr *trailerMap // set once the response's trailers are known
	l      *Listener
	snap   *Snapshot // the snapshot the request is served on
	route  *routeEntry
}

func (h *streamHost) HeaderMap(k runtime.HeaderKind) runtime.HeaderMap {
	switch k {
	case runtime.RequestHeaders:
		return &h.req
	case runtime.ResponseHeaders:
		if h.resp != nil {
			return h.resp
		}
	case runtime.RequestTrailers:
		if h.reqTr != nil {
			return h.reqTr
		}
	case runtime.ResponseTrailers:
		if h.respTr != nil {
			return h.respTr
		}
	}
	return nil
}

// Property answers Envoy's attributes (strings as bytes, numbers as 8-byte
// little-endian integers, as Envoy serialises them).
func (h *streamHost) Property(path []string) ([]byte, bool) {
	r := h.req.r // request attributes are the outbound request's, as edited so far
	if len(path) == 0 {
		return nil, false
	}
	str := func(s string) ([]byte, bool) { return []byte(s), true }
	num := func(n int64) ([]byte, bool) { return binary.LittleEndian.AppendUint64(nil, uint64(n)), true }
	switch path[0] {
	case "request":
		if len(path) == 3 && path[1] == "headers" {
			v, ok := headerGet(r.Header, path[2])
			return []byte(v), ok
		}
		if len(path) != 2 {
			return nil, false
		}
		switch path[1] {
		case "path":
			return str(r.URL.RequestURI())
		case "url_path":
			return str(r.URL.Path)
		case "host":
			return str(r.Host)
		case "method":
			return str(r.Method)
		case "scheme":
			v, _ := h.req.pseudo(":scheme")
			return str(v)
		case "query":
			return str(r.URL.RawQuery)
		case "protocol":
			return str(protocolName(h.served))
		case "useragent":
			return str(r.UserAgent())
		case "referer":
			return str(r.Referer())
		case "id":
			return str(r.Header.Get("X-Request-Id"))
		case "size":
			return num(h.served.ContentLength)
		}
	case "source", "destination":
		var addr string
		if path[0] == "destination" {
			if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				addr = la.String()
			}
		} else {
			addr = clientAddr(h.served, h.l)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || len(path) != 2 {
			return nil, false
		}
		switch path[1] {
		case "address":
			return str(addr)
		case "port":
			n, _ := strconv.Atoi(port)
			return num(int64(n))
		case "ip":
			return str(host)
		}
	case "connection":
		if len(path) == 2 && path[1] == "tls_version" && h.served.TLS != nil {
			return str(tlsVersion(h.served.TLS.Version))
		}
	case "response":
		if h.resp == nil || len(path) < 2 {
			return nil, false
		}
		switch {
		case path[1] == "code":
			return num(int64(*h.resp.status))
		case path[1] == "headers" && len(path) == 3:
			v, ok := headerGet(h.resp.h, path[2])
			return []byte(v), ok
		}
	case "route_metadata":
		// Envoy's route metadata: the upstream Go SDK's properties example
		// reads route_metadata.filter_metadata.<filter>.<key>.
		return h.route.meta.Lookup(path[1:])
	case "route_name":
		return str(h.route.name)
	case "cluster_name":
		return str(h.route.pool)
	case "tenant":
		return str(h.route.tenant)
	}
	return nil, false
}

// protocolName is the request's protocol as Envoy's request.protocol
// attribute spells it.
func protocolName(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "HTTP/2"
	case 3:
		return "HTTP/3"
	case 1:
		if r.ProtoMinor == 0 {
			return "HTTP/1.0"
		}
		return "HTTP/1.1"
	}
	return r.Proto
}

// clientAddr is the client's address as source.address reports it: the
// peer's "ip:port", or, when the peer is one of the listener's trusted
// proxies, the nearest address in X-Forwarded-For that is not ("ip:0":
// the port is not known). A client that is not trusted cannot name its
// own address.
func clientAddr(r *http.Request, l *Listener) string {
	xff := r.Header["X-Forwarded-For"]
	if len(xff) == 0 || !l.trusts(r.RemoteAddr) {
		return r.RemoteAddr
	}
	var first string
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for v != "" {
			j := strings.LastIndexByte(v, ',')
			part := strings.TrimSpace(v[j+1:])
			v = v[:max(j, 0)]
			a, err := netip.ParseAddr(part)
			if err != nil {
				// Not an address: nothing left of it can be trusted.
				return r.RemoteAddr
			}
			first = part
			if !l.trustsAddr(a) {
				return net.JoinHostPort(a.String(), "0")
			}
			if j < 0 {
				break
			}
		}
	}
	if first == "" {
		return r.RemoteAddr
	}
	return net.JoinHostPort(first, "0")
}

func tlsVersion(v uint16) string {
	switch v {
	case 0x0304:
		return "TLSv1.3"
	case 0x0303:
		return "TLSv1.2"
	}
	return "TLSv1.x"
}

// trailerMap is a message's trailers as a Proxy-Wasm header map. For a
// response, h is the writer's header map: trailers declared in its
// "Trailer" header are kept under their names, and ones a filter adds go
// under http.TrailerPrefix, which net/http sends as trailers too.
type trailerMap struct {
	h        http.Header
	response bool
}

func (m *trailerMap) names() []string {
	if !m.response {
		return nil
	}
	var out []string
	for _, v := range m.h["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				out = append(out, textproto.CanonicalMIMEHeaderKey(k))
			}
		}
	}
	return out
}

func (m *trailerMap) Get(key string) (string, bool) {
	if m.response {
		if v, ok := headerGet(m.h, http.TrailerPrefix+key); ok {
			return v, true
		}
	}
	return headerGet(m.h, key)
}

func (m *trailerMap) Range(fn func(k, v string) bool) {
	if !m.response {
		headerRange(m.h, fn)
		return
	}
	for _, k := range m.names() {
		for _, v := range m.h[k] {
			if !fn(lower(k), v) {
				return
			}
		}
	}
	for k, vv := range m.h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vv {
				if !fn(lower(name), v) {
					return
				}
			}
		}
	}
}

func (m *trailerMap) key(key string) string {
	ck := textproto.CanonicalMIMEHeaderKey(key)
	if !m.response {
		return ck
	}
	for _, k := range m.names() {
		if k == ck {
			return ck
		}
	}
	return http.TrailerPrefix + ck
}

func (m *trailerMap) Add(key, value string) { k := m.key(key); m.h[k] = append(m.h[k], value) }

func (m *trailerMap) Set(key, value string) { m.h[m.key(key)] = []string{value} }

func (m *trailerMap) Del(key string) {
	ck := textproto.CanonicalMIMEHeaderKey(key)
	delete(m.h, ck)
	delete(m.h, http.TrailerPrefix+ck)
}

package cache

import (
	"hash/maphash"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// Query modes of a key; part of the hash, so that routes with different
// query policies never share entries.
const (
	queryExact  byte = 0
	querySorted byte = 1
	queryNone   byte = 2
)

// maxSortedParams is how many query parameters are sorted without
// allocating their list; longer queries sort through a heap slice.
const maxSortedParams = 32

// reqKey is the primary key of a request, as views of its strings: it
// does not allocate to build.
type reqKey struct {
	tenant string
	part   string // the route's partition (Policy.Partition)
	scheme string
	host   string // as received; compared and hashed lower-cased
	path   string
	query  string // raw; canonical (CanonicalQuery) when mode is querySorted
	mode   byte
	hash   uint64 // primary hash
}

// newKey fills k for the target of r under query mode mode.
func (c *Cache) newKey(k *reqKey, tenant, part string, r *http.Request, mode byte) {
	k.tenant = tenant
	k.part = part
	k.scheme = "http"
	if r.TLS != nil {
		k.scheme = "https"
	}
	k.host = keyHost(k.scheme, r.Host)
	k.path = r.URL.EscapedPath()
	k.query = r.URL.RawQuery
	k.mode = mode
	switch mode {
	case queryNone:
		k.query = ""
	case querySorted:
		// Computed once per request: the canonical form is kept in the
		// request, so the forwarded request (and a second look) reuse it
		// at the cost of a scan.
		k.query = CanonicalQuery(k.query)
		r.URL.RawQuery = k.query
	}
	k.hash = c.primaryHash(k)
}

// keyHost is host as the cache keys it, matching routing (edge/route's
// normalizeHost): no trailing dot, and without the scheme's default port
// (":80" for http, ":443" for https, or an empty port). Other ports stay:
// the origin sees them. Case is folded where the key is hashed and
// compared. It allocates only for a trailing dot before a kept port.
func keyHost(scheme, host string) string {
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		name, port = host[:i], host[i+1:]
		if port == "" || port == "80" && scheme == "http" || port == "443" && scheme == "https" {
			port = ""
			host = name
		}
	}
	if !strings.HasSuffix(name, ".") {
		return host
	}
	name = name[:len(name)-1]
	if port == "" {
		return name
	}
	return name + ":" + port
}

// primaryHash hashes the key's parts field by field, each followed by a
// separator byte that cannot occur in it.
func (c *Cache) primaryHash(k *reqKey) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(k.tenant)
	h.WriteByte(0)
	h.WriteString(k.part)
	h.WriteByte(0)
	h.WriteString("GET")
	h.WriteByte(0)
	h.WriteString(k.scheme)
	h.WriteByte(0)
	writeLower(&h, k.host)
	h.WriteByte(0)
	h.WriteString(k.path)
	h.WriteByte(0)
	h.WriteByte(k.mode)
	h.WriteString(k.query)
	return h.Sum64()
}

func writeLower(h *maphash.Hash, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			h.WriteString(s[:i])
			for ; i < len(s); i++ {
				c := s[i]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				h.WriteByte(c)
			}
			return
		}
	}
	h.WriteString(s)
}

// CanonicalQuery returns the raw query q with its empty parameters
// dropped and the others sorted in byte order: the form a route with
// Policy.SortQuery keys on, and so the one to send upstream. A query
// already in that form is returned as is, after one scan and no
// allocation, so the key, the match and the forwarded request share one
// sort. Sorting n parameters costs O(n log n) comparisons (a 60 KB query
// of 15,000 parameters: see BenchmarkCanonicalQuery).
func CanonicalQuery(q string) string {
	if isCanonicalQuery(q) {
		return q
	}
	var arr [maxSortedParams]string
	ps := arr[:0]
	size := len(q)
	for len(q) > 0 {
		var p string
		p, q, _ = strings.Cut(q, "&")
		if p != "" {
			ps = append(ps, p) // spills to the heap past maxSortedParams
		}
	}
	slices.Sort(ps)
	var b strings.Builder
	b.Grow(size)
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p)
	}
	return b.String()
}

// isCanonicalQuery reports whether q has no empty parameter and its
// parameters are in byte order, in one pass.
func isCanonicalQuery(q string) bool {
	prev, first := "", true
	for {
		p, rest, more := strings.Cut(q, "&")
		if p == "" {
			return q == "" && first // only the empty query has an empty part
		}
		if !first && p < prev {
			return false
		}
		prev, first, q = p, false, rest
		if !more {
			return true
		}
	}
}

// storedKey is the full key kept in an entry to verify a hash match.
type storedKey struct {
	tenant, part, scheme, host, path, query string // host lower-cased; query in its stored form
	mode                                    byte
}

func (k *reqKey) stored() storedKey {
	return storedKey{tenant: k.tenant, part: k.part, scheme: k.scheme, host: strings.ToLower(k.host), path: k.path, query: k.query, mode: k.mode}
}

// matches reports whether the stored key sk is k's, without allocating.
func (sk *storedKey) matches(k *reqKey) bool {
	if sk.mode != k.mode || sk.tenant != k.tenant || sk.part != k.part || sk.scheme != k.scheme || sk.path != k.path ||
		!strings.EqualFold(sk.host, k.host) {
		return false
	}
	return sk.query == k.query // a querySorted key's query is canonical
}

// maxVaryNames bounds the header names a stored response may vary on; a
// response naming more is not stored.
const maxVaryNames = 32

// varyNames parses the Vary lines of a response into canonical header
// names, sorted and without duplicates. star reports Vary: *. Past
// maxVaryNames+1 names it stops: the caller refuses such responses, and a
// hostile Vary costs no more than that.
func varyNames(lines []string) (names []string, star bool) {
	for _, l := range lines {
		for l != "" {
			var tok string
			tok, l, _ = strings.Cut(l, ",")
			tok = textproto.TrimString(tok)
			if tok == "" {
				continue
			}
			if tok == "*" {
				return nil, true
			}
			tok = textproto.CanonicalMIMEHeaderKey(tok)
			if !slices.Contains(names, tok) {
				names = append(names, tok)
				if len(names) > maxVaryNames {
					slices.Sort(names)
					return names, false
				}
			}
		}
	}
	slices.Sort(names)
	return names, false
}

// variantHash is the secondary key: the primary hash and the request's
// values of the header fields named by Vary, each line trimmed.
func (c *Cache) variantHash(primary uint64, names []string, h http.Header) uint64 {
	var m maphash.Hash
	m.SetSeed(c.seed)
	var b [8]byte
	for i := range b {
		b[i] = byte(primary >> (8 * i))
	}
	m.Write(b[:])
	for _, n := range names {
		m.WriteString(n)
		m.WriteByte(0)
		for _, v := range h[n] {
			m.WriteString(textproto.TrimString(v))
			m.WriteByte(0x1f)
		}
		m.WriteByte(0x1e)
	}
	return m.Sum64()
}

// varyValues is the stored form of the request's values for names: per
// name, the trimmed lines joined by 0x1f.
func varyValues(names []string, h http.Header) []string {
	out := make([]string, len(names))
	for i, n := range names {
		var b strings.Builder
		for j, v := range h[n] {
			if j > 0 {
				b.WriteByte(0x1f)
			}
			b.WriteString(textproto.TrimString(v))
		}
		out[i] = b.String()
	}
	return out
}

// varyMatches reports whether h carries the stored values vals for names,
// without allocating.
func varyMatches(names, vals []string, h http.Header) bool {
	if len(names) != len(vals) {
		return false
	}
	for i, n := range names {
		s := vals[i]
		lines := h[n]
		if len(lines) == 0 {
			if s != "" {
				return false
			}
			continue
		}
		for j, v := range lines {
			var part string
			var found bool
			part, s, found = strings.Cut(s, "\x1f")
			if part != textproto.TrimString(v) {
				return false
			}
			if j < len(lines)-1 && !found {
				return false
			}
			if j == len(lines)-1 && found {
				return false
			}
		}
	}
	return true
}

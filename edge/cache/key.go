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
// allocating; longer queries sort through a heap slice.
const maxSortedParams = 32

// reqKey is the primary key of a request, as views of its strings: it
// does not allocate to build.
type reqKey struct {
	tenant string
	part   string // the route's partition (Policy.Partition)
	scheme string
	host   string // as received; compared and hashed lower-cased
	path   string
	query  string // raw; sorted while hashing when mode is querySorted
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
	k.host = r.Host
	k.path = r.URL.EscapedPath()
	k.query = r.URL.RawQuery
	k.mode = mode
	if mode == queryNone {
		k.query = ""
	}
	k.hash = c.primaryHash(k)
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
	if k.mode == querySorted {
		eachSortedParam(k.query, func(p string) {
			h.WriteString(p)
			h.WriteByte('&')
		})
	} else {
		h.WriteString(k.query)
	}
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

// eachSortedParam calls fn with the non-empty &-separated parameters of
// the raw query q, in byte order.
func eachSortedParam(q string, fn func(string)) {
	var arr [maxSortedParams]string
	ps := arr[:0]
	for len(q) > 0 {
		var p string
		p, q, _ = strings.Cut(q, "&")
		if p != "" {
			ps = append(ps, p) // spills to the heap past maxSortedParams
		}
	}
	// Insertion sort: short lists, no allocation.
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j] < ps[j-1]; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	for _, p := range ps {
		fn(p)
	}
}

// SortQuery returns the raw query q with its non-empty parameters sorted
// in byte order: the form a route with Policy.SortQuery keys on, and so
// the one to send upstream.
func SortQuery(q string) string { return sortedQuery(q) }

// sortedQuery returns q's parameters sorted and joined, the stored form
// of a querySorted key.
func sortedQuery(q string) string {
	var b strings.Builder
	eachSortedParam(q, func(p string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p)
	})
	return b.String()
}

// storedKey is the full key kept in an entry to verify a hash match.
type storedKey struct {
	tenant, part, scheme, host, path, query string // host lower-cased; query in its stored form
	mode                                    byte
}

func (k *reqKey) stored() storedKey {
	q := k.query
	if k.mode == querySorted {
		q = sortedQuery(q)
	}
	return storedKey{tenant: k.tenant, part: k.part, scheme: k.scheme, host: strings.ToLower(k.host), path: k.path, query: q, mode: k.mode}
}

// matches reports whether the stored key sk is k's, without allocating.
func (sk *storedKey) matches(k *reqKey) bool {
	if sk.mode != k.mode || sk.tenant != k.tenant || sk.part != k.part || sk.scheme != k.scheme || sk.path != k.path ||
		!strings.EqualFold(sk.host, k.host) {
		return false
	}
	if k.mode != querySorted {
		return sk.query == k.query
	}
	rest, ok := sk.query, true
	eachSortedParam(k.query, func(p string) {
		if !ok {
			return
		}
		if rest == "" {
			ok = false
			return
		}
		var q string
		q, rest, _ = strings.Cut(rest, "&")
		ok = q == p
	})
	return ok && rest == ""
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

package cache

import (
	"net/http"
	"net/url"
	"strings"
)

// PurgeURL removes tenant's stored responses for the URL (all Vary
// variants, every partition, under every query policy: as given, sorted,
// and without the query). pathAndQuery is the escaped path with an
// optional "?query". It returns how many responses it removed.
func (c *Cache) PurgeURL(tenant, scheme, host, pathAndQuery string) int {
	path, query, _ := strings.Cut(pathAndQuery, "?")
	scheme = strings.ToLower(scheme)
	host = keyHost(scheme, host)
	sorted := CanonicalQuery(query)
	return c.purgeWhere(tenant, func(e *entry) bool {
		k := &e.key
		if k.scheme != scheme || k.path != path || !strings.EqualFold(k.host, host) {
			return false
		}
		switch k.mode {
		case querySorted:
			return k.query == sorted
		case queryNone:
			return true
		default:
			return k.query == query
		}
	})
}

// removeURL removes, by key lookup, tenant's responses for a URL in one
// partition under every query policy (invalidation after unsafe methods).
func (c *Cache) removeURL(tenant, part, scheme, host, path, query string) int {
	n := 0
	for _, mode := range []byte{queryExact, querySorted, queryNone} {
		k := reqKey{tenant: tenant, part: part, scheme: scheme, host: host, path: path, query: query, mode: mode}
		switch mode {
		case queryNone:
			k.query = ""
		case querySorted:
			k.query = CanonicalQuery(query)
		}
		k.hash = c.primaryHash(&k)
		n += c.removeKey(&k)
	}
	return n
}

// PurgeHost removes all of tenant's stored responses for host, returning
// how many. Hosts are normalised as keys are (case, trailing dot, the
// scheme's default port: see keyHost); a host given without a port
// matches the entries of every port.
func (c *Cache) PurgeHost(tenant, host string) int {
	return c.purgeWhere(tenant, func(e *entry) bool {
		h := keyHost(e.key.scheme, host)
		return strings.EqualFold(e.key.host, h) || strings.EqualFold(hostOnly(e.key.host), h)
	})
}

// hostOnly strips a port from host:port ([v6]:port included).
func hostOnly(hostport string) string {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 || strings.Contains(hostport[i:], "]") {
		return hostport
	}
	return hostport[:i]
}

// PurgeTag removes all of tenant's stored responses whose Surrogate-Key
// field (space-separated tags) names tag, returning how many.
func (c *Cache) PurgeTag(tenant, tag string) int {
	return c.purgeWhere(tenant, func(e *entry) bool {
		for _, t := range e.tags {
			if t == tag {
				return true
			}
		}
		return false
	})
}

// purgeWhere removes tenant's responses (and markers) matching match. It
// walks only that tenant's entries, shard by shard.
func (c *Cache) purgeWhere(tenant string, match func(*entry) bool) int {
	n := 0
	var victims []*entry
	for _, s := range c.shards {
		s.mu.Lock()
		victims = victims[:0]
		if tl := s.tenants[tenant]; tl != nil {
			for e := tl.head; e != nil; e = e.tnext {
				if match(e) {
					victims = append(victims, e)
				}
			}
		}
		for _, e := range victims {
			n += s.remove(e, false)
		}
		s.mu.Unlock()
	}
	return n
}

// unsafe forwards a request with an unsafe (or unknown) method, never
// answered from storage, and on a non-error response invalidates the
// target URI and the same-origin Location and Content-Location (RFC 9111
// §4.4), under every query policy.
func (h *handler) unsafe(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, cs: csMethod, h: h}
	h.next.ServeHTTP(sw, r)
	if sw.status == 0 || sw.status >= 400 {
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	h.c.removeURL(h.tenant, h.p.Partition, scheme, keyHost(scheme, r.Host), r.URL.EscapedPath(), r.URL.RawQuery)
	base := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
	hdr := w.Header()
	for _, f := range []string{"Location", "Content-Location"} {
		v := first(hdr[f])
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil {
			continue
		}
		u = base.ResolveReference(u)
		if u.Scheme == scheme && strings.EqualFold(keyHost(scheme, u.Host), keyHost(scheme, r.Host)) {
			h.c.removeURL(h.tenant, h.p.Partition, scheme, keyHost(scheme, u.Host), u.EscapedPath(), u.RawQuery)
		}
	}
}

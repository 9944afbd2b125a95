// Package route is the routing snapshot: an immutable table from a request's
// host to the owning tenant and from its path, method and headers to the
// first matching route.
//
// A Table is built once per configuration and never changed, so any number
// of goroutines may look up in it while a newer table is being built.
// Lookups do not allocate.
package route

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/wedgeproxy/wedge/edge/config"
)

// Table maps hosts to tenants' routes. H is what a route carries for its
// caller: the compiled handler of the route.
type Table[H any] struct {
	exact map[string]*host[H]
	wild  map[string]*host[H] // keyed by the suffix after '*', e.g. ".example.com"
	// matched are the canonical header keys some route matches on.
	matched map[string]bool
}

// MatchesHeader reports whether some route of the table matches on the
// header with canonical key k: only a change to such a header can change
// which route a request gets. It does not allocate.
func (t *Table[H]) MatchesHeader(k string) bool { return t.matched[k] }

// host is one domain of a tenant and the routes that apply to it, in order.
type host[H any] struct {
	tenant string
	routes []*Route[H]
}

// Route is one compiled route of a tenant.
type Route[H any] struct {
	// Tenant is the owning tenant's name.
	Tenant string
	// Name is the route's name, or "routes[i]" when it has none.
	Name string
	// Handler is what Build's callback made for the route.
	Handler H

	path    string
	prefix  string
	re      *regexp.Regexp
	methods []string
	headers []headerCond
}

type headerCond struct {
	key   string // canonical header key
	value string // "" = present
}

// Build compiles the tenants of a validated configuration into a Table.
// handler is called once per route, in order, to make the route's H; its
// error aborts the build.
func Build[H any](tenants []config.Tenant, handler func(t *config.Tenant, i int) (H, error)) (*Table[H], error) {
	tb := &Table[H]{exact: map[string]*host[H]{}, wild: map[string]*host[H]{}, matched: map[string]bool{}}
	for ti := range tenants {
		t := &tenants[ti]
		routes := make([]*Route[H], len(t.Routes))
		for i := range t.Routes {
			r, err := compile[H](t, i)
			if err != nil {
				return nil, err
			}
			if r.Handler, err = handler(t, i); err != nil {
				return nil, fmt.Errorf("route: tenants[%s].routes[%d]: %w", t.Name, i, err)
			}
			routes[i] = r
			for _, c := range r.headers {
				tb.matched[c.key] = true
			}
		}
		for _, d := range t.Domains {
			d = strings.ToLower(strings.TrimSuffix(d, "."))
			h := &host[H]{tenant: t.Name}
			for i, r := range routes {
				if appliesTo(t.Routes[i].Match.Domains, d) {
					h.routes = append(h.routes, r)
				}
			}
			m, key := tb.exact, d
			if suffix, ok := strings.CutPrefix(d, "*"); ok {
				m, key = tb.wild, suffix
			}
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("route: domain %q is claimed twice", d)
			}
			m[key] = h
		}
	}
	return tb, nil
}

func appliesTo(only []string, domain string) bool {
	if len(only) == 0 {
		return true
	}
	for _, d := range only {
		if strings.EqualFold(strings.TrimSuffix(d, "."), domain) {
			return true
		}
	}
	return false
}

func compile[H any](t *config.Tenant, i int) (*Route[H], error) {
	cr := &t.Routes[i]
	r := &Route[H]{
		Tenant:  t.Name,
		Name:    cr.Name,
		path:    cr.Match.Path,
		prefix:  cr.Match.PathPrefix,
		methods: cr.Match.Methods,
	}
	if r.Name == "" {
		r.Name = fmt.Sprintf("routes[%d]", i)
	}
	if cr.Match.PathRegex != "" {
		re, err := regexp.Compile(cr.Match.PathRegex)
		if err != nil {
			return nil, fmt.Errorf("route: tenants[%s].routes[%d].match.path_regex: %w", t.Name, i, err)
		}
		r.re = re
	}
	for _, h := range cr.Match.Headers {
		r.headers = append(r.headers, headerCond{key: http.CanonicalHeaderKey(h.Name), value: h.Value})
	}
	return r, nil
}

// Lookup finds the tenant owning hostport (a Host header or :authority,
// any case, port ignored) and the first of its routes matching path,
// method and header. tenant is "" when no tenant owns the host; r is nil
// when the tenant has no matching route. It does not allocate.
func (t *Table[H]) Lookup(hostport, path, method string, header http.Header) (tenant string, r *Route[H]) {
	var buf [256]byte
	name, ok := normalizeHost(&buf, hostport)
	if !ok {
		return "", nil
	}
	h := t.exact[string(name)]
	if h == nil {
		// Most specific wildcard first: a.b.example.com tries
		// .b.example.com, then .example.com, then .com.
		for i := 0; i < len(name); i++ {
			if name[i] == '.' {
				if h = t.wild[string(name[i:])]; h != nil {
					break
				}
			}
		}
	}
	if h == nil {
		return "", nil
	}
	for _, r := range h.routes {
		if r.matches(path, method, header) {
			return h.tenant, r
		}
	}
	return h.tenant, nil
}

func (r *Route[H]) matches(path, method string, header http.Header) bool {
	switch {
	case r.path != "" && path != r.path:
		return false
	case r.prefix != "" && !strings.HasPrefix(path, r.prefix):
		return false
	case r.re != nil && !r.re.MatchString(path):
		return false
	}
	if len(r.methods) > 0 {
		found := false
		for _, m := range r.methods {
			if m == method {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, c := range r.headers {
		vs := header[c.key]
		if len(vs) == 0 {
			return false
		}
		if c.value == "" {
			continue
		}
		found := false
		for _, v := range vs {
			if v == c.value {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// normalizeHost writes the lower-cased host of hostport, without port or
// trailing dot, into buf. ok is false when the host is empty or too long
// to be a domain name.
func normalizeHost(buf *[256]byte, hostport string) (name []byte, ok bool) {
	h := hostport
	if len(h) > 0 && h[0] == '[' {
		// IPv6 literal: never a tenant domain, but keep it whole.
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[:i+1]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	if h == "" || len(h) > len(buf) {
		return nil, false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(h)], true
}

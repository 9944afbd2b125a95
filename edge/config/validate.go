package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Validate checks c as a whole and returns every problem in one *Error, or
// nil. It does not change c.
func (c *Config) Validate() error {
	if p := c.validate(""); len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

// problems collects FieldErrors.
type problems []*FieldError

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *Config) validate(baseDir string) []*FieldError {
	var ps problems
	if len(c.Listeners) == 0 {
		ps.add("listeners", "at least one listener is required")
	}
	names := map[string]int{}
	addrs := map[string]int{}
	for i, l := range c.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		if l.Name != "" {
			if j, dup := names[l.Name]; dup {
				ps.add(p+".name", "name %q is already used by listeners[%d]", l.Name, j)
			}
			names[l.Name] = i
		}
		if l.Address == "" {
			ps.add(p+".address", "required")
		} else if err := checkHostPort(l.Address); err != nil {
			ps.add(p+".address", "%v", err)
		} else if j, dup := addrs[l.Address]; dup {
			ps.add(p+".address", "%q is already used by listeners[%d]", l.Address, j)
		} else if !strings.HasSuffix(l.Address, ":0") {
			// Port 0 picks a free port per listener: never a clash.
			addrs[l.Address] = i
		}
		for j, cidr := range l.TrustedProxies {
			if _, err := ParsePrefix(cidr); err != nil {
				ps.add(fmt.Sprintf("%s.trusted_proxies[%d]", p, j), "%v", err)
			}
		}
		if l.TLS != nil {
			c.validateTLS(&ps, p+".tls", l.TLS, baseDir)
		}
	}
	if c.Admin != "" {
		if err := checkHostPort(c.Admin); err != nil {
			ps.add("admin", "%v", err)
		}
	}
	if c.AdminTokenSHA256 != "" && !isSHA256Hex(c.AdminTokenSHA256) {
		ps.add("admin_token_sha256", "want 64 hex digits (the SHA-256 of the token)")
	}
	if c.AdminTLS != nil {
		c.validateCert(&ps, "admin_tls", *c.AdminTLS, baseDir)
	}
	if c.AdminMaxUploadBytes < 0 {
		ps.add("admin_max_upload_bytes", "must not be negative")
	}
	c.Store.validate(&ps)
	c.Store.validateFiles(&ps, baseDir)
	c.Limits.validate(&ps)
	c.Egress.validate(&ps)
	if c.Cache.MaxBytes < 0 {
		ps.add("cache.max_bytes", "must not be negative")
	}
	if c.Cache.MaxObjectBytes < 0 {
		ps.add("cache.max_object_bytes", "must not be negative")
	}
	if f := c.Cache.TargetedField; f != "" {
		if !validToken(f) {
			ps.add("cache.targeted_field", "%q is not a valid header name", f)
		} else if strings.EqualFold(f, "Cache-Control") || strings.EqualFold(f, "CDN-Cache-Control") {
			ps.add("cache.targeted_field", "%q must be the node's own field, not a standard one", f)
		}
	}
	c.validateTenants(&ps)
	return ps
}

func (c *Config) validateTLS(ps *problems, p string, t *TLS, baseDir string) {
	if len(t.Certificates) == 0 && !t.DevSelfSigned {
		ps.add(p, "needs certificates or dev_self_signed: true")
	}
	for i, cert := range t.Certificates {
		c.validateCert(ps, fmt.Sprintf("%s.certificates[%d]", p, i), cert, baseDir)
	}
}

func (c *Config) validateCert(ps *problems, cp string, cert Certificate, baseDir string) {
	if cert.CertFile == "" {
		ps.add(cp+".cert_file", "required")
	}
	if cert.KeyFile == "" {
		ps.add(cp+".key_file", "required")
	}
	if cert.CertFile == "" || cert.KeyFile == "" {
		return
	}
	if _, err := tls.LoadX509KeyPair(resolve(baseDir, cert.CertFile), resolve(baseDir, cert.KeyFile)); err != nil {
		ps.add(cp, "cannot load the key pair: %v", err)
	}
}

func (s *Store) validate(ps *problems) {
	switch s.Type {
	case "", StoreEmbedded:
		if len(s.Endpoints) > 0 || s.Prefix != "" || s.Username != "" {
			ps.add("store", "endpoints, prefix and username are for type etcd")
		}
		if s.TLS != nil {
			ps.add("store.tls", "is for type etcd")
		}
	case StoreEtcd:
		if s.Path != "" {
			ps.add("store.path", "is for type embedded")
		}
		if len(s.Endpoints) == 0 {
			ps.add("store.endpoints", "at least one etcd endpoint is required")
		}
		for i, e := range s.Endpoints {
			hp := e
			if rest, ok := strings.CutPrefix(e, "http://"); ok {
				hp = rest
				if s.TLS != nil {
					ps.add(fmt.Sprintf("store.endpoints[%d]", i), "%q is plain http:// but store.tls is set; write https:// or host:port", e)
					continue
				}
			} else if rest, ok := strings.CutPrefix(e, "https://"); ok {
				hp = rest
			}
			if err := checkHostPort(hp); err != nil {
				ps.add(fmt.Sprintf("store.endpoints[%d]", i), "%v", err)
			}
		}
		if s.Prefix != "" && (!strings.HasPrefix(s.Prefix, "/") || !strings.HasSuffix(s.Prefix, "/")) {
			ps.add("store.prefix", "%q must start and end with /", s.Prefix)
		}
		if t := s.TLS; t != nil {
			if t.CertFile != "" && t.KeyFile == "" {
				ps.add("store.tls.key_file", "required with cert_file")
			}
			if t.KeyFile != "" && t.CertFile == "" {
				ps.add("store.tls.cert_file", "required with key_file")
			}
		}
	default:
		ps.add("store.type", "%q is not a store type; want embedded or etcd", s.Type)
	}
	if s.DialTimeout < 0 {
		ps.add("store.dial_timeout", "must not be negative")
	}
}

// validateFiles checks that the files of store.tls load: the CA file
// holds a PEM certificate, the client certificate and key make a pair.
func (s *Store) validateFiles(ps *problems, baseDir string) {
	t := s.TLS
	if s.Type != StoreEtcd || t == nil {
		return
	}
	if t.CAFile != "" {
		if pem, err := os.ReadFile(resolve(baseDir, t.CAFile)); err != nil {
			ps.add("store.tls.ca_file", "%v", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			ps.add("store.tls.ca_file", "%s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" && t.KeyFile != "" {
		if _, err := tls.LoadX509KeyPair(resolve(baseDir, t.CertFile), resolve(baseDir, t.KeyFile)); err != nil {
			ps.add("store.tls", "cannot load the client key pair: %v", err)
		}
	}
}

func resolve(base, p string) string {
	if base == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

func (l *Limits) validate(ps *problems) {
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"read_header_timeout", l.ReadHeaderTimeout},
		{"idle_timeout", l.IdleTimeout},
		{"drain_timeout", l.DrainTimeout},
		{"body_idle_timeout", l.BodyIdleTimeout},
		{"tunnel_idle_timeout", l.TunnelIdleTimeout},
	} {
		if d.v < 0 {
			ps.add("limits."+d.name, "must not be negative")
		}
	}
	if l.MaxHeaderBytes < 0 || l.MaxHeaderBytes > 16<<20 {
		ps.add("limits.max_header_bytes", "must be between 0 (default) and 16 MiB")
	}
	if l.MaxConcurrentStreams < 0 {
		ps.add("limits.max_concurrent_streams", "must not be negative")
	}
	l.Filters.validate(ps)
	validateShareField(ps, "limits.tenants.max_concurrent_requests", l.Tenants.MaxConcurrentRequests)
	validateShareField(ps, "limits.tenants.max_tunnels", l.Tenants.MaxTunnels)
	if v := l.UpstreamMaxConnsPerEndpoint; v < 0 || v > maxTenantShare {
		ps.add("limits.upstream_max_conns_per_endpoint", "%d: want 0 (default %d) to %d", v, DefaultUpstreamMaxConns, maxTenantShare)
	}
	l.Quotas.validate(ps, "limits.quotas")
	l.Uploads.validate(ps)
}

var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (c *Config) validateTenants(ps *problems) {
	tenants := map[string]int{}
	owner := map[string]string{} // normalised domain → path of its first claim
	caps := c.Limits.Filters.WithDefaults()
	for i := range c.Tenants {
		t := &c.Tenants[i]
		p := fmt.Sprintf("tenants[%d]", i)
		if j, dup := tenants[t.Name]; dup && t.Name != "" {
			ps.add(p+".name", "tenant %q is already defined at tenants[%d]", t.Name, j)
		}
		if _, dup := tenants[t.Name]; !dup {
			tenants[t.Name] = i
		}
		validateTenant(ps, p+".", t, owner, caps)
	}
}

// ValidateTenant checks one tenant on its own: name, domains, pools,
// routes and filters. Problems carry paths relative to the tenant
// (routes[0].upstream). Domains claimed by other tenants are the caller's
// to check. Filter limits are checked against the default maximums of
// limits.filters; a node checks against its own with ValidateTenantWith.
func ValidateTenant(t *Tenant) error {
	return ValidateTenantWith(t, FilterCaps{})
}

// validateTenant checks t; pre prefixes every path ("tenants[2]." or "").
// owner maps each normalised domain already claimed to the path of its
// claim. caps are the node's maximums on filter limits, defaults applied.
func validateTenant(ps *problems, pre string, t *Tenant, owner map[string]string, caps FilterCaps) {
	switch {
	case t.Name == "":
		ps.add(pre+"name", "required")
	case !tenantName.MatchString(t.Name):
		ps.add(pre+"name", "%q must be 1-63 lower-case letters, digits, '-' or '_'", t.Name)
	}
	domains := map[string]bool{}
	for j, d := range t.Domains {
		dp := fmt.Sprintf("%sdomains[%d]", pre, j)
		if err := CheckDomain(d); err != nil {
			ps.add(dp, "%v", err)
			continue
		}
		key := strings.ToLower(d)
		if first, dup := owner[key]; dup {
			ps.add(dp, "domain %q is already claimed at %s", d, first)
			continue
		}
		owner[key] = dp
		domains[key] = true
	}
	pools := map[string]int{}
	for j, u := range t.Upstreams {
		up := fmt.Sprintf("%supstreams[%d]", pre, j)
		if u.Name == "" {
			ps.add(up+".name", "required")
		} else if k, dup := pools[u.Name]; dup {
			ps.add(up+".name", "pool %q is already defined at %supstreams[%d]", u.Name, pre, k)
		} else {
			pools[u.Name] = j
		}
		if len(u.Endpoints) == 0 {
			ps.add(up+".endpoints", "at least one endpoint is required")
		}
		for k, e := range u.Endpoints {
			if err := checkEndpoint(e); err != nil {
				ps.add(fmt.Sprintf("%s.endpoints[%d]", up, k), "%v", err)
			}
		}
		if u.MaxIdleConns < 0 {
			ps.add(up+".max_idle_conns", "must not be negative")
		}
	}
	if t.TokenSHA256 != "" && !isSHA256Hex(t.TokenSHA256) {
		ps.add(pre+"token_sha256", "want 64 hex digits (the SHA-256 of the token)")
	}
	if t.CacheMaxBytes < 0 {
		ps.add(pre+"cache_max_bytes", "must not be negative")
	}
	t.Limits.validate(ps, pre+"limits.")
	for j := range t.Routes {
		validateRoute(ps, fmt.Sprintf("%sroutes[%d]", pre, j), &t.Routes[j], domains, pools, caps)
	}
	validateFilterMemory(ps, pre, t, caps)
}

// Bounds of a tenant's request rate and burst: within them the data
// plane's token bucket, which counts in nanoseconds, neither overflows nor
// loses more than 0.05% to rounding.
const (
	minRequestRate  = 0.001
	maxRequestRate  = 1_000_000
	maxRequestBurst = 1_000_000
)

// validate checks a tenant's limits; pre prefixes every path
// ("tenants[2].limits.").
func (l *TenantLimits) validate(ps *problems, pre string) {
	if l.FilterMaxMemoryBytes < 0 || l.FilterMaxMemoryBytes > 4<<30 {
		ps.add(pre+"filter_max_memory_bytes", "%d: want 0 (no cap) to 4 GiB", l.FilterMaxMemoryBytes)
	}
	if l.FilterCallDeadline < 0 {
		ps.add(pre+"filter_call_deadline", "must not be negative")
	}
	if l.FilterTotalMemoryBytes < 0 {
		ps.add(pre+"filter_total_memory_bytes", "must not be negative")
	}
	switch r := l.RequestRate; {
	case math.IsNaN(r) || math.IsInf(r, 0):
		ps.add(pre+"request_rate", "%v is not a number of requests per second", r)
	case r != 0 && (r < minRequestRate || r > maxRequestRate):
		ps.add(pre+"request_rate", "%v: want 0 (no limit) or 0.001 to 1000000 requests per second", r)
	}
	switch b := l.RequestBurst; {
	case b < 0 || b > maxRequestBurst:
		ps.add(pre+"request_burst", "%d: want 0 (default) to %d", b, maxRequestBurst)
	case b > 0 && l.RequestRate == 0:
		ps.add(pre+"request_burst", "needs request_rate")
	}
	validateShareField(ps, pre+"max_concurrent_requests", l.MaxConcurrentRequests)
	validateShareField(ps, pre+"max_tunnels", l.MaxTunnels)
}

func validateRoute(ps *problems, p string, r *Route, domains map[string]bool, pools map[string]int, caps FilterCaps) {
	switch {
	case r.Upstream == "" && r.Respond == nil:
		ps.add(p, "needs an action: upstream or respond")
	case r.Upstream != "" && r.Respond != nil:
		ps.add(p, "has both upstream and respond; choose one")
	case r.Upstream != "":
		if _, ok := pools[r.Upstream]; !ok {
			ps.add(p+".upstream", "pool %q is not defined", r.Upstream)
		}
	default:
		if s := r.Respond.Status; s != 0 && (s < 200 || s > 599) {
			ps.add(p+".respond.status", "%d is not a final status code (200-599)", s)
		}
		for _, name := range slices.Sorted(maps.Keys(r.Respond.Headers)) {
			if !validToken(name) {
				ps.add(p+".respond.headers["+name+"]", "%q is not a valid header name", name)
			} else if v := r.Respond.Headers[name]; strings.ContainsAny(v, "\r\n\x00") {
				ps.add(p+".respond.headers["+name+"]", "value contains a line break or NUL")
			}
		}
	}
	if len(r.Filters) > MaxRouteFilters {
		ps.add(p+".filters", "%d filters: a route may have at most %d", len(r.Filters), MaxRouteFilters)
	}
	if len(r.Filters) > 0 {
		names := make(map[string]bool, len(pools))
		for k := range pools {
			names[k] = true
		}
		validateFilters(ps, p, r.Filters, names, caps)
	}
	if rc := r.Cache; rc != nil {
		if rc.Enabled && r.Upstream == "" {
			ps.add(p+".cache", "caching needs a route with an upstream")
		}
		if rc.MaxObjectBytes < 0 {
			ps.add(p+".cache.max_object_bytes", "must not be negative")
		}
		if rc.DefaultTTL < 0 {
			ps.add(p+".cache.default_ttl", "must not be negative")
		}
		if rc.Key.IgnoreQuery && rc.Key.SortQuery {
			ps.add(p+".cache.key", "ignore_query and sort_query are exclusive")
		}
	}
	m := &r.Match
	set := 0
	for _, s := range []string{m.Path, m.PathPrefix, m.PathRegex} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		ps.add(p+".match", "path, path_prefix and path_regex are exclusive; set one")
	}
	if m.Path != "" && !strings.HasPrefix(m.Path, "/") {
		ps.add(p+".match.path", "%q must start with /", m.Path)
	}
	if m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
		ps.add(p+".match.path_prefix", "%q must start with /", m.PathPrefix)
	}
	if m.PathRegex != "" {
		if _, err := regexp.Compile(m.PathRegex); err != nil {
			ps.add(p+".match.path_regex", "%v", err)
		}
	}
	for i, d := range m.Domains {
		if !domains[strings.ToLower(d)] {
			ps.add(fmt.Sprintf("%s.match.domains[%d]", p, i), "%q is not one of the tenant's domains", d)
		}
	}
	for i, meth := range m.Methods {
		if !validToken(meth) || strings.ToUpper(meth) != meth {
			ps.add(fmt.Sprintf("%s.match.methods[%d]", p, i), "%q is not an upper-case method name", meth)
		}
	}
	for i, h := range m.Headers {
		if !validToken(h.Name) {
			ps.add(fmt.Sprintf("%s.match.headers[%d].name", p, i), "%q is not a valid header name", h.Name)
		}
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"connect", r.Timeouts.Connect},
		{"response_header", r.Timeouts.ResponseHeader},
		{"request", r.Timeouts.Request},
	} {
		if d.v < 0 {
			ps.add(p+".timeouts."+d.name, "must not be negative")
		}
	}
}

// CheckDomain reports whether d is a host name a tenant may own: DNS labels
// of letters, digits and '-', optionally behind a leading "*." wildcard.
func CheckDomain(d string) error {
	name := strings.TrimPrefix(d, "*.")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%q is not a domain name", d)
	}
	if strings.ContainsRune(name, '*') {
		return fmt.Errorf("%q: a wildcard is only allowed as the first label (*.example.com)", d)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a domain name", d)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%q is not a domain name", d)
			}
		}
	}
	return nil
}

// ParsePrefix parses a CIDR, or a bare IP as a single-address prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkEndpoint checks an upstream endpoint: a host and a port from 1 to
// 65535.
func checkEndpoint(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	return nil
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", s, port)
	}
	return nil
}

// validToken reports whether s is an RFC 9110 token (header or method name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

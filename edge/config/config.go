// Package config is the schema of a Wedge node's configuration file, its
// strict YAML loader and its validator.
//
// A file has two layers: the node layer (listeners, admin address, data
// directory, limits), read at start, and the tenant layer (tenants, their
// domains, upstream pools and routes), which may change at run time.
//
// Zero values mean "use the default"; each field documents its default.
// Nothing in this package changes a caller's Config: defaults are applied by
// methods that return copies.
package config

import "time"

// Config is a whole node configuration file.
type Config struct {
	// Listeners are the ports the node serves. At least one is required.
	Listeners []Listener `yaml:"listeners"`
	// Admin is the admin API's address (host:port). Empty means no admin
	// API. The operator's token is the environment variable
	// WEDGE_ADMIN_TOKEN, or its SHA-256 in AdminTokenSHA256.
	Admin string `yaml:"admin"`
	// AdminTokenSHA256 is the hex SHA-256 of the operator's admin token.
	AdminTokenSHA256 string `yaml:"admin_token_sha256"`
	// AdminTLS, when set, serves the admin API over TLS with this
	// certificate.
	AdminTLS *Certificate `yaml:"admin_tls"`
	// AdminMaxUploadBytes bounds a filter module uploaded through the
	// admin API; larger uploads get 413. Default 32 MiB.
	AdminMaxUploadBytes int64 `yaml:"admin_max_upload_bytes"`
	// NodeName names the node in the admin API's status and in the
	// store's record of which revision each node serves. Empty means the
	// host name.
	NodeName string `yaml:"node_name"`
	// Store is where the tenant layer managed through the admin API
	// lives. The tenants of this file are served alongside it.
	Store Store `yaml:"store"`
	// DataDir holds the node's persistent state. Empty means ./data.
	DataDir string `yaml:"data_dir"`
	// Limits are the server-side limits applied to every listener.
	Limits Limits `yaml:"limits"`
	// Cache sizes the node's response cache, which routes opt into.
	Cache Cache `yaml:"cache"`
	// Egress is the node's egress policy: the destinations tenants'
	// pools and filters' HTTP calls may be dialled to, checked on the
	// resolved address of every connection. The zero value is the safe
	// default (see Egress).
	Egress Egress `yaml:"egress"`
	// Tenants own domains, upstream pools and routes.
	Tenants []Tenant `yaml:"tenants"`
}

// Store selects the tenant layer's store.
type Store struct {
	// Type is "embedded" (default): a file on the local disk, for one
	// node; or "etcd": an etcd cluster that many nodes share and watch.
	Type string `yaml:"type"`
	// Path is the embedded store's file. Default: store.db in data_dir.
	Path string `yaml:"path"`
	// Endpoints are the etcd members (host:port or http(s)://host:port).
	// Required for etcd.
	Endpoints []string `yaml:"endpoints"`
	// Prefix is the etcd key prefix the fleet shares. Default "/wedge/".
	Prefix string `yaml:"prefix"`
	// DialTimeout bounds connecting to etcd. Default 5s.
	DialTimeout Duration `yaml:"dial_timeout"`
	// Username for etcd authentication; its password is read from the
	// environment variable WEDGE_ETCD_PASSWORD.
	Username string `yaml:"username"`
	// TLS, when set, makes every connection to etcd TLS (type etcd
	// only): host:port endpoints are dialled as https://, and an
	// http:// endpoint is an error. Nil means no TLS for host:port and
	// http:// endpoints; https:// ones then check etcd's certificate
	// against the system's roots, with no client certificate.
	TLS *StoreTLS `yaml:"tls"`
}

// StoreTLS is how a node speaks TLS to etcd. Relative paths are resolved
// against the node file's directory. The files are read when the node
// starts.
type StoreTLS struct {
	// CAFile is a PEM file of the certificate authorities etcd's
	// certificate must chain to. Empty means the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile is the node's PEM client certificate (and chain), for an
	// etcd run with --client-cert-auth. Empty means no client
	// certificate; set it together with KeyFile.
	CertFile string `yaml:"cert_file"`
	// KeyFile is CertFile's PEM private key. Empty means no client
	// certificate; set it together with CertFile.
	KeyFile string `yaml:"key_file"`
	// ServerName is the name etcd's certificate must be valid for.
	// Empty means each endpoint's host.
	ServerName string `yaml:"server_name"`
}

// Store types.
const (
	StoreEmbedded = "embedded"
	StoreEtcd     = "etcd"
)

// Listener is one port that accepts client connections.
type Listener struct {
	// Name identifies the listener in logs; empty means its address.
	Name string `yaml:"name"`
	// Address is host:port to listen on. Required.
	Address string `yaml:"address"`
	// TLS, when set, makes this a TLS listener serving HTTP/1.1 and HTTP/2
	// chosen by ALPN. Without it the listener serves HTTP/1.1 and h2c
	// (prior knowledge and Upgrade).
	TLS *TLS `yaml:"tls"`
	// DisableHTTP3 turns off HTTP/3. By default a TLS listener also serves
	// HTTP/3 (QUIC) on the same port number over UDP, and advertises it to
	// HTTP/1.1 and HTTP/2 clients with Alt-Svc.
	DisableHTTP3 bool `yaml:"disable_http3"`
	// TrustedProxies lists CIDRs whose X-Forwarded-* headers are kept and
	// extended. A client outside them has those headers replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TLS configures the certificates of a TLS listener.
type TLS struct {
	// Certificates are PEM certificate/key pairs. The certificate for a
	// connection is chosen by SNI among their DNS names (exact, then
	// wildcard); the first one is the default.
	Certificates []Certificate `yaml:"certificates"`
	// DevSelfSigned generates, at start, one self-signed certificate for
	// every tenant domain plus localhost. For demos and tests only.
	DevSelfSigned bool `yaml:"dev_self_signed"`
}

// Certificate is one PEM certificate chain and its private key.
type Certificate struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Limits are the node's server limits. Zero fields take the defaults named.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers. Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes a keep-alive connection left idle. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds a request's header block; past it the client
	// gets 431. Default 64 KiB.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxConcurrentStreams bounds HTTP/2 streams per connection. Default 250.
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// DrainTimeout bounds the wait for in-flight requests at shutdown.
	// Default 30s.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// BodyIdleTimeout cuts off a client that sends no byte of its request
	// body, or takes no byte of a response body, for this long. Default
	// 60s.
	BodyIdleTimeout Duration `yaml:"body_idle_timeout"`
	// TunnelIdleTimeout closes an upgraded connection (WebSocket) on which
	// nothing moved in either direction for this long. Default 10m.
	TunnelIdleTimeout Duration `yaml:"tunnel_idle_timeout"`
	// Filters are the node's maximums on what a tenant's filters may
	// ask for. They apply to the file's tenants and to those managed
	// through the admin API alike.
	Filters FilterCaps `yaml:"filters"`
	// Tenants is each tenant's default share of the node's data plane
	// (requests in flight, tunnels); a tenant's limits may set its own.
	Tenants TenantShare `yaml:"tenants"`
	// UpstreamMaxConnsPerEndpoint bounds the connections each pool keeps
	// open to one endpoint, idle and in use; a request that would need
	// another gets 503 (another endpoint is tried first). Default 1024.
	UpstreamMaxConnsPerEndpoint int `yaml:"upstream_max_conns_per_endpoint"`
	// Quotas are each admin-API tenant's default quotas: what it may
	// keep in the store and ask of the control plane (see Quotas).
	Quotas Quotas `yaml:"quotas,omitempty"`
	// Uploads sizes the pool that checks uploaded filters.
	Uploads Uploads `yaml:"uploads,omitempty"`
}

// FilterCaps are the operator's maximums on every filter limit a tenant
// may set (a filter's limits, see FilterLimits), and on the linear memory
// one tenant's filters may reserve together. A filter limit above its
// maximum is refused, not lowered; a filter limit left at 0 takes the
// lower of the runtime's default and the maximum. Zero fields take the
// defaults named, which a node of 2 cores survives; there is no
// "unlimited": the largest value of each field is its widest setting.
type FilterCaps struct {
	// MaxInstances bounds a filter's limits.instances. It also bounds a
	// filter that sets none: it gets GOMAXPROCS instances, but no more
	// than MaxInstances. 0 = 4; at most 256.
	MaxInstances int `yaml:"max_instances"`
	// MaxMemoryBytes bounds a filter's limits.max_memory_bytes, each
	// instance's linear memory. 0 = 256 MiB; at most 4 GiB.
	MaxMemoryBytes int64 `yaml:"max_memory_bytes"`
	// MaxCallDeadline bounds a filter's limits.call_deadline, the
	// wall-clock time of one call into it. 0 = 1s.
	MaxCallDeadline Duration `yaml:"max_call_deadline"`
	// MaxBodyBytes bounds a filter's limits.max_body_bytes, the body
	// buffered for a filter that pauses on it. 0 = 16 MiB; at most 1 GiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxHTTPCalls bounds a filter's limits.max_http_calls, its
	// proxy_http_call per request. 0 = 16.
	MaxHTTPCalls int `yaml:"max_http_calls"`
	// TenantMaxMemoryBytes bounds the linear memory one tenant's filters
	// may reserve together: the sum, over its distinct filters, of
	// instances × max_memory_bytes as they take effect (after the
	// tenant's filter_max_memory_bytes, rounded up to 64 KiB pages). A
	// filter that sets no instances counts as MaxInstances, the most any
	// node with these maximums starts, whatever its core count, so that
	// a tenant valid on one node of a fleet is valid on all of them; the
	// same filter (name, module, config, limits and http_upstreams) on
	// several routes is one plugin and counts once. A tenant's
	// limits.filter_total_memory_bytes may lower it. 0 = 1 GiB.
	TenantMaxMemoryBytes int64 `yaml:"tenant_max_memory_bytes"`
}

// Tenant is one customer: the domains it owns and what serves them.
type Tenant struct {
	// Name is unique among tenants. Required.
	Name string `yaml:"name"`
	// Domains are the host names the tenant owns: exact names or
	// wildcards of the form *.example.com (any depth of subdomain). A
	// domain belongs to at most one tenant.
	Domains []string `yaml:"domains"`
	// Upstreams are the tenant's upstream pools.
	Upstreams []Upstream `yaml:"upstreams"`
	// Routes are tried in order; the first that matches serves.
	Routes []Route `yaml:"routes"`
	// TokenSHA256 is the hex SHA-256 of the tenant's admin token, with
	// which it may act on its own objects only (purge its cache entries).
	// Empty: the tenant has no token.
	TokenSHA256 string `yaml:"token_sha256"`
	// CacheMaxBytes caps the bytes of this tenant's cache entries, so that
	// one tenant cannot evict everyone else's. 0 means no cap beyond the
	// node's. A change applies at once: lowering the cap evicts the
	// tenant's least recently used entries.
	CacheMaxBytes int64 `yaml:"cache_max_bytes"`
	// Limits are set by the operator for the tenant; they tighten what the
	// tenant's routes and filters may use. Changes apply at once.
	Limits TenantLimits `yaml:"limits"`
}

// TenantLimits are the operator's limits on one tenant. Zero fields mean
// no limit.
type TenantLimits struct {
	// FilterMaxMemoryBytes caps every filter's linear memory: a filter's
	// limits.max_memory_bytes, or the runtime's default (64 MiB) for a
	// filter without one, is lowered to it; a cap never raises either.
	// 0 = no cap.
	FilterMaxMemoryBytes int64 `yaml:"filter_max_memory_bytes"`
	// FilterCallDeadline caps every filter's limits.call_deadline the same
	// way (the runtime's default is 100 ms). 0 = no cap.
	FilterCallDeadline Duration `yaml:"filter_call_deadline"`
	// FilterTotalMemoryBytes caps the linear memory the tenant's filters
	// may reserve together, counted as for the node's
	// limits.filters.tenant_max_memory_bytes; it lowers the node's cap
	// for this tenant and never raises it. A change that puts the
	// tenant's filters over the cap is refused. 0 = the node's cap.
	FilterTotalMemoryBytes int64 `yaml:"filter_total_memory_bytes"`
	// RequestRate bounds the tenant's requests per second on each node
	// (a token bucket); past it clients get 429 with Retry-After. 0 =
	// none.
	RequestRate float64 `yaml:"request_rate"`
	// RequestBurst is the bucket size: how many requests may arrive at
	// once after a quiet spell. 0 = max(1, ceil(RequestRate)).
	RequestBurst int `yaml:"request_burst"`
	// MaxConcurrentRequests bounds the tenant's requests in flight on
	// each node (503 with Retry-After past it). 0 = the node's
	// limits.tenants.max_concurrent_requests.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// MaxTunnels bounds the tenant's upgraded connections on each node.
	// 0 = the node's limits.tenants.max_tunnels.
	MaxTunnels int `yaml:"max_tunnels"`
}

// Upstream is a pool of origin endpoints.
type Upstream struct {
	// Name is unique within the tenant. Required.
	Name string `yaml:"name"`
	// Endpoints are host:port addresses, used round-robin. At least one.
	Endpoints []string `yaml:"endpoints"`
	// MaxIdleConns bounds the idle keep-alive connections kept per
	// endpoint. Default 256.
	MaxIdleConns int `yaml:"max_idle_conns"`
}

// Route matches requests and says what serves them: an upstream pool or a
// fixed response. Exactly one of Upstream and Respond is set.
type Route struct {
	// Name identifies the route in logs; empty means its index.
	Name string `yaml:"name"`
	// Match selects requests. The zero Match matches every request to the
	// tenant's domains.
	Match Match `yaml:"match"`
	// Upstream names the tenant's pool that requests are forwarded to.
	Upstream string `yaml:"upstream"`
	// Respond answers at the edge.
	Respond *Respond `yaml:"respond"`
	// Timeouts bound forwarding.
	Timeouts Timeouts `yaml:"timeouts"`
	// Cache, when set and enabled, answers from and fills the node's
	// response cache (RFC 9111) in front of the upstream. Only for
	// routes with an upstream.
	Cache *RouteCache `yaml:"cache"`
	// Filters are WebAssembly (Proxy-Wasm) filters run on the route's
	// requests, in order, before the cache and upstream, and on its
	// responses, in reverse order, after them. At most MaxRouteFilters.
	Filters []Filter `yaml:"filters"`
	// Metadata is free-form data about the route that its filters read as
	// the route_metadata property, as in Envoy: for example
	// {filter_metadata: {envoy.filters.http.wasm: {auth: cookie}}}.
	// Mappings with scalar leaves only, bounded (see RouteMetadata).
	Metadata RouteMetadata `yaml:"metadata,omitempty"`
}

// MaxRouteFilters is the most filters one route may have; validation
// refuses a route with more, naming it.
const MaxRouteFilters = 32

// Filter is one Proxy-Wasm filter on a route.
type Filter struct {
	// Name identifies the filter in errors, logs and responses, and is its
	// plugin_name property. Required, unique within the route.
	Name string `yaml:"name"`
	// Module is the path of the .wasm file (relative to the configuration
	// file). Required.
	Module string `yaml:"module"`
	// Config is the plugin configuration: a string is passed as is, any
	// other value as JSON. At most MaxFilterConfigBytes.
	Config FilterConfig `yaml:"config"`
	// VMConfig is the VM configuration (proxy_on_vm_start's size, the
	// VM_CONFIGURATION buffer), encoded as Config is. Empty: none. At
	// most MaxFilterConfigBytes.
	VMConfig FilterConfig `yaml:"vm_config,omitempty"`
	// FailureMode says what a request gets when the filter fails (trap,
	// deadline, memory limit, backed off): "closed" (default) answers 503
	// naming the filter; "open" skips the filter.
	FailureMode string `yaml:"failure_mode"`
	// HTTPUpstreams lists the tenant's pools the filter may call with
	// proxy_http_call. Empty: none.
	HTTPUpstreams []string `yaml:"http_upstreams"`
	// Limits bound the filter's instances.
	Limits FilterLimits `yaml:"limits"`
}

// Failure modes of a filter.
const (
	FailClosed = "closed"
	FailOpen   = "open"
)

// FilterLimits bound one filter. Zero fields take the runtime's defaults
// (GOMAXPROCS instances, 64 MiB of memory, 100 ms per call, 1 MiB of
// buffered body, 4 HTTP calls per request), each lowered to the node's
// maximum (limits.filters) when that is lower. A field above the node's
// maximum is refused. The tenant's limits then tighten memory and the
// call deadline.
type FilterLimits struct {
	// Instances is the number of long-lived instances.
	Instances int `yaml:"instances"`
	// MaxMemoryBytes caps each instance's linear memory (rounded up to
	// 64 KiB pages).
	MaxMemoryBytes int64 `yaml:"max_memory_bytes"`
	// CallDeadline bounds one call into the filter.
	CallDeadline Duration `yaml:"call_deadline"`
	// MaxBodyBytes caps the body buffered for a filter that pauses on it.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxHTTPCalls caps proxy_http_call per request.
	MaxHTTPCalls int `yaml:"max_http_calls"`
}

// Cache sizes the node's shared response cache. Read at start.
type Cache struct {
	// MaxBytes bounds the cache in bytes (bodies, headers and overhead).
	// Default 256 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxObjectBytes is the largest response stored; larger ones stream
	// through uncached. Default 8 MiB.
	MaxObjectBytes int64 `yaml:"max_object_bytes"`
	// TargetedField is this node's own targeted cache-control field (RFC
	// 9213), e.g. "Wedge-Cache-Control": obeyed before CDN-Cache-Control,
	// and both over Cache-Control. Empty: CDN-Cache-Control only.
	TargetedField string `yaml:"targeted_field,omitempty"`
}

// RouteCache is a route's cache policy.
type RouteCache struct {
	// Enabled turns caching on for the route.
	Enabled bool `yaml:"enabled"`
	// MaxObjectBytes lowers the node's limit for this route; 0 = node's.
	MaxObjectBytes int64 `yaml:"max_object_bytes"`
	// DefaultTTL is the freshness of responses without explicit freshness
	// (heuristically cacheable statuses only). 0 = off: only RFC 9111's
	// Last-Modified heuristic.
	DefaultTTL Duration `yaml:"default_ttl"`
	// Key adjusts the cache key.
	Key CacheKey `yaml:"key"`
	// CacheSetCookie stores responses carrying Set-Cookie, and serves the
	// stored cookie to everyone. Default false: they are not stored.
	CacheSetCookie bool `yaml:"cache_set_cookie"`
	// ForwardTargeted passes CDN-Cache-Control and the node's targeted
	// field on to clients. Default false: they are stripped.
	ForwardTargeted bool `yaml:"forward_targeted,omitempty"`
}

// CacheKey adjusts how the query takes part in the cache key.
type CacheKey struct {
	// IgnoreQuery leaves the query out of the key.
	IgnoreQuery bool `yaml:"ignore_query"`
	// SortQuery sorts the query parameters, so their order does not
	// matter.
	SortQuery bool `yaml:"sort_query"`
}

// Match is a route's conditions; all that are set must hold.
type Match struct {
	// Domains restricts the route to some of the tenant's domains (each
	// must be one of them, as written there). Empty means all of them.
	Domains []string `yaml:"domains"`
	// Path matches the path exactly.
	Path string `yaml:"path"`
	// PathPrefix matches paths that start with it.
	PathPrefix string `yaml:"path_prefix"`
	// PathRegex matches paths by an RE2 regular expression (unanchored
	// unless it anchors itself).
	PathRegex string `yaml:"path_regex"`
	// Methods lists the accepted methods; empty means any.
	Methods []string `yaml:"methods"`
	// Headers must all match.
	Headers []HeaderMatch `yaml:"headers"`
}

// HeaderMatch is one request-header condition.
type HeaderMatch struct {
	// Name of the header. Required.
	Name string `yaml:"name"`
	// Value the header must equal exactly. Empty means the header only
	// needs to be present.
	Value string `yaml:"value"`
}

// Respond is a fixed response served by the edge.
type Respond struct {
	// Status code. Default 200.
	Status int `yaml:"status"`
	// Headers of the response.
	Headers map[string]string `yaml:"headers"`
	// Body of the response.
	Body string `yaml:"body"`
}

// Timeouts bound one forwarded request. Zero fields take the defaults named.
type Timeouts struct {
	// Connect bounds dialling an endpoint. Default 5s.
	Connect Duration `yaml:"connect"`
	// ResponseHeader bounds the wait for the upstream's response headers
	// once the request is sent. Default 30s.
	ResponseHeader Duration `yaml:"response_header"`
	// Request bounds the whole exchange, bodies included. Default: none.
	Request Duration `yaml:"request"`
}

// Defaults for zero-valued fields.
const (
	DefaultDataDir              = "./data"
	DefaultReadHeaderTimeout    = 10 * time.Second
	DefaultIdleTimeout          = 120 * time.Second
	DefaultMaxHeaderBytes       = 64 << 10
	DefaultMaxConcurrentStreams = 250
	DefaultDrainTimeout         = 30 * time.Second
	DefaultBodyIdleTimeout      = 60 * time.Second
	DefaultTunnelIdleTimeout    = 10 * time.Minute
	DefaultConnectTimeout       = 5 * time.Second
	DefaultResponseHeader       = 30 * time.Second
	DefaultMaxIdleConns         = 256
	DefaultUpstreamMaxConns     = 1024
	DefaultCacheMaxBytes        = 256 << 20
	DefaultCacheMaxObjectBytes  = 8 << 20
	DefaultAdminMaxUploadBytes  = 32 << 20
	DefaultStorePrefix          = "/wedge/"
	DefaultStoreDialTimeout     = 5 * time.Second
)

// WithDefaults returns a copy of l with zero fields set to their defaults.
// Filters and Tenants are left as they are: they have their own
// WithDefaults.
func (l Limits) WithDefaults() Limits {
	if l.ReadHeaderTimeout == 0 {
		l.ReadHeaderTimeout = Duration(DefaultReadHeaderTimeout)
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = Duration(DefaultIdleTimeout)
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if l.DrainTimeout == 0 {
		l.DrainTimeout = Duration(DefaultDrainTimeout)
	}
	if l.BodyIdleTimeout == 0 {
		l.BodyIdleTimeout = Duration(DefaultBodyIdleTimeout)
	}
	if l.UpstreamMaxConnsPerEndpoint == 0 {
		l.UpstreamMaxConnsPerEndpoint = DefaultUpstreamMaxConns
	}
	if l.TunnelIdleTimeout == 0 {
		l.TunnelIdleTimeout = Duration(DefaultTunnelIdleTimeout)
	}
	return l
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Cache) WithDefaults() Cache {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultCacheMaxBytes
	}
	if c.MaxObjectBytes == 0 {
		c.MaxObjectBytes = DefaultCacheMaxObjectBytes
	}
	return c
}

// WithDefaults returns a copy of t with zero fields set to their defaults.
func (t Timeouts) WithDefaults() Timeouts {
	if t.Connect == 0 {
		t.Connect = Duration(DefaultConnectTimeout)
	}
	if t.ResponseHeader == 0 {
		t.ResponseHeader = Duration(DefaultResponseHeader)
	}
	return t
}

package client

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string
// ("100ms", "5s", "1m30s").
type Duration time.Duration

// String returns the Go duration string of d.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as a duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("client: %q is not a duration (want e.g. \"5s\", \"250ms\")", b)
	}
	*d = Duration(v)
	return nil
}

// Limits are the operator's limits on a tenant. Zero fields mean no
// limit.
type Limits struct {
	// FilterMaxMemoryBytes caps every filter's linear memory.
	FilterMaxMemoryBytes int64 `json:"filter_max_memory_bytes,omitempty"`
	// FilterCallDeadline caps every filter's per-call deadline.
	FilterCallDeadline Duration `json:"filter_call_deadline,omitempty"`
	// FilterTotalMemoryBytes caps the linear memory the tenant's filters
	// reserve together (instances × max memory, summed); it lowers the
	// node's own cap, never raises it.
	FilterTotalMemoryBytes int64 `json:"filter_total_memory_bytes,omitempty"`
	// CacheMaxBytes caps the tenant's bytes in each node's cache.
	CacheMaxBytes int64 `json:"cache_max_bytes,omitempty"`
	// RequestRate bounds the tenant's requests per second on each node.
	RequestRate float64 `json:"request_rate,omitempty"`
	// RequestBurst is the request rate's bucket size.
	RequestBurst int `json:"request_burst,omitempty"`
}

// Tenant is a tenant: its limits and its domains.
type Tenant struct {
	// Name is unique among tenants.
	Name string `json:"name"`
	// Limits are the operator's limits on the tenant.
	Limits Limits `json:"limits"`
	// Domains are the host names the tenant owns.
	Domains []string `json:"domains"`
	// Revision is the store revision that last changed the tenant.
	Revision int64 `json:"revision"`
}

// Domain is one of a tenant's domains.
type Domain struct {
	// Domain is the host name: exact, or a wildcard *.example.com.
	Domain string `json:"domain"`
	// Tenant is set in the answer to AddDomain.
	Tenant string `json:"tenant,omitempty"`
	// Revision is the store revision that assigned the domain.
	Revision int64 `json:"revision"`
}

// Token is a tenant token's record.
type Token struct {
	// ID names the token, to revoke it.
	ID string `json:"id"`
	// Token is the secret, set only in the answer to CreateToken: the
	// node keeps only its SHA-256.
	Token string `json:"token,omitempty"`
	// Description says what the token is for.
	Description string `json:"description,omitempty"`
	// Created is when the token was made.
	Created time.Time `json:"created"`
}

// Filter is an uploaded filter: its current version and its history.
type Filter struct {
	Name string `json:"name"`
	// Version is the current version.
	Version int `json:"version"`
	// SHA256 is the hex SHA-256 of the current version's module.
	SHA256 string `json:"sha256"`
	// Size is the current module's size in bytes.
	Size int64 `json:"size"`
	// Versions are every uploaded version, oldest first.
	Versions []FilterVersion `json:"versions"`
	// Revision is the store revision that last changed the filter.
	Revision int64 `json:"revision"`
}

// FilterVersion is one uploaded version of a filter.
type FilterVersion struct {
	// Version numbers the uploads from 1.
	Version int `json:"version"`
	// SHA256 is the hex SHA-256 of the module.
	SHA256 string `json:"sha256"`
	// Size is the module's size in bytes.
	Size int64 `json:"size"`
	// Created is when the version was uploaded.
	Created time.Time `json:"created"`
}

// Upstream is a tenant's upstream pool.
type Upstream struct {
	// Name is unique within the tenant.
	Name string `json:"name"`
	// Endpoints are host:port addresses.
	Endpoints []string `json:"endpoints"`
	// MaxIdleConns bounds the idle keep-alive connections per endpoint;
	// 0 is the node's default.
	MaxIdleConns int `json:"max_idle_conns,omitempty"`
	// Revision is set in answers and ignored in requests.
	Revision int64 `json:"revision,omitempty"`
}

// Route matches requests and says what serves them: an upstream pool or
// a fixed response. It is the node file's route schema, except that a
// filter's Module names one of the tenant's uploaded filters.
type Route struct {
	// Name identifies the route in logs; empty means its index.
	Name string `json:"name,omitempty"`
	// Match selects requests; the zero Match matches every request to
	// the tenant's domains.
	Match Match `json:"match,omitzero"`
	// Upstream names the tenant's pool that requests go to.
	Upstream string `json:"upstream,omitempty"`
	// Respond answers at the edge instead.
	Respond *Respond `json:"respond,omitempty"`
	// Timeouts bound forwarding.
	Timeouts Timeouts `json:"timeouts,omitzero"`
	// Cache is the route's cache policy.
	Cache RouteCache `json:"cache,omitzero"`
	// Filters run on the route's requests in order, and on its responses
	// in reverse order.
	Filters []RouteFilter `json:"filters,omitempty"`
}

// Match is a route's conditions; all that are set must hold.
type Match struct {
	// Domains restricts the route to some of the tenant's domains.
	Domains []string `json:"domains,omitempty"`
	// Path matches the path exactly.
	Path string `json:"path,omitempty"`
	// PathPrefix matches paths that start with it.
	PathPrefix string `json:"path_prefix,omitempty"`
	// PathRegex matches paths by an RE2 regular expression.
	PathRegex string `json:"path_regex,omitempty"`
	// Methods lists the accepted methods; empty means any.
	Methods []string `json:"methods,omitempty"`
	// Headers must all match.
	Headers []HeaderMatch `json:"headers,omitempty"`
}

// HeaderMatch is one request-header condition.
type HeaderMatch struct {
	// Name of the header.
	Name string `json:"name"`
	// Value the header must equal; empty means it need only be present.
	Value string `json:"value,omitempty"`
}

// Respond is a fixed response served by the edge.
type Respond struct {
	// Status defaults to 200.
	Status int `json:"status,omitempty"`
	// Headers of the response.
	Headers map[string]string `json:"headers,omitempty"`
	// Body of the response.
	Body string `json:"body,omitempty"`
}

// Timeouts bound one forwarded request; zero fields take the node's
// defaults.
type Timeouts struct {
	// Connect bounds dialling an endpoint (node default 5s).
	Connect Duration `json:"connect,omitempty"`
	// ResponseHeader bounds the wait for the upstream's response headers
	// (node default 30s).
	ResponseHeader Duration `json:"response_header,omitempty"`
	// Request bounds the whole exchange (node default: none).
	Request Duration `json:"request,omitempty"`
}

// RouteCache is a route's cache policy.
type RouteCache struct {
	// Enabled turns caching on for the route.
	Enabled bool `json:"enabled,omitempty"`
	// MaxObjectBytes lowers the node's largest stored response; 0: the
	// node's.
	MaxObjectBytes int64 `json:"max_object_bytes,omitempty"`
	// DefaultTTL is the freshness of responses without explicit
	// freshness; 0: off.
	DefaultTTL Duration `json:"default_ttl,omitempty"`
	// Key adjusts the cache key.
	Key CacheKey `json:"key,omitzero"`
	// CacheSetCookie stores responses that carry Set-Cookie.
	CacheSetCookie bool `json:"cache_set_cookie,omitempty"`
}

// CacheKey adjusts how the query takes part in the cache key.
type CacheKey struct {
	// IgnoreQuery leaves the query out of the key.
	IgnoreQuery bool `json:"ignore_query,omitempty"`
	// SortQuery sorts the query parameters.
	SortQuery bool `json:"sort_query,omitempty"`
}

// RouteFilter is one Proxy-Wasm filter on a route.
type RouteFilter struct {
	// Name is unique within the route.
	Name string `json:"name"`
	// Module names one of the tenant's uploaded filters.
	Module string `json:"module"`
	// Config is the plugin configuration: a JSON string is passed as is,
	// any other JSON value as its JSON text.
	Config json.RawMessage `json:"config,omitempty"`
	// FailureMode is "closed" (the default: 503) or "open" (skip the
	// filter) when the filter fails.
	FailureMode string `json:"failure_mode,omitempty"`
	// HTTPUpstreams are the tenant's pools the filter may call.
	HTTPUpstreams []string `json:"http_upstreams,omitempty"`
	// Limits bound the filter's instances.
	Limits FilterLimits `json:"limits,omitzero"`
}

// FilterLimits bound one filter; zero fields take the runtime's defaults,
// lowered to the node's maximums. A field above the node's maximum is
// refused (400, naming the field and the maximum).
type FilterLimits struct {
	// Instances is the number of long-lived instances.
	Instances int `json:"instances,omitempty"`
	// MaxMemoryBytes caps each instance's linear memory.
	MaxMemoryBytes int64 `json:"max_memory_bytes,omitempty"`
	// CallDeadline bounds one call into the filter.
	CallDeadline Duration `json:"call_deadline,omitempty"`
	// MaxBodyBytes caps the body buffered for a filter that pauses.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// MaxHTTPCalls caps the filter's HTTP calls per request.
	MaxHTTPCalls int `json:"max_http_calls,omitempty"`
}

// RouteTable is a tenant's routes, in order.
type RouteTable struct {
	// Routes are tried in order; the first that matches serves.
	Routes []Route `json:"routes"`
	// Revision is the store revision that last changed the table.
	Revision int64 `json:"revision,omitempty"`
}

// TenantConfig is a tenant's pools and routes, replaced together.
type TenantConfig struct {
	// Upstreams are every pool of the tenant.
	Upstreams []Upstream `json:"upstreams"`
	// Routes are the tenant's route table.
	Routes []Route `json:"routes"`
	// Revision is set in answers and ignored in requests.
	Revision int64 `json:"revision,omitempty"`
}

// Purge selects cache entries to purge: exactly one field is set.
type Purge struct {
	// URL purges one absolute URL's entries.
	URL string `json:"url,omitempty"`
	// Host purges every entry of a host.
	Host string `json:"host,omitempty"`
	// Tag purges the entries whose Surrogate-Key named the tag.
	Tag string `json:"tag,omitempty"`
}

// Status is a node's view of the tenant layer.
type Status struct {
	// Node is the node's name.
	Node string `json:"node"`
	// Ready is true once the node serves its first snapshot.
	Ready bool `json:"ready"`
	// Revision is the store revision the node serves.
	Revision int64 `json:"revision"`
	// Store is "embedded" or "etcd".
	Store string `json:"store"`
	// StoreOK is false while the node cannot reach its store.
	StoreOK bool `json:"store_ok"`
	// LastError is the last reload's error, empty when it succeeded.
	LastError string `json:"last_error,omitempty"`
	// AppliedAt is when the node started serving Revision.
	AppliedAt time.Time `json:"applied_at,omitzero"`
	// FromCache is true while the node serves the tenant layer it cached
	// on disk, its store unreachable since it started.
	FromCache bool `json:"from_cache,omitempty"`
}

// NodeStatus is the revision one node serves, as it recorded it in the
// store.
type NodeStatus struct {
	// Node is the node's name.
	Node string `json:"node"`
	// Revision is the store revision the node serves.
	Revision int64 `json:"revision"`
	// AppliedAt is when it started serving it.
	AppliedAt time.Time `json:"applied_at"`
}

// Readiness is a node's answer to /readyz.
type Readiness struct {
	// Ready is true once the node serves its first snapshot.
	Ready bool `json:"ready"`
	// Revision is the store revision it serves. Nodes no longer send it
	// (anyone may ask /readyz): see Status.
	Revision int64 `json:"revision,omitempty"`
	// Error says why the node is not ready. Nodes no longer send it
	// (it may name tenants): Status, with a token, has it.
	Error string `json:"error,omitempty"`
}

package control

import (
	"encoding/json"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// Limits are the operator's limits on one tenant. Zero fields mean no
// limit. They are decoded strictly (YAML or JSON) and written as JSON.
type Limits struct {
	// FilterMaxMemoryBytes caps every filter's linear memory.
	FilterMaxMemoryBytes int64 `yaml:"filter_max_memory_bytes" json:"filter_max_memory_bytes,omitempty"`
	// FilterCallDeadline caps every filter's per-call deadline.
	FilterCallDeadline config.Duration `yaml:"filter_call_deadline" json:"filter_call_deadline,omitempty"`
	// FilterTotalMemoryBytes caps the linear memory the tenant's filters
	// reserve together (instances × max memory, summed); it lowers the
	// node's limits.filters.tenant_max_memory_bytes, never raises it.
	FilterTotalMemoryBytes int64 `yaml:"filter_total_memory_bytes" json:"filter_total_memory_bytes,omitempty"`
	// CacheMaxBytes caps the tenant's bytes in each node's cache.
	CacheMaxBytes int64 `yaml:"cache_max_bytes" json:"cache_max_bytes,omitempty"`
	// RequestRate bounds the tenant's requests per second on each node.
	RequestRate float64 `yaml:"request_rate" json:"request_rate,omitempty"`
	// RequestBurst is the rate's bucket size.
	RequestBurst int `yaml:"request_burst" json:"request_burst,omitempty"`
	// MaxConcurrentRequests bounds the tenant's requests in flight on
	// each node (0: the node's default).
	MaxConcurrentRequests int `yaml:"max_concurrent_requests" json:"max_concurrent_requests,omitempty"`
	// MaxTunnels bounds the tenant's upgraded connections on each node
	// (0: the node's default).
	MaxTunnels int `yaml:"max_tunnels" json:"max_tunnels,omitempty"`
	// Quotas are the tenant's own quotas on what it keeps in the store
	// and asks of the control plane; zero fields take the node's
	// (limits.quotas).
	Quotas config.Quotas `yaml:"quotas" json:"quotas,omitzero"`
}

// apply sets the limits on a tenant's node configuration.
func (l Limits) apply(t *config.Tenant) {
	t.CacheMaxBytes = l.CacheMaxBytes
	t.Limits = config.TenantLimits{
		FilterMaxMemoryBytes:   l.FilterMaxMemoryBytes,
		FilterCallDeadline:     l.FilterCallDeadline,
		FilterTotalMemoryBytes: l.FilterTotalMemoryBytes,
		RequestRate:            l.RequestRate,
		RequestBurst:           l.RequestBurst,
		MaxConcurrentRequests:  l.MaxConcurrentRequests,
		MaxTunnels:             l.MaxTunnels,
	}
}

// tenantBody is the body of PUT /v1/tenants/{tenant}.
type tenantBody struct {
	Limits Limits `yaml:"limits"`
}

// Tenant is a tenant as the API shows it.
type Tenant struct {
	Name     string   `json:"name"`
	Limits   Limits   `json:"limits"`
	Domains  []string `json:"domains"`
	Revision int64    `json:"revision"`
}

// Domain is one of a tenant's domains.
type Domain struct {
	Domain   string `json:"domain"`
	Tenant   string `json:"tenant,omitempty"`
	Revision int64  `json:"revision"`
}

// Token is a tenant token's record. Token (the secret) is set only in
// the response that created it.
type Token struct {
	ID          string    `json:"id"`
	Token       string    `json:"token,omitempty"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
}

// tokenBody is the body of POST /v1/tenants/{tenant}/tokens.
type tokenBody struct {
	Description string `yaml:"description"`
}

// FilterVersion is one uploaded version of a filter.
type FilterVersion struct {
	Version int       `json:"version"`
	SHA256  string    `json:"sha256"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// Filter is an uploaded filter: its current version and its history.
type Filter struct {
	Name     string          `json:"name"`
	Version  int             `json:"version"`
	SHA256   string          `json:"sha256"`
	Size     int64           `json:"size"`
	Versions []FilterVersion `json:"versions"`
	Revision int64           `json:"revision"`
}

// rollbackBody is the body of POST …/filters/{name}/rollback.
type rollbackBody struct {
	Version int `yaml:"version"`
}

// Upstream is a tenant's upstream pool as the API shows it: the
// document as written, plus its name and revision.
type Upstream struct {
	Name      string   `json:"name"`
	Endpoints []string `json:"endpoints"`
	// MaxIdleConns is omitted when 0 (the default).
	MaxIdleConns int   `json:"max_idle_conns,omitempty"`
	Revision     int64 `json:"revision"`
}

// Routes is a tenant's route table. Each route is kept as the tenant
// wrote it (converted to JSON).
type Routes struct {
	Routes   []json.RawMessage `json:"routes"`
	Revision int64             `json:"revision"`
}

// TenantConfig is a tenant's pools and routes, replaced together.
type TenantConfig struct {
	Upstreams []Upstream        `json:"upstreams"`
	Routes    []json.RawMessage `json:"routes"`
	Revision  int64             `json:"revision"`
}

// Status is a node's view of the tenant layer.
type Status struct {
	Node      string    `json:"node"`
	Ready     bool      `json:"ready"`
	Revision  int64     `json:"revision"`
	Store     string    `json:"store"`
	StoreOK   bool      `json:"store_ok"`
	LastError string    `json:"last_error,omitempty"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
	// FromCache: the node serves the tenant layer it cached on disk,
	// its store having been unreachable since it started.
	FromCache bool `json:"from_cache,omitempty"`

	// tenantErrs is LastError's part about each tenant, by name: what a
	// tenant's token is shown of it.
	tenantErrs map[string]string
	// seen is the store revision of the tenant layer last read (applied
	// or not): the admin API forgets unknown tokens when it moves.
	seen int64
}

// NodeStatus is the revision a node serves, as it recorded it.
type NodeStatus struct {
	Node      string    `json:"node"`
	Revision  int64     `json:"revision"`
	AppliedAt time.Time `json:"applied_at"`
}

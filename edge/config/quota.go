package config

import "runtime"

// Quotas bound what one tenant managed through the admin API may keep in
// the shared store and ask of the control plane, so that no tenant can
// fill the store (etcd's quota is the whole fleet's) or wear down the
// admin API for the others. They are the node file's limits.quotas: the
// default of every tenant; the operator may set a tenant's own in its
// limits (PUT /v1/tenants/NAME {limits: {quotas: …}}). Zero fields take
// the defaults named. A change that would take a tenant past a size
// quota is refused whole (409, or 413 for bytes) and writes nothing; a
// tenant already past one (the operator lowered it) may still make
// changes that do not grow what the quota counts. Every node of a fleet
// should have the same quotas: each checks the changes it accepts.
type Quotas struct {
	// MaxFilters bounds the tenant's uploaded filters (names). 0 =
	// DefaultMaxFilters.
	MaxFilters int `yaml:"max_filters" json:"max_filters,omitempty"`
	// MaxFilterVersions is how many versions of each filter are kept
	// (the oldest is dropped past it, and rollback reaches only those
	// kept). 0 = DefaultMaxFilterVersions.
	MaxFilterVersions int `yaml:"max_filter_versions" json:"max_filter_versions,omitempty"`
	// MaxStoredBytes bounds the bytes of the tenant's filter modules kept
	// in the store: the size of every distinct module its filters' kept
	// versions name. An upload past it is 413. 0 =
	// DefaultMaxStoredBytes.
	MaxStoredBytes int64 `yaml:"max_stored_bytes" json:"max_stored_bytes,omitempty"`
	// MaxPools bounds the tenant's upstream pools. 0 = DefaultMaxPools.
	MaxPools int `yaml:"max_pools" json:"max_pools,omitempty"`
	// MaxEndpoints bounds the endpoints of all the tenant's pools
	// together. 0 = DefaultMaxEndpoints.
	MaxEndpoints int `yaml:"max_endpoints" json:"max_endpoints,omitempty"`
	// MaxRoutes bounds the tenant's routes. 0 = DefaultMaxRoutes.
	MaxRoutes int `yaml:"max_routes" json:"max_routes,omitempty"`
	// MaxDomains bounds the tenant's domains. 0 = DefaultMaxDomains.
	MaxDomains int `yaml:"max_domains" json:"max_domains,omitempty"`
	// PurgesPerMinute bounds the purges each node accepts from the
	// tenant (a token bucket of that size, refilled over a minute); past
	// it a purge gets 429 with Retry-After. 0 = DefaultPurgesPerMinute.
	PurgesPerMinute int `yaml:"purges_per_minute" json:"purges_per_minute,omitempty"`
	// MaxConcurrentUploads bounds the tenant's filter uploads being
	// received and checked at once on each node; past it an upload gets
	// 429 with Retry-After. 0 = DefaultMaxConcurrentUploads.
	MaxConcurrentUploads int `yaml:"max_concurrent_uploads" json:"max_concurrent_uploads,omitempty"`
}

// Defaults of Quotas: room for a real deployment (tens of filters and
// pools, hundreds of routes), with a tenant's share of an etcd store (2
// GiB by default) at 64 MiB of modules.
const (
	DefaultMaxFilters           = 32
	DefaultMaxFilterVersions    = 10
	DefaultMaxStoredBytes       = 64 << 20
	DefaultMaxPools             = 64
	DefaultMaxEndpoints         = 256
	DefaultMaxRoutes            = 256
	DefaultMaxDomains           = 64
	DefaultPurgesPerMinute      = 60
	DefaultMaxConcurrentUploads = 2
	// maxQuota is the widest any count quota may be set.
	maxQuota = 1_000_000
)

// WithDefaults fills the zero fields with their defaults.
func (q Quotas) WithDefaults() Quotas {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&q.MaxFilters, DefaultMaxFilters)
	def(&q.MaxFilterVersions, DefaultMaxFilterVersions)
	def(&q.MaxPools, DefaultMaxPools)
	def(&q.MaxEndpoints, DefaultMaxEndpoints)
	def(&q.MaxRoutes, DefaultMaxRoutes)
	def(&q.MaxDomains, DefaultMaxDomains)
	def(&q.PurgesPerMinute, DefaultPurgesPerMinute)
	def(&q.MaxConcurrentUploads, DefaultMaxConcurrentUploads)
	if q.MaxStoredBytes == 0 {
		q.MaxStoredBytes = DefaultMaxStoredBytes
	}
	return q
}

// For returns the quotas of a tenant whose own quotas are own: its fields
// where set, else q's (with defaults).
func (q Quotas) For(own Quotas) Quotas {
	q = q.WithDefaults()
	set := func(v *int, o int) {
		if o > 0 {
			*v = o
		}
	}
	set(&q.MaxFilters, own.MaxFilters)
	set(&q.MaxFilterVersions, own.MaxFilterVersions)
	set(&q.MaxPools, own.MaxPools)
	set(&q.MaxEndpoints, own.MaxEndpoints)
	set(&q.MaxRoutes, own.MaxRoutes)
	set(&q.MaxDomains, own.MaxDomains)
	set(&q.PurgesPerMinute, own.PurgesPerMinute)
	set(&q.MaxConcurrentUploads, own.MaxConcurrentUploads)
	if own.MaxStoredBytes > 0 {
		q.MaxStoredBytes = own.MaxStoredBytes
	}
	return q
}

// Validate checks q's fields, with paths under prefix (e.g.
// "limits.quotas").
func (q Quotas) Validate(prefix string) []*FieldError {
	var ps problems
	q.validate(&ps, prefix)
	return ps
}

func (q Quotas) validate(ps *problems, prefix string) {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"max_filters", q.MaxFilters},
		{"max_filter_versions", q.MaxFilterVersions},
		{"max_pools", q.MaxPools},
		{"max_endpoints", q.MaxEndpoints},
		{"max_routes", q.MaxRoutes},
		{"max_domains", q.MaxDomains},
		{"purges_per_minute", q.PurgesPerMinute},
		{"max_concurrent_uploads", q.MaxConcurrentUploads},
	} {
		if f.v < 0 || f.v > maxQuota {
			ps.add(prefix+"."+f.name, "%d: want 0 (the default) to %d", f.v, maxQuota)
		}
	}
	if q.MaxStoredBytes < 0 || q.MaxStoredBytes > 1<<40 {
		ps.add(prefix+".max_stored_bytes", "%d: want 0 (the default) to 1 TiB", q.MaxStoredBytes)
	}
}

// Uploads sizes the node's pool of upload checks: every filter uploaded
// through the admin API is compiled and started before it is accepted,
// which costs a core for up to seconds. The node file's limits.uploads.
type Uploads struct {
	// Workers is how many uploads are checked at once. 0 =
	// min(GOMAXPROCS, 4).
	Workers int `yaml:"workers"`
	// Queue is how many more wait for a worker; past it an upload gets
	// 429 with Retry-After. 0 = DefaultUploadQueue.
	Queue int `yaml:"queue"`
}

// DefaultUploadQueue is the uploads that may wait for a worker.
const DefaultUploadQueue = 16

// WithDefaults fills the zero fields with their defaults.
func (u Uploads) WithDefaults() Uploads {
	if u.Workers == 0 {
		u.Workers = min(runtime.GOMAXPROCS(0), 4)
	}
	if u.Queue == 0 {
		u.Queue = DefaultUploadQueue
	}
	return u
}

func (u Uploads) validate(ps *problems) {
	if u.Workers < 0 || u.Workers > 1024 {
		ps.add("limits.uploads.workers", "%d: want 0 (the default) to 1024", u.Workers)
	}
	if u.Queue < 0 || u.Queue > 1_000_000 {
		ps.add("limits.uploads.queue", "%d: want 0 (the default) to 1000000", u.Queue)
	}
}

// Package cache is Wedge's shared HTTP cache (RFC 9111), an http
// middleware that sits in front of a route's upstream forwarding.
//
// A Cache is bounded in bytes (bodies, header fields and key overhead) and
// split into shards, each an LRU under its own mutex with an equal part of
// the budget. Entries are keyed by tenant + method (HEAD is answered from
// the GET entry) + scheme + host + path + query (+ the request header
// fields named by the response's Vary). Handler returns the middleware for
// one route; concurrent misses for one key are coalesced into a single
// upstream request; stale entries are revalidated with conditional
// requests; responses carry Age and Cache-Status (RFC 9211).
//
// Choices where RFC 9111 leaves room (or the cache is stricter):
//   - A request with Cache-Control: no-store is neither stored nor served
//     from storage. Pragma: no-cache counts as no-cache only without
//     Cache-Control.
//   - Qualified no-cache="f" and private="f" act as their unqualified
//     forms. Duplicated directives take the most restrictive value;
//     invalid max-age/s-maxage/Expires make a response stale.
//   - s-maxage implies proxy-revalidate: no max-stale or request
//     stale-if-error for such responses, but the origin's own
//     stale-while-revalidate and stale-if-error are honoured.
//   - Responses that could never be reused (no freshness, no validators,
//     no stale-if-error) are not stored; nor are responses announcing
//     Trailer, 206, or Vary: *.
//   - Range: one byte range is served from a stored 200 (206 or 416);
//     several ranges are ignored (200). If-Range is honoured (strong
//     ETag or exact Last-Modified date).
//   - Budgets (MaxBytes, TenantMaxBytes) are split evenly over the shards,
//     so a response larger than a shard's share is not stored.
//   - Purges and invalidations cover every query policy (as given, sorted,
//     without the query) of the URL, and all its Vary variants.
package cache

import (
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Config sizes a Cache. The caller's copy is never changed.
type Config struct {
	// MaxBytes is the total budget in bytes, counting bodies, header
	// fields and a fixed per-entry overhead. Required, > 0. Each shard
	// gets MaxBytes/Shards.
	MaxBytes int64
	// MaxObjectBytes is the largest response stored; larger ones stream
	// through uncached. 0 means 8 MiB. A response must also fit its
	// shard's budget (and its tenant's per-shard cap) to be stored.
	MaxObjectBytes int64
	// Shards is the number of independently locked LRUs. 0 means 16.
	Shards int
	// TenantMaxBytes optionally caps the bytes of a tenant's entries. A
	// tenant over its cap evicts its own least recently used entries
	// first. Like MaxBytes the cap is split evenly over the shards. Tenants
	// not in the map are bounded only by MaxBytes. SetTenantMaxBytes
	// changes the caps later.
	TenantMaxBytes map[string]int64
	// TargetedField is the node's own targeted cache-control field (RFC
	// 9213), for example "Wedge-Cache-Control": first on the target
	// list, before CDN-Cache-Control. Empty: CDN-Cache-Control only. It
	// must be a field name token other than Cache-Control and
	// CDN-Cache-Control.
	TargetedField string
}

// DefaultMaxObjectBytes is the MaxObjectBytes of a zero Config.
const DefaultMaxObjectBytes = 8 << 20

// DefaultShards is the Shards of a zero Config.
const DefaultShards = 16

// ErrConfig is wrapped by every error New returns.
var ErrConfig = errors.New("cache: invalid config")

// Cache is a shared HTTP cache. It is safe for concurrent use.
type Cache struct {
	shards    []*shard
	maxObject int64
	seed      maphash.Seed
	// caps are the per-shard tenant caps. Read under a shard's lock
	// where entries are stored, so that SetTenantMaxBytes, which then
	// sweeps every shard under its lock, leaves no entry over a new cap.
	caps atomic.Pointer[map[string]int64]

	tenantMu sync.Mutex
	tenants  map[string]*tenantStats

	// targets is the target list (RFC 9213 §2.2), canonical names in
	// order: Config.TargetedField if set, then CDN-Cache-Control.
	targets []string

	now func() time.Time // the clock; tests replace it
	bg  sync.WaitGroup   // background refreshes, waited for by tests
}

// tenantStats holds a tenant's counters across all shards.
type tenantStats struct {
	hits, misses, evictions atomic.Uint64
}

// New returns a Cache sized by cfg.
func New(cfg Config) (*Cache, error) {
	var errs []error
	if cfg.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("%w: MaxBytes must be > 0, got %d", ErrConfig, cfg.MaxBytes))
	}
	if cfg.MaxObjectBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxObjectBytes must be >= 0, got %d", ErrConfig, cfg.MaxObjectBytes))
	}
	if cfg.Shards < 0 {
		errs = append(errs, fmt.Errorf("%w: Shards must be >= 0, got %d", ErrConfig, cfg.Shards))
	}
	errs = append(errs, checkCaps(cfg.TenantMaxBytes)...)
	if err := CheckTargetedField(cfg.TargetedField); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	n := cfg.Shards
	if n == 0 {
		n = DefaultShards
	}
	c := &Cache{
		maxObject: cfg.MaxObjectBytes,
		seed:      maphash.MakeSeed(),
		tenants:   map[string]*tenantStats{},
		now:       time.Now,
		targets:   []string{CDNCacheControl},
	}
	if cfg.TargetedField != "" {
		c.targets = []string{http.CanonicalHeaderKey(cfg.TargetedField), CDNCacheControl}
	}
	if c.maxObject == 0 {
		c.maxObject = DefaultMaxObjectBytes
	}
	c.caps.Store(perShard(cfg.TenantMaxBytes, n))
	for range n {
		lru, err := simplelru.NewLRU[uint64, *entry](math.MaxInt, nil)
		if err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		c.shards = append(c.shards, &shard{
			c:       c,
			lru:     lru,
			budget:  cfg.MaxBytes / int64(n),
			tenants: map[string]*tenantList{},
			flights: map[uint64]*flight{},
		})
	}
	return c, nil
}

// CheckTargetedField reports whether name may be Config.TargetedField:
// empty, or a field-name token other than Cache-Control and
// CDN-Cache-Control. The error wraps ErrConfig.
func CheckTargetedField(name string) error {
	if name == "" {
		return nil
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("%w: TargetedField %q is not a header field name", ErrConfig, name)
		}
	}
	if strings.EqualFold(name, "Cache-Control") || strings.EqualFold(name, "CDN-Cache-Control") {
		return fmt.Errorf("%w: TargetedField %q must be the node's own field, not %s", ErrConfig, name, name)
	}
	return nil
}

// checkCaps reports the tenant caps that are not > 0.
func checkCaps(caps map[string]int64) []error {
	var errs []error
	for _, t := range slices.Sorted(maps.Keys(caps)) {
		if n := caps[t]; n <= 0 {
			errs = append(errs, fmt.Errorf("%w: TenantMaxBytes[%s] must be > 0, got %d", ErrConfig, t, n))
		}
	}
	return errs
}

// perShard splits each tenant cap evenly over n shards.
func perShard(caps map[string]int64, n int) *map[string]int64 {
	m := make(map[string]int64, len(caps))
	for t, b := range caps {
		m[t] = b / int64(n)
	}
	return &m
}

// tenantCap returns the per-shard cap of tenant, if it has one.
func (c *Cache) tenantCap(tenant string) (int64, bool) {
	limit, ok := (*c.caps.Load())[tenant]
	return limit, ok
}

// SetTenantMaxBytes replaces the tenant caps (see Config.TenantMaxBytes)
// while the cache serves: a tenant whose cap is lowered loses its least
// recently used entries until it fits, counted as evictions; a tenant
// left out of caps is bounded only by MaxBytes from now on. caps is not
// retained. On error (a cap not > 0, wrapping ErrConfig) nothing changes.
func (c *Cache) SetTenantMaxBytes(caps map[string]int64) error {
	if errs := checkCaps(caps); len(errs) > 0 {
		return errors.Join(errs...)
	}
	m := perShard(caps, len(c.shards))
	c.caps.Store(m)
	for _, s := range c.shards {
		s.mu.Lock()
		for t, tl := range s.tenants {
			if limit, ok := (*m)[t]; ok {
				s.trim(tl, limit, nil)
			}
		}
		s.mu.Unlock()
	}
	return nil
}

// stats returns the counters of tenant, made on first use.
func (c *Cache) stats(tenant string) *tenantStats {
	c.tenantMu.Lock()
	defer c.tenantMu.Unlock()
	ts := c.tenants[tenant]
	if ts == nil {
		ts = &tenantStats{}
		c.tenants[tenant] = ts
	}
	return ts
}

func (c *Cache) shardFor(primary uint64) *shard {
	return c.shards[(primary>>32^primary)%uint64(len(c.shards))]
}

// Stats is a snapshot of a Cache's counters.
type Stats struct {
	// Bytes is the size of all entries, as counted against MaxBytes.
	Bytes int64
	// Entries is the number of stored responses (variants included).
	Entries int64
	// Hits counts requests answered from storage without going upstream
	// (fresh hits, allowed stale, stale-while-revalidate, coalesced
	// waiters served from the leader's entry).
	Hits uint64
	// Misses counts GET and HEAD requests that went upstream: misses,
	// revalidations, and requests the cache could not answer.
	Misses uint64
	// Evictions counts entries removed to make room (not purges,
	// invalidations or replacements).
	Evictions uint64
	// Tenants has the same counters per tenant.
	Tenants map[string]TenantStats
}

// TenantStats are one tenant's counters; see Stats.
type TenantStats struct {
	Bytes, Entries          int64
	Hits, Misses, Evictions uint64
}

// Stats returns the current counters. Byte and entry counts are read
// shard by shard, each under its lock, so Bytes never exceeds MaxBytes
// (nor a tenant's Bytes its cap) even while entries are being stored.
func (c *Cache) Stats() Stats {
	s := Stats{Tenants: map[string]TenantStats{}}
	for _, sh := range c.shards {
		sh.mu.Lock()
		s.Bytes += sh.bytes
		for t, tl := range sh.tenants {
			v := s.Tenants[t]
			v.Bytes += tl.bytes
			v.Entries += tl.entries
			s.Tenants[t] = v
			s.Entries += tl.entries
		}
		sh.mu.Unlock()
	}
	c.tenantMu.Lock()
	defer c.tenantMu.Unlock()
	for t, ts := range c.tenants {
		v := s.Tenants[t]
		v.Hits, v.Misses, v.Evictions = ts.hits.Load(), ts.misses.Load(), ts.evictions.Load()
		s.Tenants[t] = v
		s.Hits += v.Hits
		s.Misses += v.Misses
		s.Evictions += v.Evictions
	}
	return s
}

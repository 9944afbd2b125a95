package cache

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// entryOverhead is what an entry costs beyond its strings and body: the
// struct, the LRU element and map slot, the header map.
const entryOverhead = 256

// entry is a stored response, or a Vary marker: the record, under the
// primary key, of the Vary field names of the latest response and of the
// variants stored under secondary keys.
//
// Everything but the list links, variants and refreshing is immutable once
// the entry is in a shard: an update replaces the entry.
type entry struct {
	hash    uint64 // the LRU key: primary hash, or variant hash
	primary uint64
	key     storedKey
	tenant  string
	ts      *tenantStats
	size    int64

	marker   bool
	names    []string            // marker: Vary names, canonical and sorted
	variants map[uint64]struct{} // marker: hashes of the variants (shard lock)
	vals     []string            // variant: the request's values for names

	status  int
	header  http.Header // never mutated: hits assign its slices
	body    []byte
	cc      directives
	etag    string
	lastMod string
	tags    []string // Surrogate-Key

	responseTime time.Time
	initialAge   time.Duration // corrected_initial_age (RFC 9111 §4.2.3)
	lifetime     time.Duration // freshness_lifetime (§4.2.1)
	noStale      bool          // must-revalidate, proxy-revalidate, s-maxage or no-cache

	refreshing atomic.Bool // a stale-while-revalidate refresh is in flight

	tprev, tnext *entry // the tenant's LRU list in its shard (shard lock)
}

// computeSize sets e.size from its contents.
func (e *entry) computeSize() {
	n := int64(entryOverhead + len(e.body))
	n += int64(len(e.key.tenant) + len(e.key.scheme) + len(e.key.host) + len(e.key.path) + len(e.key.query))
	for k, vv := range e.header {
		n += int64(len(k)) + 16
		for _, v := range vv {
			n += int64(len(v)) + 16
		}
	}
	for _, s := range e.names {
		n += int64(len(s)) + 16
	}
	for _, s := range e.vals {
		n += int64(len(s)) + 16
	}
	if e.vals != nil {
		n += 16 // the marker's set slot
	}
	e.size = n
}

// shard is one independently locked LRU with its part of the budget.
type shard struct {
	mu      sync.Mutex
	c       *Cache
	lru     *simplelru.LRU[uint64, *entry]
	bytes   int64
	budget  int64
	tenants map[string]*tenantList
	flights map[uint64]*flight
}

// tenantList is a tenant's entries in one shard, most recently used
// first, for evicting within a tenant over its cap.
type tenantList struct {
	head, tail     *entry
	bytes, entries int64
}

func (tl *tenantList) unlink(e *entry) {
	if e.tprev != nil {
		e.tprev.tnext = e.tnext
	} else {
		tl.head = e.tnext
	}
	if e.tnext != nil {
		e.tnext.tprev = e.tprev
	} else {
		tl.tail = e.tprev
	}
	e.tprev, e.tnext = nil, nil
}

func (tl *tenantList) pushFront(e *entry) {
	e.tprev, e.tnext = nil, tl.head
	if tl.head != nil {
		tl.head.tprev = e
	} else {
		tl.tail = e
	}
	tl.head = e
}

// get returns the entry under hash, marking it used. Caller holds s.mu.
func (s *shard) get(hash uint64) *entry {
	e, ok := s.lru.Get(hash)
	if !ok {
		return nil
	}
	if tl := s.tenants[e.tenant]; tl != nil && tl.head != e {
		tl.unlink(e)
		tl.pushFront(e)
	}
	return e
}

func (s *shard) peek(hash uint64) *entry {
	e, _ := s.lru.Peek(hash)
	return e
}

// add puts e in the shard; room has been made. Caller holds s.mu.
func (s *shard) add(e *entry) {
	s.lru.Add(e.hash, e)
	tl := s.tenants[e.tenant]
	if tl == nil {
		tl = &tenantList{}
		s.tenants[e.tenant] = tl
	}
	tl.pushFront(e)
	tl.bytes += e.size
	s.bytes += e.size
	if !e.marker {
		tl.entries++
	}
}

// remove takes e out of the shard, with its variants if it is a marker.
// It reports how many responses it removed. Caller holds s.mu.
func (s *shard) remove(e *entry, evicted bool) int {
	if cur, ok := s.lru.Peek(e.hash); !ok || cur != e {
		return 0
	}
	s.lru.Remove(e.hash)
	tl := s.tenants[e.tenant]
	tl.unlink(e)
	tl.bytes -= e.size
	s.bytes -= e.size
	n := 0
	if !e.marker {
		tl.entries--
		n = 1
		if evicted {
			e.ts.evictions.Add(1)
		}
	}
	if tl.head == nil {
		delete(s.tenants, e.tenant)
	}
	if e.marker {
		for h := range e.variants {
			if v := s.peek(h); v != nil && v.primary == e.hash && !v.marker {
				n += s.remove(v, evicted)
			}
		}
	} else if e.vals != nil {
		if m := s.peek(e.primary); m != nil && m.marker {
			delete(m.variants, e.hash)
		}
	}
	return n
}

// makeRoom evicts least recently used entries until need more bytes fit
// both the tenant's cap and the shard's budget, never evicting protect.
// It reports false when need cannot fit at all. Caller holds s.mu.
func (s *shard) makeRoom(tenant string, need int64, protect *entry) bool {
	var kept int64
	if protect != nil {
		kept = protect.size
	}
	if need+kept > s.budget {
		return false
	}
	if limit, ok := s.c.tenantCap(tenant); ok {
		if need+kept > limit {
			return false
		}
		if tl := s.tenants[tenant]; tl != nil && !s.trim(tl, limit-need, protect) {
			return false
		}
	}
	for s.bytes+need > s.budget {
		_, victim, ok := s.lru.GetOldest()
		if !ok {
			return false
		}
		if victim == protect {
			s.get(victim.hash) // to the front; the next oldest goes
			continue
		}
		s.remove(victim, true)
	}
	return true
}

// trim evicts the least recently used entries of the tenant list tl,
// never protect, until its bytes are at most limit. It reports false when
// they cannot be. Caller holds s.mu.
func (s *shard) trim(tl *tenantList, limit int64, protect *entry) bool {
	for tl.bytes > limit {
		victim := tl.tail
		if victim == protect {
			victim = victim.tprev
		}
		if victim == nil {
			return false
		}
		s.remove(victim, true)
	}
	return true
}

// store puts the response e in its shard under its primary key, or, with
// names, as a variant under a Vary marker. It replaces what was stored
// under the same key and reports whether e fit.
func (c *Cache) store(e *entry, names []string) bool {
	s := c.shardFor(e.primary)
	s.mu.Lock()
	defer s.mu.Unlock()
	if names == nil {
		e.hash = e.primary
		if old := s.peek(e.hash); old != nil {
			s.remove(old, false)
		}
		if !s.makeRoom(e.tenant, e.size, nil) {
			return false
		}
		s.add(e)
		return true
	}
	m := s.peek(e.primary)
	if m != nil && (!m.marker || !equalStrings(m.names, names)) {
		s.remove(m, false) // the latest response's Vary names rule
		m = nil
	}
	if m == nil {
		m = &entry{hash: e.primary, primary: e.primary, key: e.key, tenant: e.tenant, ts: e.ts, marker: true,
			names: names, variants: map[uint64]struct{}{}}
		m.computeSize()
		if !s.makeRoom(e.tenant, m.size+e.size, nil) {
			return false
		}
		s.add(m)
	}
	if e.hash == m.hash {
		return false // a secondary hash equal to the primary: do not store
	}
	if old := s.peek(e.hash); old != nil {
		s.remove(old, false)
	}
	if !s.makeRoom(e.tenant, e.size, m) {
		return false
	}
	s.add(e)
	m.variants[e.hash] = struct{}{}
	return true
}

// lookup returns the stored response for the request key k with request
// header h, or nil. uriMiss reports that nothing is stored for the primary
// key (as opposed to a Vary miss). It does not allocate.
func (c *Cache) lookup(k *reqKey, h http.Header) (e *entry, uriMiss bool) {
	s := c.shardFor(k.hash)
	s.mu.Lock()
	e = s.get(k.hash)
	if e == nil || !e.key.matches(k) {
		s.mu.Unlock()
		return nil, true
	}
	if e.marker {
		names := e.names
		v := s.get(c.variantHash(k.hash, names, h))
		if v == nil || v.marker || v.primary != k.hash || !v.key.matches(k) || !varyMatches(names, v.vals, h) {
			v = nil
		}
		e = v
	}
	s.mu.Unlock()
	return e, false
}

// removeKey removes the response (or all variants) stored under the
// primary key k, reporting how many responses went.
func (c *Cache) removeKey(k *reqKey) int {
	s := c.shardFor(k.hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.peek(k.hash)
	if e == nil || !e.key.matches(k) {
		return 0
	}
	return s.remove(e, false)
}

// removeEntry removes e if it is still stored.
func (c *Cache) removeEntry(e *entry) {
	s := c.shardFor(e.primary)
	s.mu.Lock()
	s.remove(e, false)
	s.mu.Unlock()
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

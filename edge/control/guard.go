package control

import (
	"context"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"
)

// What keeps one tenant, or an unauthenticated client, from wearing down
// the control plane: token buckets by key (purges per tenant, unknown
// tokens per client address), the negative cache of unknown tokens, and
// the pool that checks uploads. Each is bounded in memory, and each
// takes its time from the Admin's clock, so tests drive it without
// sleeping.

// buckets are token buckets by key, at most max keys. A key not seen
// for long enough to refill completely is as good as new, so it is what
// is dropped when the map is full (searched for at most once a second);
// until there is room, new keys share one overflow bucket (never more
// memory, and the flood still pays).
type buckets struct {
	mu       sync.Mutex
	max      int
	m        map[string]*bucket
	overflow bucket
	scanned  time.Time // the last search for refilled keys to drop
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newBuckets(max int) *buckets { return &buckets{max: max, m: map[string]*bucket{}} }

// refill brings b to now at rate per second, at most burst.
func (b *bucket) refill(now time.Time, rate, burst float64) {
	if b.last.IsZero() {
		b.tokens, b.last = burst, now
		return
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(burst, b.tokens+d.Seconds()*rate)
		b.last = now
	}
}

// get returns key's bucket, refilled to now. Called with mu held.
func (bs *buckets) get(key string, now time.Time, rate, burst float64) *bucket {
	b := bs.m[key]
	if b == nil {
		// At most one search a second: a flood of new keys costs the
		// overflow bucket, not a walk of the map each.
		if len(bs.m) >= bs.max && now.Sub(bs.scanned) >= time.Second {
			bs.scanned = now
			for k, old := range bs.m {
				if old.tokens+now.Sub(old.last).Seconds()*rate >= burst {
					delete(bs.m, k)
				}
			}
		}
		if len(bs.m) >= bs.max {
			b = &bs.overflow
		} else {
			b = &bucket{}
			bs.m[key] = b
		}
	}
	b.refill(now, rate, burst)
	return b
}

// take spends one token of key's bucket (rate per second, burst at
// most). When there is none it spends nothing and returns how long until
// there is one.
func (bs *buckets) take(key string, now time.Time, rate, burst float64) (ok bool, wait time.Duration) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.get(key, now, rate, burst)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// empty reports whether key's bucket has no token left, and how long
// until it has one; it spends nothing.
func (bs *buckets) empty(key string, now time.Time, rate, burst float64) (bool, time.Duration) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.get(key, now, rate, burst)
	if b.tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// retryAfter is a wait in whole seconds, at least 1, for Retry-After.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// Unknown bearer tokens, per client address: each costs at most one store
// read (then the negative cache answers), and an address that sends more
// than authBurst of them is refused with 429 until its bucket refills at
// authRate per second. The operator's and the node file's tokens are
// known without the store and are never refused for it.
const (
	authRate       = 1.0
	authBurst      = 20
	authAddrs      = 16384 // addresses tracked
	negTokensMax   = 8192  // unknown token hashes remembered
	purgeTenantMax = 65536 // tenants whose purge rate is tracked
)

// clientKey is the address a request's unknown tokens are counted by: the
// IPv4 address, or the /64 of an IPv6 one (one host holds a /64).
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// negCache remembers the SHA-256 of tokens the store does not know, at
// most max of them (the oldest forgotten first), for as long as the
// store's tenant layer is at the generation they were read at: a change
// to it (a token created on any node of the fleet is one) forgets them
// all.
type negCache struct {
	mu   sync.Mutex
	max  int
	gen  int64
	set  map[[32]byte]struct{}
	ring [][32]byte // insertion order, len ≤ max
	next int        // the ring's oldest, once full
}

func newNegCache(max int) *negCache {
	return &negCache{max: max, set: map[[32]byte]struct{}{}}
}

// sync forgets everything when the generation moved. Called with mu held.
func (c *negCache) sync(gen int64) {
	if gen != c.gen {
		c.gen = gen
		clear(c.set)
		c.ring = c.ring[:0]
		c.next = 0
	}
}

func (c *negCache) has(sum [32]byte, gen int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sync(gen)
	_, ok := c.set[sum]
	return ok
}

func (c *negCache) add(sum [32]byte, gen int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sync(gen)
	if _, ok := c.set[sum]; ok {
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, sum)
	} else {
		delete(c.set, c.ring[c.next])
		c.ring[c.next] = sum
		c.next = (c.next + 1) % c.max
	}
	c.set[sum] = struct{}{}
}

// forget removes sum (a token just created).
func (c *negCache) forget(sum [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.set[sum]; !ok {
		return
	}
	delete(c.set, sum)
	for i, s := range c.ring {
		if s == sum {
			c.ring[i] = [32]byte{} // a hole: the zero hash is nobody's token
			break
		}
	}
}

func (c *negCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.set)
}

// uploadPool bounds the upload checks (compile and start) run at once to
// workers, with at most queue more waiting; past that acquire fails at
// once.
type uploadPool struct {
	slots   chan struct{}
	mu      sync.Mutex
	queue   int
	waiting int
}

func newUploadPool(workers, queue int) *uploadPool {
	return &uploadPool{slots: make(chan struct{}, workers), queue: queue}
}

// errPoolFull is acquire's answer when every worker is busy and the
// queue is full.
var errPoolFull = &apiError{status: 429}

// acquire takes a worker, waiting in the queue if there is room. release
// gives it back.
func (p *uploadPool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	p.mu.Lock()
	if p.waiting >= p.queue {
		p.mu.Unlock()
		return errPoolFull
	}
	p.waiting++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
	}()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *uploadPool) release() { <-p.slots }

// queued is how many acquires wait.
func (p *uploadPool) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}

// counter counts what each key holds at once (uploads per tenant).
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

// inc adds one to key unless it already holds limit.
func (c *counter) inc(key string, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	if c.m[key] >= limit {
		return false
	}
	c.m[key]++
	return true
}

func (c *counter) dec(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key]--; c.m[key] <= 0 {
		delete(c.m, key)
	}
}

// Package upstream holds a tenant's pools of origin endpoints: endpoint
// selection and the keep-alive transports that forward to them.
package upstream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// Pool is one upstream pool. Its endpoints are picked round-robin. A Pool
// lives across configuration snapshots while its definition is unchanged,
// so its keep-alive connections survive reloads.
type Pool struct {
	// Tenant owns the pool.
	Tenant string
	// Name is the pool's name within its tenant.
	Name string

	endpoints []string
	maxIdle   int
	next      atomic.Uint32

	mu      sync.Mutex
	clients map[Timeouts]*Client
}

// Timeouts are the transport-level limits of one forwarded request.
type Timeouts struct {
	// Connect bounds dialling an endpoint.
	Connect time.Duration
	// ResponseHeader bounds the wait for response headers once the request
	// has been written.
	ResponseHeader time.Duration
}

// NewPool makes the pool described by u for tenant.
func NewPool(tenant string, u *config.Upstream) *Pool {
	maxIdle := u.MaxIdleConns
	if maxIdle == 0 {
		maxIdle = config.DefaultMaxIdleConns
	}
	return &Pool{
		Tenant:    tenant,
		Name:      u.Name,
		endpoints: append([]string(nil), u.Endpoints...),
		maxIdle:   maxIdle,
		clients:   map[Timeouts]*Client{},
	}
}

// Same reports whether p was made from a definition equal to u, so that a
// new snapshot may keep p and its connections.
func (p *Pool) Same(tenant string, u *config.Upstream) bool {
	maxIdle := u.MaxIdleConns
	if maxIdle == 0 {
		maxIdle = config.DefaultMaxIdleConns
	}
	if p.Tenant != tenant || p.Name != u.Name || p.maxIdle != maxIdle || len(p.endpoints) != len(u.Endpoints) {
		return false
	}
	for i, e := range u.Endpoints {
		if p.endpoints[i] != e {
			return false
		}
	}
	return true
}

// Pick returns the next endpoint's host:port, round-robin.
func (p *Pool) Pick() string {
	if len(p.endpoints) == 1 {
		return p.endpoints[0]
	}
	n := p.next.Add(1)
	return p.endpoints[int(n%uint32(len(p.endpoints)))]
}

// Client returns the pool's forwarding client for t, made on first use.
// Routes with equal timeouts share one client and its connections.
func (p *Pool) Client(t Timeouts) *Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[t]; ok {
		return c
	}
	c := newClient(t, p.maxIdle)
	p.clients[t] = c
	return c
}

// Close closes the pool's idle connections. Requests in flight finish;
// their connections close when they are done.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.Close()
	}
}

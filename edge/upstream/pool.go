// Package upstream holds a tenant's pools of origin endpoints: endpoint
// choice with passive health, and the keep-alive HTTP/1.1 client that
// forwards to them.
package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/egress"
)

// DownFor is how long an endpoint that refused or timed out a connection
// is skipped, while the pool has endpoints that are not down.
const DownFor = 5 * time.Second

// Pool is one upstream pool. Its endpoints are picked round-robin, skipping
// those that recently failed to connect. A Pool lives across configuration
// snapshots while its definition is unchanged, so its keep-alive
// connections survive reloads.
type Pool struct {
	// Tenant owns the pool.
	Tenant string
	// Name is the pool's name within its tenant.
	Name string

	endpoints []*endpoint
	next      atomic.Uint32
	client    *Client
}

type endpoint struct {
	addr      string
	downUntil atomic.Int64 // unix nanoseconds; 0 = up
}

// Timeouts are the transport-level limits of one forwarded request.
type Timeouts struct {
	// Connect bounds dialling an endpoint.
	Connect time.Duration
	// ResponseHeader bounds the wait for response headers once the request
	// has been written, and any stall of the upstream in reading the
	// request body.
	ResponseHeader time.Duration
	// Interim, when set, receives the exchange's interim responses
	// (103 Early Hints and the like; not 100 Continue, which the
	// client's own server answers, nor 101): each is written to it with
	// its header fields, which are removed again afterwards. It rides
	// with the timeouts so that a request pays no allocation for it.
	Interim http.ResponseWriter
}

// NewPool makes the pool described by u for tenant. Every connection it
// opens is checked against eg on the resolved address; nil allows every
// destination.
//
// maxConns bounds the connections open to each endpoint (idle and in
// use): past it a request fails with ErrEndpointFull rather than dial.
// 0: no bound.
func NewPool(tenant string, u *config.Upstream, eg *egress.Policy, maxConns int) *Pool {
	p := &Pool{Tenant: tenant, Name: u.Name, client: newClient(maxIdle(u), maxConns)}
	p.client.useEgress(eg)
	for _, e := range u.Endpoints {
		p.endpoints = append(p.endpoints, &endpoint{addr: e})
	}
	return p
}

func maxIdle(u *config.Upstream) int {
	if u.MaxIdleConns == 0 {
		return config.DefaultMaxIdleConns
	}
	return u.MaxIdleConns
}

// Same reports whether p was made from a definition equal to u, so that a
// new snapshot may keep p and its connections (maxConns as for NewPool).
func (p *Pool) Same(tenant string, u *config.Upstream, maxConns int) bool {
	if p.Tenant != tenant || p.Name != u.Name || p.client.maxIdle != maxIdle(u) || p.client.maxConns != maxConns || len(p.endpoints) != len(u.Endpoints) {
		return false
	}
	for i, e := range u.Endpoints {
		if p.endpoints[i].addr != e {
			return false
		}
	}
	return true
}

// pick returns the next endpoint round-robin, skipping endpoints that are
// down unless all of them are.
func (p *Pool) pick(now int64) *endpoint {
	n := len(p.endpoints)
	if n == 1 {
		return p.endpoints[0]
	}
	start := int(p.next.Add(1) % uint32(n))
	for i := range n {
		e := p.endpoints[(start+i)%n]
		if e.downUntil.Load() <= now {
			return e
		}
	}
	return p.endpoints[start]
}

// Forward sends req to one of the pool's endpoints and returns the
// response with its headers read, and the endpoint that answered (or
// failed last). A failure to connect, or a destination the egress policy
// refuses, marks the endpoint down for DownFor
// and tries the next one: nothing was sent, so that is always safe. The
// caller must read the body to EOF or close it.
func (p *Pool) Forward(ctx context.Context, req *http.Request, t Timeouts) (*http.Response, string, error) {
	var err error
	var e *endpoint
	tried := 0
	for tried < len(p.endpoints) {
		now := time.Now().UnixNano()
		e = p.pick(now)
		tried++
		var resp *http.Response
		resp, err = p.client.RoundTrip(ctx, req, e.addr, t)
		if err == nil {
			if e.downUntil.Load() != 0 {
				e.downUntil.Store(0)
			}
			return resp, e.addr, nil
		}
		if errors.Is(err, ErrEndpointFull) && ctx.Err() == nil {
			continue // nothing sent; the endpoint is busy, not down
		}
		// A refused destination was never connected to either.
		var op *net.OpError
		if !errors.Is(err, ErrEgressRefused) && (!errors.As(err, &op) || op.Op != "dial") || ctx.Err() != nil {
			break
		}
		e.downUntil.Store(now + int64(DownFor))
	}
	return nil, e.addr, err
}

// Close closes the pool's idle connections. Requests in flight finish;
// their connections close when they are done.
func (p *Pool) Close() { p.client.Close() }

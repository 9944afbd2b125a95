package proxy

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/wedgeproxy/wedge/edge/config"
)

// share counts what one tenant holds of the node's data plane: requests
// in flight and open tunnels. A tenant's share outlives snapshots (the
// requests of an older one still count), so the Server keeps it; each
// snapshot's routes carry the caps that snapshot's configuration sets.
type share struct {
	requests atomic.Int64
	tunnels  atomic.Int64
}

// caps is a tenant's share limits, as its routes and forwards hold them.
type caps struct {
	tenant      string
	maxRequests int64
	maxTunnels  int64
}

// UseTenantShare sets the node's default share of each tenant (the node
// file's limits.tenants). Call it before the first Build.
func (s *Server) UseTenantShare(d config.TenantShare) {
	s.mu.Lock()
	s.shareDefault = d
	s.mu.Unlock()
}

// UseUpstreamMaxConns bounds the connections each pool opens to one
// endpoint (the node file's limits.upstream_max_conns_per_endpoint); 0,
// the default, sets no bound. Call it before the first Build.
func (s *Server) UseUpstreamMaxConns(n int) {
	s.mu.Lock()
	s.maxConns = n
	s.mu.Unlock()
}

// shareOf returns tenant's share, made on first use. Called under s.mu.
func (s *Server) shareOf(tenant string) *share {
	sh := s.shares[tenant]
	if sh == nil {
		sh = new(share)
		s.shares[tenant] = sh
	}
	return sh
}

// enter counts a request in; false (and a 503 written) when the tenant
// is at its limit.
func (sh *share) enter(w http.ResponseWriter, c *caps) bool {
	if sh.requests.Add(1) <= c.maxRequests {
		return true
	}
	sh.requests.Add(-1)
	busy(w, fmt.Sprintf("tenant %q has %d requests in flight on this node, its limit", c.tenant, c.maxRequests))
	return false
}

// openTunnel counts a tunnel in; false (and a 503 written) when the
// tenant is at its limit.
func (sh *share) openTunnel(w http.ResponseWriter, c *caps) bool {
	if sh.tunnels.Add(1) <= c.maxTunnels {
		return true
	}
	sh.tunnels.Add(-1)
	tunnelsFull(w, c)
	return false
}

// tunnelsFull answers an upgrade of a tenant at its limit of tunnels.
func tunnelsFull(w http.ResponseWriter, c *caps) {
	busy(w, fmt.Sprintf("tenant %q has %d tunnels open on this node, its limit", c.tenant, c.maxTunnels))
}

// busy answers 503 with Retry-After: the request may succeed shortly.
func busy(w http.ResponseWriter, why string) {
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, "%s; retry shortly", why)
}

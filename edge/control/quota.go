package control

import (
	"fmt"
	"net/http"

	"github.com/wedgeproxy/wedge/edge/config"
)

// Quotas: what one tenant may keep in the store. A change is refused
// whole, before anything is written, when it would take the tenant past
// a quota it does not already exceed by as much (an operator who lowers
// a quota leaves the tenant free to shrink, or to change what the quota
// does not count).

// quotasOf are the quotas of the tenant ts.
func (a *Admin) quotasOf(ts *tenantState) config.Quotas {
	return a.quotas.For(ts.doc.Limits.Quotas)
}

// usage is what the quotas count of one tenant.
type usage struct {
	filters, pools, endpoints, routes, domains int
	storedBytes                                int64
}

func (ts *tenantState) usage() usage {
	if ts == nil {
		return usage{}
	}
	u := usage{filters: len(ts.filters), pools: len(ts.upstreams), routes: len(ts.routes), domains: len(ts.domains)}
	for _, p := range ts.upstreams {
		u.endpoints += len(p.doc.Endpoints)
	}
	seen := map[string]bool{}
	for _, f := range ts.filters {
		for _, v := range f.doc.Versions {
			if !seen[v.SHA256] {
				seen[v.SHA256] = true
				u.storedBytes += v.Size
			}
		}
	}
	return u
}

// checkQuotas refuses cand, the tenant as a change would leave it, when
// it goes past one of the tenant's quotas further than before (base).
func (a *Admin) checkQuotas(cand *tenantState) error {
	q := a.quotasOf(cand)
	now, was := cand.usage(), cand.base.usage()
	for _, c := range []struct {
		quota, what string
		n, before   int
		max         int
	}{
		{"max_filters", "filters", now.filters, was.filters, q.MaxFilters},
		{"max_pools", "upstream pools", now.pools, was.pools, q.MaxPools},
		{"max_endpoints", "endpoints in its pools", now.endpoints, was.endpoints, q.MaxEndpoints},
		{"max_routes", "routes", now.routes, was.routes, q.MaxRoutes},
		{"max_domains", "domains", now.domains, was.domains, q.MaxDomains},
	} {
		if c.n > c.max && c.n > c.before {
			return errorf(http.StatusConflict, "tenant %q: quota %s (%d) exceeded: the change would leave it %d %s; nothing was changed", cand.name, c.quota, c.max, c.n, c.what)
		}
	}
	if now.storedBytes > q.MaxStoredBytes && now.storedBytes > was.storedBytes {
		return errorf(http.StatusRequestEntityTooLarge, "tenant %q: quota max_stored_bytes (%d) exceeded: the change would leave it %d bytes of filter modules in the store; delete filters or versions first; nothing was changed", cand.name, q.MaxStoredBytes, now.storedBytes)
	}
	return nil
}

// tooManyUploads is the 429 of a tenant already at its
// max_concurrent_uploads.
func tooManyUploads(tenant string, limit int) error {
	return &apiError{status: http.StatusTooManyRequests, retryAfter: 1,
		msg: fmt.Sprintf("tenant %q: quota max_concurrent_uploads (%d) reached: wait for an upload to finish; nothing was changed", tenant, limit)}
}

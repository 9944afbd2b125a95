package cache

import (
	"net/http"
	"time"

	"github.com/wedgeproxy/wedge/edge/internal/httpx"
)

// Policy is a route's caching policy. The zero value caches by RFC 9111
// alone.
type Policy struct {
	// DefaultTTL is the freshness lifetime of responses that carry no
	// explicit freshness (no s-maxage, max-age or Expires) and whose
	// status is heuristically cacheable (or that are marked public). It
	// replaces the Last-Modified heuristic. 0 leaves the heuristic of RFC
	// 9111 §4.2.2 (10% of Date − Last-Modified, at most 24h).
	DefaultTTL time.Duration
	// IgnoreQuery keys entries without the query string.
	IgnoreQuery bool
	// SortQuery keys entries with the query parameters sorted (byte order
	// of the raw "name=value" pairs; empty pairs dropped). Ignored with
	// IgnoreQuery.
	SortQuery bool
	// CacheSetCookie stores responses that carry Set-Cookie (and serves
	// the stored Set-Cookie to every client). Default false: such
	// responses are not stored.
	CacheSetCookie bool
	// MaxObjectBytes overrides the cache's MaxObjectBytes for the route;
	// 0 means the cache's.
	MaxObjectBytes int64
	// Partition separates the entries of routes that share URLs: entries
	// of one partition never answer another's requests. The proxy uses
	// the route's upstream, so that routes choosing different upstreams
	// by method or header cannot serve each other's responses.
	Partition string
	// CoalesceWait is how long requests that miss while another request
	// for the same key is upstream wait for it before going upstream
	// themselves. 0 means 10s.
	CoalesceWait time.Duration
	// ForwardTargeted passes the targeted cache-control fields the cache
	// obeys (CDN-Cache-Control and the node's own, RFC 9213) on to
	// clients. Default false: they are the edge's, and stripped.
	ForwardTargeted bool
}

// DefaultCoalesceWait is the CoalesceWait of a zero Policy.
const DefaultCoalesceWait = 10 * time.Second

// Handler returns the caching middleware for one route of tenant: it
// answers from the cache when it can and otherwise calls next, the
// upstream handler, storing what it answers. next is called with a
// ResponseWriter of the cache's (which supports Flush and Unwrap), with r
// itself or a clone of it (revalidation), or, for background refreshes,
// with a clone whose context is detached from the client's.
func (c *Cache) Handler(tenant string, p Policy, next http.Handler) http.Handler {
	h := &handler{c: c, tenant: tenant, ts: c.stats(tenant), p: p, next: next,
		maxObject: c.maxObject, wait: p.CoalesceWait}
	if p.MaxObjectBytes > 0 {
		h.maxObject = p.MaxObjectBytes
	}
	// Nothing larger than a shard's budget can be stored: do not buffer
	// it. (Nor, see objectLimit, anything larger than the tenant's share
	// of a shard, which may change while h serves.)
	h.maxObject = min(h.maxObject, c.shards[0].budget)
	if h.wait <= 0 {
		h.wait = DefaultCoalesceWait
	}
	switch {
	case p.IgnoreQuery:
		h.mode = queryNone
	case p.SortQuery:
		h.mode = querySorted
	}
	return h
}

// objectLimit is the largest response h buffers to store: its maxObject,
// or the tenant's per-shard cap if that is lower.
func (h *handler) objectLimit() int64 {
	if limit, ok := h.c.tenantCap(h.tenant); ok {
		return min(h.maxObject, limit)
	}
	return h.maxObject
}

type handler struct {
	c         *Cache
	tenant    string
	ts        *tenantStats
	p         Policy
	next      http.Handler
	mode      byte
	maxObject int64
	wait      time.Duration
}

// Cache-Status values (RFC 9211). Shared and never mutated.
var (
	csHit         = []string{"wedge; hit"}
	csStaleHit    = []string{"wedge; hit; detail=max-stale"}
	csSWR         = []string{"wedge; hit; detail=stale-while-revalidate"}
	csRevalidated = []string{"wedge; fwd=stale; fwd-status=304"}
	csReqRevalid  = []string{"wedge; fwd=request; fwd-status=304"}
	csOnlyCached  = []string{"wedge; fwd=miss; detail=only-if-cached"}
	csMethod      = []string{"wedge; fwd=method"}
	csNoStoreReq  = []string{"wedge; fwd=request; detail=no-store"}
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions, http.MethodTrace:
		h.pass(w, r, csMethod)
		return
	default:
		h.unsafe(w, r)
		return
	}
	rcc := parseCacheControl(r.Header["Cache-Control"])
	if len(r.Header["Cache-Control"]) == 0 && httpx.HasToken(r.Header["Pragma"], "no-cache") {
		rcc.flags |= ccNoCache // RFC 9111 §5.4
	}
	var k reqKey
	h.c.newKey(&k, h.tenant, h.p.Partition, r, h.mode)
	if rcc.has(ccNoStore) {
		// Neither stored nor served from storage: the brief of this
		// cache (RFC 9111 §5.2.1.5 would allow serving).
		h.ts.misses.Add(1)
		h.pass(w, r, csNoStoreReq)
		return
	}
	h.serve(w, r, &k, &rcc, true)
}

// verdict is what a stored entry can do for a request.
type verdict int

const (
	useFresh    verdict = iota // fresh and acceptable
	useStale                   // stale, but the request's max-stale allows it
	useSWR                     // stale, within stale-while-revalidate
	mustRequest                // fresh, but the request wants validation
	mustStale                  // stale: validate or refetch
)

// judge decides how entry e may answer a request with directives rcc at
// now (RFC 9111 §4, §5.2.1; RFC 5861).
func judge(e *entry, rcc *directives, now time.Time) verdict {
	age := e.age(now)
	fresh := age < e.lifetime
	want := mustStale
	if fresh {
		want = mustRequest
	}
	if e.cc.has(ccNoCache) {
		return mustStale
	}
	if rcc.has(ccNoCache) {
		return want
	}
	if rcc.maxAge >= 0 && int64(age/time.Second) > rcc.maxAge {
		return want
	}
	if fresh {
		if rcc.minFresh >= 0 && e.lifetime-age < time.Duration(rcc.minFresh)*time.Second {
			return mustRequest
		}
		return useFresh
	}
	if e.noStale || rcc.minFresh >= 0 {
		return mustStale
	}
	staleness := age - e.lifetime
	// s-maxage implies proxy-revalidate (§5.2.2.10): no client-requested
	// staleness; the origin's own stale-while-revalidate still applies.
	if e.cc.sMaxAge < 0 && (rcc.has(ccMaxStaleAny) || rcc.maxStale >= 0 && staleness <= time.Duration(rcc.maxStale)*time.Second) {
		return useStale
	}
	if e.cc.swr >= 0 && staleness <= time.Duration(e.cc.swr)*time.Second && rcc.maxAge < 0 {
		return useSWR
	}
	return mustStale
}

// staleIfError reports whether e may be served because the upstream
// failed (RFC 5861 §4): within the response's or the request's
// stale-if-error, never for must-revalidate, proxy-revalidate or no-cache
// (and, for the request's directive, s-maxage).
func staleIfError(e *entry, rcc *directives, now time.Time) bool {
	if e.noStale {
		return false
	}
	staleness := e.age(now) - e.lifetime
	if e.cc.sie >= 0 && staleness <= time.Duration(e.cc.sie)*time.Second {
		return true
	}
	return rcc.sie >= 0 && e.cc.sMaxAge < 0 && staleness <= time.Duration(rcc.sie)*time.Second
}

// serve answers a GET or HEAD: from storage, by revalidating, or by
// fetching (coalesced with concurrent misses when mayWait).
func (h *handler) serve(w http.ResponseWriter, r *http.Request, k *reqKey, rcc *directives, mayWait bool) {
	e, uriMiss := h.c.lookup(k, r.Header)
	now := h.c.now()
	fwd := "vary-miss"
	if uriMiss {
		fwd = "uri-miss"
	}
	if e != nil {
		switch v := judge(e, rcc, now); v {
		case useFresh:
			h.ts.hits.Add(1)
			h.serveStored(w, r, e, now, csHit)
			return
		case useStale:
			h.ts.hits.Add(1)
			h.serveStored(w, r, e, now, csStaleHit)
			return
		case useSWR:
			h.ts.hits.Add(1)
			h.serveStored(w, r, e, now, csSWR)
			h.refresh(k, r, e)
			return
		case mustRequest:
			fwd = "request"
		default:
			fwd = "stale"
		}
	}
	if rcc.has(ccOnlyIfCached) {
		h.ts.misses.Add(1)
		h.onlyIfCached(w)
		return
	}
	validate := e != nil && (e.etag != "" || e.lastMod != "")
	if r.Method == http.MethodHead || !validate && (len(r.Header["Range"]) > 0 || conditional(r)) {
		// Forwarded as is, not coalesced: HEAD has no body to store, and
		// range or conditional requests have no full response to share.
		h.fetch(w, r, k, rcc, e, false, fwd)
		return
	}
	if mayWait && !rcc.has(ccNoCache) && rcc.maxAge != 0 {
		f, leader := h.c.join(k.hash)
		if !leader {
			if f.wait(r.Context(), h.wait) == waitGone {
				return // the client left
			}
			// Served from what the leader stored, or upstream alone.
			h.serve(w, r, k, rcc, false)
			return
		}
		stored := false
		defer func() { h.c.land(k.hash, f, stored) }()
		stored = h.fetch(w, r, k, rcc, e, validate, fwd)
		return
	}
	h.fetch(w, r, k, rcc, e, validate, fwd)
}

// onlyIfCached answers 504 for an only-if-cached request without a usable
// stored response (RFC 9111 §5.2.1.7).
func (h *handler) onlyIfCached(w http.ResponseWriter) {
	dst := w.Header()
	dst["Cache-Status"] = csOnlyCached
	dst["Content-Type"] = []string{"text/plain; charset=utf-8"}
	dst["Cache-Control"] = []string{"no-store"}
	w.WriteHeader(http.StatusGatewayTimeout)
	w.Write([]byte("wedge: no stored response for an only-if-cached request\n"))
}

// pass forwards r upstream untouched by the cache, adding Cache-Status.
func (h *handler) pass(w http.ResponseWriter, r *http.Request, cs []string) {
	h.next.ServeHTTP(&statusWriter{ResponseWriter: w, cs: cs, h: h}, r)
}

// statusWriter passes a response through, adding a Cache-Status and
// noting the status.
type statusWriter struct {
	http.ResponseWriter
	cs     []string
	status int
	h      *handler // strips the targeted fields
}

func (s *statusWriter) WriteHeader(status int) {
	if s.status == 0 && status >= 200 {
		s.status = status
		h := s.ResponseWriter.Header()
		h["Cache-Status"] = append(h["Cache-Status"][:len(h["Cache-Status"]):len(h["Cache-Status"])], s.cs...)
		s.h.stripTargeted(h)
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

// Flush flushes the client's writer, if it can.
func (s *statusWriter) Flush() {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap returns the client's writer, for http.ResponseController.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

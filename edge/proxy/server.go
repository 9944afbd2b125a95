// Package proxy is the request pipeline: it matches a request to its
// tenant's route in the current routing snapshot and runs the route's
// action — forward to an upstream pool, or answer at the edge.
//
// Each route's action is compiled once, when a snapshot is built; serving a
// request only looks up and calls it.
package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/egress"
	"github.com/wedgeproxy/wedge/edge/route"
	"github.com/wedgeproxy/wedge/edge/upstream"
	"github.com/wedgeproxy/wedge/runtime"
)

// action is a route's compiled behaviour. r is the served request (its
// method and protocol frame the response); out is the outbound request
// the route's filters edited, or nil when none ran (an action that sends
// one upstream builds it from r).
type action interface {
	serve(w http.ResponseWriter, r *http.Request, out *http.Request, l *Listener)
}

// routeEntry is a route as the routing table holds it: its tenant's
// request rate, its filters and its action.
type routeEntry struct {
	tenant, name, pool string
	lim                *limiter // nil: the tenant has no request rate
	share              *share   // the tenant's requests and tunnels in flight
	caps               *caps
	filters            []*filterRef
	act                action
	meta               config.RouteMetadata // the route_metadata property
}

// serve answers r on the route: past the tenant's requests in flight,
// 503; over its rate, 429; both before any filter runs; then the
// filters, if any, around the action.
func (e *routeEntry) serve(w http.ResponseWriter, r *http.Request, snap *Snapshot, l *Listener) {
	if e.share != nil {
		if !e.share.enter(w, e.caps) {
			return
		}
		defer e.share.requests.Add(-1)
	}
	if e.lim != nil {
		if ok, wait := e.lim.allow(); !ok {
			e.lim.refuse(w, r, wait)
			return
		}
	}
	if len(e.filters) == 0 {
		e.act.serve(w, r, nil, l)
		return
	}
	serveFiltered(w, r, e, snap, l)
}

// Server serves requests on the current snapshot. The zero value is not
// usable; call New.
type Server struct {
	snap    atomic.Pointer[Snapshot]
	mu      sync.Mutex // serialises Build and Swap
	conns   hijacked
	cache   *cache.Cache // nil: routes' cache settings are ignored
	filters Filters
	log     *slog.Logger   // failures the edge answered, with their detail; nil: none
	egress  *egress.Policy // checked on every connection pools open; nil: allow all
	now     func() int64   // the request-rate clock, monotonic nanoseconds; tests replace it

	// shares are the tenants' counts of requests and tunnels, kept
	// across snapshots; guarded by mu (the map; the counts are atomic).
	shares       map[string]*share
	shareDefault config.TenantShare
	maxConns     int // per endpoint of each pool; 0: none

	// live counts, for each plugin, the live snapshots that use it: the
	// current one and those with requests still in flight. A plugin is
	// closed when its count falls to zero.
	liveMu sync.Mutex
	live   map[*runtime.Plugin]int
}

// Snapshot is an immutable, compiled tenant configuration.
type Snapshot struct {
	table   *route.Table[*routeEntry]
	pools   map[poolKey]*upstream.Pool
	plugins map[pluginKey]*runtime.Plugin
	// limiters are the request rates of the tenants that have one.
	limiters map[string]*limiter
	// refs counts the requests being served on the snapshot, plus one
	// while it is the current one. At zero the snapshot is retired and
	// never served again.
	refs atomic.Int64
}

// tryRef takes a reference on a snapshot that is not retired.
func (snap *Snapshot) tryRef() bool {
	for {
		n := snap.refs.Load()
		if n <= 0 {
			return false
		}
		if snap.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

type poolKey struct{ tenant, name string }

// New returns a Server whose snapshot is empty: every host gets 404 until
// the first Swap. Routes that enable caching use c; with c nil they
// forward every request.
func New(c *cache.Cache) *Server {
	s := &Server{cache: c, now: monotonic, live: map[*runtime.Plugin]int{}, shares: map[string]*share{}}
	empty, _ := route.Build[*routeEntry](nil, nil)
	snap := &Snapshot{table: empty, pools: map[poolKey]*upstream.Pool{}, plugins: map[pluginKey]*runtime.Plugin{}}
	snap.refs.Store(1)
	s.snap.Store(snap)
	return s
}

// UseFilters sets what runs routes' Wasm filters. Call it before the
// first Build.
func (s *Server) UseFilters(f Filters) {
	s.mu.Lock()
	s.filters = f
	s.mu.Unlock()
}

// UseEgress sets the egress policy every connection of tenants' pools
// (forwarded requests, filters' HTTP calls) is checked against, on its
// resolved address. Without it every destination is allowed. Call it
// before the first Build: pools kept across snapshots keep the policy
// they were made with.
func (s *Server) UseEgress(p *egress.Policy) {
	s.mu.Lock()
	s.egress = p
	s.mu.Unlock()
}

// UseLogger sets where the details of the requests the edge fails go
// (the client sees only the status, a short cause and the request ID).
// Call it before Handler.
func (s *Server) UseLogger(log *slog.Logger) {
	s.mu.Lock()
	s.log = log
	s.mu.Unlock()
}

// Build compiles tenants (already validated) into a snapshot. Upstream
// pools whose definition is unchanged from the current snapshot are kept,
// with their keep-alive connections, and so are filters and tenants'
// request-rate buckets. Build does not change what is served; Swap does.
func (s *Server) Build(tenants []config.Tenant) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.snap.Load()
	snap := &Snapshot{pools: map[poolKey]*upstream.Pool{}, plugins: map[pluginKey]*runtime.Plugin{},
		limiters: buildLimiters(tenants, cur, s.now)}
	for ti := range tenants {
		t := &tenants[ti]
		for ui := range t.Upstreams {
			u := &t.Upstreams[ui]
			k := poolKey{t.Name, u.Name}
			if p, ok := cur.pools[k]; ok && p.Same(t.Name, u, s.maxConns) {
				snap.pools[k] = p
			} else {
				snap.pools[k] = upstream.NewPool(t.Name, u, s.egress, s.maxConns)
			}
		}
	}
	filters, err := s.buildFilters(tenants, cur, snap)
	if err != nil {
		s.discard(snap, cur)
		return nil, err
	}
	index := make(map[string]int, len(tenants))
	tcaps := make(map[string]*caps, len(tenants))
	for i := range tenants {
		t := &tenants[i]
		index[t.Name] = i
		sc := s.shareDefault.For(&t.Limits)
		tcaps[t.Name] = &caps{tenant: t.Name, maxRequests: int64(sc.MaxConcurrentRequests), maxTunnels: int64(sc.MaxTunnels)}
	}
	table, err := route.Build(tenants, func(t *config.Tenant, i int) (*routeEntry, error) {
		a, err := s.buildAction(t, i, snap, tcaps[t.Name])
		if err != nil {
			return nil, err
		}
		name := t.Routes[i].Name
		if name == "" {
			name = strconv.Itoa(i)
		}
		return &routeEntry{tenant: t.Name, name: name, pool: t.Routes[i].Upstream,
			lim: snap.limiters[t.Name], share: s.shareOf(t.Name), caps: tcaps[t.Name],
			filters: filters[index[t.Name]][i], act: a, meta: t.Routes[i].Metadata}, nil
	})
	if err != nil {
		s.discard(snap, cur)
		return nil, err
	}
	snap.table = table
	return snap, nil
}

// discard closes what a failed Build started that the current snapshot
// does not use.
func (s *Server) discard(snap, cur *Snapshot) {
	closeUnused(snap, cur)
	for k, p := range snap.pools {
		if cur.pools[k] != p {
			p.Close()
		}
	}
}

// buildAction compiles route i of t (its filters aside).
func (s *Server) buildAction(t *config.Tenant, i int, snap *Snapshot, tc *caps) (action, error) {
	rc := &t.Routes[i]
	if rc.Respond != nil {
		return newRespond(rc.Respond), nil
	}
	pool := snap.pools[poolKey{t.Name, rc.Upstream}]
	to := rc.Timeouts.WithDefaults()
	ut := upstream.Timeouts{Connect: to.Connect.D(), ResponseHeader: to.ResponseHeader.D()}
	fwd := &forward{pool: pool, timeouts: ut, request: to.Request.D(), conns: &s.conns, share: s.shareOf(t.Name), caps: tc}
	if rc.Cache == nil || !rc.Cache.Enabled || s.cache == nil {
		return fwd, nil
	}
	switch {
	case rc.Cache.Key.IgnoreQuery:
		fwd.query = queryDrop
	case rc.Cache.Key.SortQuery:
		fwd.query = querySort
	}
	return &cachedForward{c: s.cache, tenant: t.Name, fwd: fwd, policy: cache.Policy{
		Partition:       "pool:" + rc.Upstream,
		DefaultTTL:      rc.Cache.DefaultTTL.D(),
		IgnoreQuery:     rc.Cache.Key.IgnoreQuery,
		SortQuery:       rc.Cache.Key.SortQuery,
		CacheSetCookie:  rc.Cache.CacheSetCookie,
		MaxObjectBytes:  rc.Cache.MaxObjectBytes,
		ForwardTargeted: rc.Cache.ForwardTargeted,
	}}, nil
}

// Swap makes snap the snapshot that new requests are served on. Requests
// in flight finish on the snapshot they started with: the plugins that
// snap no longer uses are closed when the last of them ends. Pools that
// snap no longer uses have their idle connections closed now.
func (s *Server) Swap(snap *Snapshot) {
	s.mu.Lock()
	snap.refs.Store(1)
	s.liveMu.Lock()
	for _, p := range snap.plugins {
		s.live[p]++
	}
	s.liveMu.Unlock()
	old := s.snap.Swap(snap)
	for k, p := range old.pools {
		if snap.pools[k] != p {
			p.Close()
		}
	}
	s.mu.Unlock()
	s.release(old)
}

// acquire returns the current snapshot with a reference taken, for one
// request; release gives it back.
func (s *Server) acquire() *Snapshot {
	for {
		// A snapshot retired between Load and tryRef is no longer the
		// current one: load again.
		if snap := s.snap.Load(); snap.tryRef() {
			return snap
		}
	}
}

// release drops a reference on snap; the last one retires it, closing
// the plugins no live snapshot uses.
func (s *Server) release(snap *Snapshot) {
	if snap.refs.Add(-1) != 0 {
		return
	}
	var unused []*runtime.Plugin
	s.liveMu.Lock()
	for _, p := range snap.plugins {
		if s.live[p]--; s.live[p] <= 0 {
			delete(s.live, p)
			unused = append(unused, p)
		}
	}
	s.liveMu.Unlock()
	for _, p := range unused {
		p.Close(context.Background())
	}
}

// Discard closes what Build started for snap and the current snapshot
// does not use: for a snapshot that will not be swapped in.
func (s *Server) Discard(snap *Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.snap.Load()
	for k, p := range snap.pools {
		if cur.pools[k] != p {
			p.Close()
		}
	}
	closeUnused(snap, cur)
}

// CloseHijacked closes the connections taken over by protocol switches
// (WebSockets), which HTTP server shutdown does not wait for, and refuses
// new ones. It returns how many it closed.
func (s *Server) CloseHijacked() int { return s.conns.closeAll() }

// Handler returns the http.Handler for requests arriving on listener l.
func (s *Server) Handler(l Listener) http.Handler {
	s.mu.Lock()
	l.log = s.log
	s.mu.Unlock()
	return &handler{s: s, l: l}
}

type handler struct {
	s *Server
	l Listener
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A panic here is a Wedge bug: it is logged with its stack and costs
	// this request only (its response is aborted, since part of it may
	// already be on the wire).
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				recoverLog(h.l.log, "the request handler", p)
			}
			panic(http.ErrAbortHandler)
		}
	}()
	if r.Method == http.MethodConnect {
		writeError(w, http.StatusMethodNotAllowed, "CONNECT is not supported")
		return
	}
	// Routes match, and upstreams receive, the normalised path: no dot
	// segments, no empty segments. Matching one form and forwarding
	// another would let //admin or /x/../admin past a route for /admin.
	if p := r.URL.Path; needsClean(p) {
		r.URL.Path = cleanPath(p)
		r.URL.RawPath = ""
	}
	// The request holds its snapshot until it ends, so the plugins its
	// route runs are not closed under it by a swap.
	snap := h.s.acquire()
	defer h.s.release(snap)
	tenant, rt := snap.table.Lookup(r.Host, r.URL.Path, r.Method, r.Header)
	if rt == nil {
		if tenant == "" {
			writeError(w, http.StatusNotFound, "no site is configured for host %q", r.Host)
		} else {
			writeError(w, http.StatusNotFound, "no route of %q matches %s %s", r.Host, r.Method, r.URL.Path)
		}
		return
	}
	rt.Handler.serve(w, r, snap, &h.l)
}

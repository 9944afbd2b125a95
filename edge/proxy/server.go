// Package proxy is the request pipeline: it matches a request to its
// tenant's route in the current routing snapshot and runs the route's
// action — forward to an upstream pool, or answer at the edge.
//
// Each route's action is compiled once, when a snapshot is built; serving a
// request only looks up and calls it.
package proxy

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/route"
	"github.com/wedgeproxy/wedge/edge/upstream"
	"github.com/wedgeproxy/wedge/runtime"
)

// action is a route's compiled behaviour.
type action interface {
	serve(w http.ResponseWriter, r *http.Request, l *Listener)
}

// Server serves requests on the current snapshot. The zero value is not
// usable; call New.
type Server struct {
	snap    atomic.Pointer[Snapshot]
	mu      sync.Mutex // serialises Build and Swap
	conns   hijacked
	cache   *cache.Cache // nil: routes' cache settings are ignored
	filters Filters
	now     func() int64 // the request-rate clock, monotonic nanoseconds; tests replace it
}

// Snapshot is an immutable, compiled tenant configuration.
type Snapshot struct {
	table   *route.Table[action]
	pools   map[poolKey]*upstream.Pool
	plugins map[pluginKey]*runtime.Plugin
	// limiters are the request rates of the tenants that have one.
	limiters map[string]*limiter
}

type poolKey struct{ tenant, name string }

// New returns a Server whose snapshot is empty: every host gets 404 until
// the first Swap. Routes that enable caching use c; with c nil they
// forward every request.
func New(c *cache.Cache) *Server {
	s := &Server{cache: c, now: monotonic}
	empty, _ := route.Build[action](nil, nil)
	s.snap.Store(&Snapshot{table: empty, pools: map[poolKey]*upstream.Pool{}, plugins: map[pluginKey]*runtime.Plugin{}})
	return s
}

// UseFilters sets what runs routes' Wasm filters. Call it before the
// first Build.
func (s *Server) UseFilters(f Filters) {
	s.mu.Lock()
	s.filters = f
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
			if p, ok := cur.pools[k]; ok && p.Same(t.Name, u) {
				snap.pools[k] = p
			} else {
				snap.pools[k] = upstream.NewPool(t.Name, u)
			}
		}
	}
	filters, err := s.buildFilters(tenants, cur, snap)
	if err != nil {
		s.discard(snap, cur)
		return nil, err
	}
	index := make(map[string]int, len(tenants))
	for i := range tenants {
		index[tenants[i].Name] = i
	}
	table, err := route.Build(tenants, func(t *config.Tenant, i int) (action, error) {
		a, err := s.buildAction(t, i, snap)
		if fs := filters[index[t.Name]][i]; err == nil && len(fs) > 0 {
			name := t.Routes[i].Name
			if name == "" {
				name = strconv.Itoa(i)
			}
			a = &filtered{filters: fs, next: a, tenant: t.Name, route: name, pool: t.Routes[i].Upstream}
		}
		if lim := snap.limiters[t.Name]; err == nil && lim != nil {
			a = &limited{lim: lim, next: a}
		}
		return a, err
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
func (s *Server) buildAction(t *config.Tenant, i int, snap *Snapshot) (action, error) {
	rc := &t.Routes[i]
	if rc.Respond != nil {
		return newRespond(rc.Respond), nil
	}
	pool := snap.pools[poolKey{t.Name, rc.Upstream}]
	to := rc.Timeouts.WithDefaults()
	ut := upstream.Timeouts{Connect: to.Connect.D(), ResponseHeader: to.ResponseHeader.D()}
	fwd := &forward{pool: pool, timeouts: ut, request: to.Request.D(), conns: &s.conns}
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
		Partition:      "pool:" + rc.Upstream,
		DefaultTTL:     rc.Cache.DefaultTTL.D(),
		IgnoreQuery:    rc.Cache.Key.IgnoreQuery,
		SortQuery:      rc.Cache.Key.SortQuery,
		CacheSetCookie: rc.Cache.CacheSetCookie,
		MaxObjectBytes: rc.Cache.MaxObjectBytes,
	}}, nil
}

// Swap makes snap the snapshot that new requests are served on. Requests
// in flight finish on the snapshot they started with. Pools that snap no
// longer uses have their idle connections closed.
func (s *Server) Swap(snap *Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Swap(snap)
	for k, p := range old.pools {
		if snap.pools[k] != p {
			p.Close()
		}
	}
	closeUnused(old, snap)
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
	return &handler{s: s, l: l}
}

type handler struct {
	s *Server
	l Listener
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	snap := h.s.snap.Load()
	tenant, rt := snap.table.Lookup(r.Host, r.URL.Path, r.Method, r.Header)
	if rt == nil {
		if tenant == "" {
			writeError(w, http.StatusNotFound, "no site is configured for host %q", r.Host)
		} else {
			writeError(w, http.StatusNotFound, "no route of %q matches %s %s", r.Host, r.Method, r.URL.Path)
		}
		return
	}
	rt.Handler.serve(w, r, &h.l)
}

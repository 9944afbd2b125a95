package proxy

import (
	"net/http"
	"sync"

	"github.com/wedgeproxy/wedge/edge/cache"
)

// cachedForward answers from the node's response cache and forwards what
// it cannot answer. The cache's middleware is made once per listener the
// route is reached on (there are a handful), so a request costs a map
// load and no allocation of ours.
type cachedForward struct {
	c      *cache.Cache
	tenant string
	policy cache.Policy
	fwd    *forward

	byListener sync.Map // *Listener → http.Handler
}

func (a *cachedForward) serve(w http.ResponseWriter, r *http.Request, out *http.Request, l *Listener) {
	if out == nil {
		out = newOutbound(r, l)
	}
	if len(l.Trusted) > 0 && (r.Header["X-Forwarded-Proto"] != nil || r.Header["X-Forwarded-Host"] != nil) && l.trusts(r.RemoteAddr) {
		// A trusted proxy's X-Forwarded-Proto/-Host reach the origin but
		// are not in the cache key: caching would serve one scheme's
		// answer (a redirect to https, say) to the other. Forward.
		a.fwd.send(w, out, l)
		return
	}
	// The cache keys on, and revalidates with, the outbound request: what
	// the origin is asked for.
	if h, ok := a.byListener.Load(l); ok {
		h.(http.Handler).ServeHTTP(w, out)
		return
	}
	h, _ := a.byListener.LoadOrStore(l, a.c.Handler(a.tenant, a.policy, &upstreamOf{a.fwd, l}))
	h.(http.Handler).ServeHTTP(w, out)
}

// upstreamOf is the forwarding a cache calls on a miss or revalidation,
// with the outbound request (or the cache's copy of it).
type upstreamOf struct {
	fwd *forward
	l   *Listener
}

func (u *upstreamOf) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.fwd.send(w, r, u.l) }

package cache

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// conditionalFields are the request fields a revalidation replaces with
// the cache's own validators (RFC 9111 §4.3.1).
var conditionalFields = []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Range"}

// conditional reports whether r carries a precondition the cache would
// have to evaluate against a response it does not have.
func conditional(r *http.Request) bool {
	h := r.Header
	return len(h["If-None-Match"]) > 0 || len(h["If-Modified-Since"]) > 0 || len(h["If-Match"]) > 0 || len(h["If-Unmodified-Since"]) > 0
}

// fetch sends r upstream and answers w (nil for a background refresh)
// with the result, storing it when allowed. stale is the entry being
// revalidated (validate: the request is made conditional on it) or
// replaced. It reports whether a response is now stored for the key.
func (h *handler) fetch(w http.ResponseWriter, r *http.Request, k *reqKey, rcc *directives, stale *entry, validate bool, fwd string) bool {
	if w != nil {
		h.ts.misses.Add(1)
	}
	out := r
	if validate {
		out = r.Clone(r.Context())
		for _, f := range conditionalFields {
			delete(out.Header, f)
		}
		if stale.etag != "" {
			out.Header["If-None-Match"] = []string{stale.etag}
		}
		if stale.lastMod != "" {
			out.Header["If-Modified-Since"] = []string{stale.lastMod}
		}
	}
	t := &tee{h: h, w: w, r: r, rcc: *rcc, stale: stale, validate: validate, fwd: fwd,
		header: http.Header{}, limit: h.objectLimit(), clientOK: true}
	reqTime := h.c.now()
	h.next.ServeHTTP(t, out)
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	t.relayTrailers()
	switch t.mode {
	case teeNotModified:
		if tag := first(t.stored["Etag"]); tag != "" && stale.etag != "" && !weakMatch(tag, stale.etag) {
			// The 304 validates another response than the stored one
			// (RFC 9111 §4.3.4): nothing to update; fetch it whole.
			h.c.removeEntry(stale)
			return h.fetch(w, r, k, rcc, nil, false, fwd)
		}
		nh := stale.header.Clone()
		for name, vv := range t.stored {
			if !keepOnUpdate(name) {
				nh[name] = vv
			}
		}
		delete(nh, "Age")
		if a := t.stored["Age"]; len(a) > 0 {
			nh["Age"] = a // the 304's own age_value, for the age calculation
		}
		e, names := h.newEntry(k, r, stale.status, nh, stale.body, reqTime, t.respTime)
		ok := storable(r, rcc, e.status, e.header, &e.cc, &h.p) && h.c.store(e, names)
		if !ok {
			h.c.removeEntry(stale)
		}
		if w != nil {
			cs := csRevalidated
			if fwd == "request" {
				cs = csReqRevalid
			}
			h.serveStored(w, r, e, h.c.now(), cs)
		}
		return ok
	case teeStaleError:
		if w != nil {
			h.serveStored(w, r, stale, h.c.now(), []string{"wedge; fwd=" + fwd + "; fwd-status=" + strconv.Itoa(t.status) + "; detail=stale-if-error"})
		}
		return true
	case teeStore:
		if t.complete() {
			e, names := h.newEntry(k, r, t.status, t.stored, t.body, reqTime, t.respTime)
			if h.c.store(e, names) {
				return true
			}
		}
	}
	// Nothing stored. A full response supersedes what was stored.
	if stale != nil && out.Method == http.MethodGet && t.status != http.StatusPartialContent && t.status != http.StatusNotModified && !isServerError(t.status) {
		h.c.removeEntry(stale)
	}
	return false
}

// keepOnUpdate reports whether a stored field keeps its value when a 304
// updates the stored header (RFC 9111 §3.2): framing and hop-by-hop
// fields are not taken from the 304.
func keepOnUpdate(name string) bool {
	switch name {
	case "Content-Length", "Content-Range", "Transfer-Encoding", "Connection", "Keep-Alive",
		"Proxy-Connection", "Te", "Trailer", "Upgrade", "Cache-Status":
		return true
	}
	return false
}

// hopByHop are the fields never stored (RFC 9110 §7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Transfer-Encoding", "Upgrade", "Proxy-Authenticate"}

// newEntry builds the entry for a response to r under k. hdr becomes the
// entry's (and is cleaned); names are the Vary names (nil: no Vary).
func (h *handler) newEntry(k *reqKey, r *http.Request, status int, hdr http.Header, body []byte, reqTime, respTime time.Time) (*entry, []string) {
	for _, f := range hdr["Connection"] {
		for _, tok := range strings.Split(f, ",") {
			delete(hdr, http.CanonicalHeaderKey(strings.TrimSpace(tok)))
		}
	}
	for _, f := range hopByHop {
		delete(hdr, f)
	}
	cc := h.c.responseCC(hdr)
	date := dateOf(hdr, respTime)
	e := &entry{
		primary:      k.hash,
		hash:         k.hash,
		key:          k.stored(),
		tenant:       k.tenant,
		ts:           h.ts,
		status:       status,
		header:       hdr,
		body:         body,
		cc:           cc,
		etag:         first(hdr["Etag"]),
		lastMod:      lastModified(hdr, respTime),
		responseTime: respTime,
		initialAge:   initialAge(hdr, date, reqTime, respTime),
		lifetime:     freshnessLifetime(status, hdr, &cc, date, &h.p),
		noStale:      cc.has(ccMustRevalidate | ccProxyRevalidate | ccNoCache),
	}
	delete(hdr, "Age") // served recomputed
	if status != http.StatusNoContent && status != http.StatusNotModified {
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	for _, v := range hdr["Surrogate-Key"] {
		e.tags = append(e.tags, strings.Fields(v)...)
	}
	names, _ := varyNames(hdr["Vary"])
	if names != nil {
		e.vals = varyValues(names, r.Header)
		e.hash = h.c.variantHash(k.hash, names, r.Header)
	}
	e.computeSize()
	return e, names
}

// refresh revalidates (or refetches) e in the background, once at a time
// per entry, for stale-while-revalidate.
func (h *handler) refresh(k *reqKey, r *http.Request, e *entry) {
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	kk := *k
	out := r.Clone(context.WithoutCancel(r.Context()))
	out.Method = http.MethodGet // a HEAD hit refreshes the GET entry
	// The clone shares the request's body, which belongs to the request
	// and is gone once it ends: a refresh sends none.
	out.Body, out.ContentLength = nil, 0
	for _, f := range conditionalFields {
		delete(out.Header, f)
	}
	h.c.bg.Add(1)
	go func() {
		defer h.c.bg.Done()
		defer e.refreshing.Store(false)
		defer func() {
			// The upstream handler aborts a broken body by panicking
			// with http.ErrAbortHandler; here no server catches it.
			// Any other panic is a Wedge bug: it costs this refresh, never
			// the process.
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				slog.Error("cache: panic in a background refresh: a Wedge bug", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		rcc := directives{maxAge: -1, sMaxAge: -1, maxStale: -1, minFresh: -1, swr: -1, sie: -1}
		h.fetch(nil, out, &kk, &rcc, e, e.etag != "" || e.lastMod != "", "stale")
	}()
}

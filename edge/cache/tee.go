package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// teeMode is what a tee does with the upstream's response, decided when
// its header is written.
type teeMode int

const (
	teePass        teeMode = iota // to the client only
	teeStore                      // to the client, and stored
	teeNotModified                // a 304 to a revalidation: swallowed, the entry updated
	teeStaleError                 // a 5xx while stale-if-error applies: swallowed, the entry served
)

// tee is the ResponseWriter the upstream handler writes a fetched response
// to. It decides at WriteHeader whether the response goes to the client
// (w; nil for background refreshes), to storage, or nowhere, and records
// the body for storage up to the size limit.
type tee struct {
	h        *handler
	w        http.ResponseWriter // nil: no client
	r        *http.Request       // the client's request (not the revalidation's)
	rcc      directives
	stale    *entry // the entry being revalidated or replaced, or nil
	validate bool   // the upstream request is conditional on stale
	fwd      string // Cache-Status fwd value

	header   http.Header // what the upstream handler writes into
	wrote    bool
	status   int
	mode     teeMode
	cc       directives
	stored   http.Header // the header to store: a clone taken at WriteHeader
	body     []byte
	limit    int64
	clientOK bool // every write to the client succeeded
	respTime time.Time
}

// Header returns the tee's own header map: nothing reaches the client
// before WriteHeader decides.
func (t *tee) Header() http.Header { return t.header }

func (t *tee) WriteHeader(status int) {
	if t.wrote {
		return
	}
	if status < 200 {
		// An informational response (103 Early Hints): relay it.
		if t.w != nil {
			dst := t.w.Header()
			saved := map[string][]string{}
			for k, vv := range t.header {
				if old, ok := dst[k]; ok {
					saved[k] = old
				}
				dst[k] = vv
			}
			t.w.WriteHeader(status)
			for k := range t.header {
				if old, ok := saved[k]; ok {
					dst[k] = old
				} else {
					delete(dst, k)
				}
			}
		}
		return
	}
	t.wrote = true
	t.status = status
	t.respTime = t.h.c.now()
	t.cc = t.h.c.responseCC(t.header)
	switch {
	case t.validate && status == http.StatusNotModified:
		t.mode = teeNotModified
		t.stored = t.header.Clone()
		return
	case t.stale != nil && isServerError(status) && staleIfError(t.stale, &t.rcc, t.respTime):
		t.mode = teeStaleError
		return
	case storable(t.r, &t.rcc, status, t.header, &t.cc, &t.h.p) && t.fits() && t.useful(status):
		t.mode = teeStore
		t.stored = t.header.Clone()
		if n, err := strconv.ParseInt(first(t.header["Content-Length"]), 10, 64); err == nil && n > 0 {
			t.body = make([]byte, 0, n)
		}
	}
	if t.w == nil {
		return
	}
	dst := t.w.Header()
	for k, vv := range t.header {
		if k != "Surrogate-Key" && !t.h.isTargeted(k) { // the edge's, not the client's
			dst[k] = vv
		}
	}
	cs := "wedge; fwd=" + t.fwd
	if t.validate {
		cs += "; fwd-status=" + strconv.Itoa(status)
	}
	if t.mode == teeStore {
		cs += "; stored"
	}
	up := dst["Cache-Status"]
	dst["Cache-Status"] = append(up[:len(up):len(up)], cs)
	t.w.WriteHeader(status)
}

// useful reports whether a stored response could ever answer a request:
// it has a freshness lifetime, or validators to revalidate it with, or a
// stale-if-error window. Others are not stored.
func (t *tee) useful(status int) bool {
	h := t.header
	if len(h["Etag"]) > 0 || lastModified(h, t.respTime) != "" || t.cc.sie >= 0 {
		return true
	}
	return freshnessLifetime(status, h, &t.cc, dateOf(h, t.respTime), &t.h.p) > 0
}

// fits reports whether the response's declared length is within the limit.
func (t *tee) fits() bool {
	cl := first(t.header["Content-Length"])
	if cl == "" {
		return true
	}
	n, err := strconv.ParseInt(cl, 10, 64)
	return err == nil && n <= t.limit
}

func (t *tee) Write(p []byte) (int, error) {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	switch t.mode {
	case teeNotModified, teeStaleError:
		return len(p), nil
	case teeStore:
		if int64(len(t.body)+len(p)) > t.limit {
			t.mode, t.body, t.stored = teePass, nil, nil // too big: stop storing, keep streaming
		} else {
			t.body = append(t.body, p...)
		}
	}
	if t.w == nil {
		return len(p), nil
	}
	n, err := t.w.Write(p)
	if err != nil {
		t.clientOK = false
	}
	return n, err
}

// Flush sends what was written to the client, if there is one.
func (t *tee) Flush() {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	if t.w != nil && (t.mode == teePass || t.mode == teeStore) {
		http.NewResponseController(t.w).Flush()
	}
}

// Unwrap returns the client's writer, for http.ResponseController.
func (t *tee) Unwrap() http.ResponseWriter { return t.w }

// relayTrailers copies to the client the trailers the upstream handler
// set after the body: fields announced in Trailer, and TrailerPrefix ones.
func (t *tee) relayTrailers() {
	if t.w == nil || t.mode != teePass && t.mode != teeStore {
		return
	}
	dst := t.w.Header()
	for k, vv := range t.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			dst[k] = vv
		}
	}
	for _, line := range t.header["Trailer"] {
		for _, name := range strings.Split(line, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if vv, ok := t.header[name]; ok && name != "" {
				dst[name] = vv
			}
		}
	}
}

// complete reports whether the stored body is the whole response.
func (t *tee) complete() bool {
	if t.mode != teeStore || !t.clientOK {
		return false
	}
	if cl := first(t.stored["Content-Length"]); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		return err == nil && n == int64(len(t.body))
	}
	return true
}

func isServerError(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func first(vv []string) string {
	if len(vv) == 0 {
		return ""
	}
	return vv[0]
}

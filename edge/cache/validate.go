package cache

import (
	"net/http"
	"time"
)

// notModified evaluates the request's If-None-Match (weak comparison) or,
// without it, If-Modified-Since against a stored 2xx response (RFC 9110
// §13.1.2, §13.1.3, §13.2.2). It reports whether the answer is 304.
func notModified(r *http.Request, e *entry) bool {
	if e.status < 200 || e.status > 299 {
		return false
	}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		match := false
		for _, line := range inm {
			eachETag(line, func(tag string, star bool) {
				if star && e.status == http.StatusOK || !star && e.etag != "" && weakMatch(tag, e.etag) {
					match = true
				}
			})
		}
		return match
	}
	// An If-Modified-Since that is not one valid HTTP-date is ignored
	// (RFC 9110 §13.1.3).
	since, ok := singleDate(r.Header["If-Modified-Since"], e.responseTime)
	if !ok {
		return false
	}
	last := e.lastMod
	if last == "" {
		last = first(e.header["Date"])
	}
	lm, ok := parseHTTPDate(last, e.responseTime)
	return ok && !lm.After(since)
}

// eachETag calls fn with each entity-tag (with its W/ prefix, if any) of
// an If-None-Match or If-Match line, or with star for "*". Malformed
// members end the list.
func eachETag(s string, fn func(tag string, star bool)) {
	for {
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == ',') {
			s = s[1:]
		}
		if s == "" {
			return
		}
		if s[0] == '*' {
			fn("", true)
			s = s[1:]
			continue
		}
		start := 0
		if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
			start = 2
		}
		if len(s) <= start || s[start] != '"' {
			return
		}
		end := start + 1
		for end < len(s) && s[end] != '"' {
			end++
		}
		if end == len(s) {
			return
		}
		fn(s[:end+1], false)
		s = s[end+1:]
	}
}

// opaque strips a weak prefix from an entity-tag.
func opaque(tag string) (string, bool) {
	if len(tag) >= 2 && tag[0] == 'W' && tag[1] == '/' {
		return tag[2:], true
	}
	return tag, false
}

// weakMatch is weak comparison of entity-tags (RFC 9110 §8.8.3.2).
func weakMatch(a, b string) bool {
	oa, _ := opaque(a)
	ob, _ := opaque(b)
	return oa == ob
}

// strongMatch is strong comparison: both strong, same opaque-tag.
func strongMatch(a, b string) bool {
	oa, wa := opaque(a)
	ob, wb := opaque(b)
	return !wa && !wb && oa == ob
}

// ifRangeHolds evaluates If-Range against e (RFC 9110 §13.1.5): absent, or
// a strong entity-tag equal to e's, or a date equal to e's Last-Modified.
// When it does not hold, the Range is ignored and the whole response sent.
func ifRangeHolds(r *http.Request, e *entry) bool {
	ir := r.Header["If-Range"]
	if len(ir) == 0 {
		return true
	}
	v := ir[0]
	if len(v) > 0 && (v[0] == '"' || v[0] == 'W') {
		return e.etag != "" && strongMatch(v, e.etag)
	}
	t, ok := singleDate(ir, e.responseTime)
	if !ok || e.lastMod == "" {
		return false
	}
	lm, ok := parseHTTPDate(e.lastMod, e.responseTime)
	return ok && t.Equal(lm)
}

// bodyFields are the representation fields a 304 or 416 from storage
// leaves out.
var bodyFields = []string{"Content-Length", "Content-Type", "Content-Range", "Content-Encoding", "Content-Language"}

// serveStored answers w from entry e: a 304 when the request's
// preconditions say so, a 206 or 416 for a Range on a stored 200, else
// the stored response. Stored slices are assigned, never copied or
// mutated; the body goes out in one Write.
func (h *handler) serveStored(w http.ResponseWriter, r *http.Request, e *entry, now time.Time, cs []string) {
	dst := w.Header()
	for k, vv := range e.header {
		if k != "Surrogate-Key" && !h.isTargeted(k) { // the edge's, not the client's
			dst[k] = vv
		}
	}
	dst["Age"] = ageHeader(e.age(now))
	if up := e.header["Cache-Status"]; len(up) > 0 {
		dst["Cache-Status"] = append(up[:len(up):len(up)], cs...)
	} else {
		dst["Cache-Status"] = cs
	}
	if notModified(r, e) {
		for _, f := range bodyFields {
			delete(dst, f)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	status, body := e.status, e.body
	if rg := r.Header["Range"]; len(rg) > 0 && e.status == http.StatusOK && ifRangeHolds(r, e) {
		start, end, res := parseRange(rg[0], int64(len(body)))
		switch res {
		case rangeOK:
			status = http.StatusPartialContent
			body = body[start : end+1]
			dst["Content-Range"] = []string{contentRange(start, end, int64(len(e.body)))}
			dst["Content-Length"] = []string{itoa(int64(len(body)))}
		case rangeUnsatisfiable:
			for _, f := range bodyFields {
				delete(dst, f)
			}
			dst["Content-Range"] = []string{"bytes */" + itoa(int64(len(e.body)))}
			dst["Content-Length"] = []string{"0"}
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead && len(body) > 0 {
		w.Write(body)
	}
}

package cache

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// heuristicStatus reports whether status is heuristically cacheable
// (RFC 9110 §15.1). 206 is, but is never stored as a whole response.
func heuristicStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// explicitFreshness reports whether a response carries an explicit
// expiration time (RFC 9111 §4.2.1), valid or not.
func explicitFreshness(cc *directives, h http.Header) bool {
	return cc.maxAge >= 0 || cc.sMaxAge >= 0 || cc.has(ccBadMaxAge|ccBadSMaxAge) || len(h["Expires"]) > 0 && !cc.has(ccTargeted)
}

// storable reports whether a shared cache may store the response to r
// (RFC 9111 §3, §3.5), given the request's and response's directives.
func storable(r *http.Request, rcc *directives, status int, h http.Header, cc *directives, p *Policy) bool {
	if r.Method != http.MethodGet || status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified {
		return false
	}
	if rcc.has(ccNoStore) || cc.has(ccNoStore|ccPrivate) {
		return false
	}
	if len(r.Header["Authorization"]) > 0 && !cc.has(ccPublic|ccMustRevalidate) && cc.sMaxAge < 0 {
		return false
	}
	if len(h["Set-Cookie"]) > 0 && !p.CacheSetCookie {
		return false
	}
	if len(h["Trailer"]) > 0 {
		return false // trailers are not stored; neither is what announces them
	}
	if names, star := varyNames(h["Vary"]); star || len(names) > maxVaryNames {
		return false
	}
	return explicitFreshness(cc, h) || cc.has(ccPublic) || heuristicStatus(status)
}

// freshnessLifetime computes a response's freshness_lifetime (RFC 9111
// §4.2.1): s-maxage, then max-age, then Expires minus Date; failing those,
// for heuristically cacheable responses, the policy's DefaultTTL or else
// 10% of the time since Last-Modified, capped at 24h (§4.2.2). Invalid
// max-age, s-maxage or Expires values make the response stale.
func freshnessLifetime(status int, h http.Header, cc *directives, date time.Time, p *Policy) time.Duration {
	switch {
	case cc.has(ccBadMaxAge | ccBadSMaxAge):
		return 0
	case cc.sMaxAge >= 0:
		return time.Duration(cc.sMaxAge) * time.Second
	case cc.maxAge >= 0:
		return time.Duration(cc.maxAge) * time.Second
	}
	if exp := h["Expires"]; len(exp) > 0 && !cc.has(ccTargeted) { // a targeted field overrides Expires (RFC 9213 §2.2)
		// Invalid (not a strict HTTP-date, or repeated): already
		// expired (RFC 9111 §5.3).
		t, ok := singleDate(exp, date)
		if !ok || !t.After(date) {
			return 0
		}
		return t.Sub(date)
	}
	if !heuristicStatus(status) && !cc.has(ccPublic) {
		return 0
	}
	if p.DefaultTTL > 0 {
		return p.DefaultTTL
	}
	if t, ok := singleDate(h["Last-Modified"], date); ok && t.Before(date) {
		return min(date.Sub(t)/10, 24*time.Hour)
	}
	return 0
}

// dateOf returns the response's Date, or at when it has none or an
// invalid one (not a strict HTTP-date, or repeated).
func dateOf(h http.Header, at time.Time) time.Time {
	if t, ok := singleDate(h["Date"], at); ok {
		return t
	}
	return at
}

// lastModified returns the response's Last-Modified when it is valid (a
// strict HTTP-date on one line), else "": an invalid one is neither a
// validator nor a base for heuristic freshness.
func lastModified(h http.Header, at time.Time) string {
	if _, ok := singleDate(h["Last-Modified"], at); ok {
		return h["Last-Modified"][0]
	}
	return ""
}

// initialAge computes corrected_initial_age (RFC 9111 §4.2.3) for a
// response received at respTime to a request sent at reqTime.
// It is capped at maxAge, so that a hostile Date (year 1) cannot overflow
// the age arithmetic.
func initialAge(h http.Header, date, reqTime, respTime time.Time) time.Duration {
	apparent := min(max(0, respTime.Sub(date)), maxAge)
	ageValue := parseAge(h["Age"])
	corrected := min(ageValue, maxAge) + min(max(0, respTime.Sub(reqTime)), maxAge)
	return min(max(apparent, corrected), maxAge)
}

// parseAge returns the age_value of an Age field (RFC 9111 §5.1),
// conservatively: Age is a singleton, but a list ("7200, 0") or a
// repeated line is read as the largest of its valid members, so that the
// response is never taken as fresher than any of them says (the RFC's
// first member is never more than that). Members that are not
// delta-seconds are skipped; with no valid member the field is ignored
// (age 0), as §5.1 says. It does not allocate.
func parseAge(lines []string) time.Duration {
	var n int64
	for _, l := range lines {
		for l != "" {
			var m string
			m, l, _ = strings.Cut(l, ",")
			if v, ok := deltaSeconds(textproto.TrimString(m), true); ok && v > n {
				n = v
			}
		}
	}
	return min(time.Duration(n)*time.Second, maxAge)
}

// maxAge bounds every age: 2^31 seconds (RFC 9111 §1.2.2), far from
// time.Duration's overflow.
const maxAge = maxDelta * time.Second

// age is the entry's current_age at now, at most maxAge.
func (e *entry) age(now time.Time) time.Duration {
	return min(e.initialAge+min(max(0, now.Sub(e.responseTime)), maxAge), maxAge)
}

// ageHeader formats an age as an Age field value: whole seconds, capped at
// 2^31 (RFC 9111 §5.1).
func ageHeader(age time.Duration) []string {
	s := max(0, int64(age/time.Second))
	if s > maxDelta {
		s = maxDelta
	}
	if s < int64(len(ageValues)) {
		return ageValues[s]
	}
	return []string{strconv.FormatInt(s, 10)}
}

// ageValues are the Age values of the first minutes, shared by hits so
// that they do not allocate. Never mutated.
var ageValues = func() [][]string {
	v := make([][]string, 600)
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

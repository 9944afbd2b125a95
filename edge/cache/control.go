package cache

import (
	"strconv"
	"strings"
)

// Cache-Control directive flags (RFC 9111 §5.2).
const (
	ccNoStore uint16 = 1 << iota
	ccNoCache
	ccPrivate
	ccPublic
	ccMustRevalidate
	ccProxyRevalidate
	ccOnlyIfCached
	ccMaxStaleAny
	ccNoTransform
	ccImmutable
	ccMustUnderstand
	ccBadMaxAge  // a max-age value was not a delta-seconds
	ccBadSMaxAge // an s-maxage value was not a delta-seconds
)

// maxDelta is the value a delta-seconds too large to represent takes
// (RFC 9111 §1.2.2).
const maxDelta = 1 << 31

// directives is a parsed Cache-Control field, request or response.
//
// Parsing rules, where the RFC leaves a choice:
//   - Directive names are case-insensitive; unknown directives are ignored.
//   - Values may be tokens or quoted-strings (max-age="5" is max-age=5).
//   - Duplicates: the most restrictive value wins: the smallest of max-age,
//     s-maxage, max-stale, stale-while-revalidate and stale-if-error, the
//     largest of min-fresh.
//   - Invalid values (not delta-seconds) are ignored, except max-age and
//     s-maxage, which are recorded as invalid: a response carrying them is
//     treated as stale (RFC 9111 §4.2.1 encourages this).
//   - Values above 2^31 are 2^31 (§1.2.2).
//   - The qualified forms no-cache="field" and private="field" are treated
//     as their unqualified forms, which is stricter than the RFC requires.
type directives struct {
	flags    uint16
	maxAge   int64 // -1 when absent; likewise for the others
	sMaxAge  int64
	maxStale int64 // -1 absent; with ccMaxStaleAny set, any staleness
	minFresh int64
	swr      int64 // stale-while-revalidate (RFC 5861)
	sie      int64 // stale-if-error (RFC 5861)
}

func (d *directives) has(f uint16) bool { return d.flags&f != 0 }

// parseCacheControl parses the lines of a Cache-Control field. It does not
// allocate.
func parseCacheControl(lines []string) directives {
	d := directives{maxAge: -1, sMaxAge: -1, maxStale: -1, minFresh: -1, swr: -1, sie: -1}
	for _, line := range lines {
		malformed := false
		for s := line; len(s) > 0; {
			var name, val string
			var hasVal, bad bool
			name, val, hasVal, bad, s = nextDirective(s)
			malformed = malformed || bad
			if name == "" {
				continue
			}
			d.apply(name, val, hasVal)
		}
		if malformed {
			// Fail closed: a restrictive directive anywhere in a field
			// that does not parse still holds ("private max-age=60" is
			// a typo for "private, max-age=60", not a public response).
			for _, w := range [...]string{"private", "no-store", "no-cache"} {
				if hasWordFold(line, w) {
					d.apply(w, "", false)
				}
			}
		}
	}
	return d
}

// hasWordFold reports whether s contains w, case-insensitively, with no
// token character on either side.
func hasWordFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) &&
			(i == 0 || !isTokenChar(s[i-1])) &&
			(i+len(w) == len(s) || !isTokenChar(s[i+len(w)])) {
			return true
		}
	}
	return false
}

// nextDirective splits off the first directive of s, returning its name,
// its value (unquoted, escapes still in place), whether it had one, and
// the rest of s after the separating comma.
// bad reports text that is not a directive (the directive is dropped).
func nextDirective(s string) (name, val string, hasVal, bad bool, rest string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
		i++
	}
	s = s[i:]
	i = 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	name, s = s[:i], s[i:]
	i = 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i < len(s) && s[i] == '=' {
		hasVal = true
		i++
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		s = s[i:]
		if len(s) > 0 && s[0] == '"' {
			j := 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j > len(s) {
				j = len(s)
			}
			val = s[1:j]
			if j < len(s) {
				j++ // closing quote
			}
			s = s[j:]
		} else {
			j := 0
			for j < len(s) && isTokenChar(s[j]) {
				j++
			}
			val, s = s[:j], s[j:]
		}
		i = 0
	}
	// Skip anything else up to the next comma outside a quoted-string.
	inQuote := false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ',':
			if i > 0 && !blank(s[:i]) {
				return "", "", false, true, s[i+1:] // garbage: drop the directive
			}
			return name, val, hasVal, name == "" && i > 0, s[i+1:]
		}
	}
	if !blank(s) {
		return "", "", false, true, ""
	}
	return name, val, hasVal, false, ""
}

func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (d *directives) apply(name, val string, hasVal bool) {
	switch {
	case strings.EqualFold(name, "max-age"):
		if n, ok := deltaSeconds(val, hasVal); ok {
			d.maxAge = minDelta(d.maxAge, n)
		} else {
			d.flags |= ccBadMaxAge
		}
	case strings.EqualFold(name, "s-maxage"):
		if n, ok := deltaSeconds(val, hasVal); ok {
			d.sMaxAge = minDelta(d.sMaxAge, n)
		} else {
			d.flags |= ccBadSMaxAge
		}
	case strings.EqualFold(name, "max-stale"):
		if !hasVal {
			d.flags |= ccMaxStaleAny
		} else if n, ok := deltaSeconds(val, true); ok {
			d.maxStale = minDelta(d.maxStale, n)
		}
	case strings.EqualFold(name, "min-fresh"):
		if n, ok := deltaSeconds(val, hasVal); ok && n > d.minFresh {
			d.minFresh = n
		}
	case strings.EqualFold(name, "stale-while-revalidate"):
		if n, ok := deltaSeconds(val, hasVal); ok {
			d.swr = minDelta(d.swr, n)
		}
	case strings.EqualFold(name, "stale-if-error"):
		if n, ok := deltaSeconds(val, hasVal); ok {
			d.sie = minDelta(d.sie, n)
		}
	case strings.EqualFold(name, "no-store"):
		d.flags |= ccNoStore
	case strings.EqualFold(name, "no-cache"):
		d.flags |= ccNoCache
	case strings.EqualFold(name, "private"):
		d.flags |= ccPrivate
	case strings.EqualFold(name, "public"):
		d.flags |= ccPublic
	case strings.EqualFold(name, "must-revalidate"):
		d.flags |= ccMustRevalidate
	case strings.EqualFold(name, "proxy-revalidate"):
		d.flags |= ccProxyRevalidate
	case strings.EqualFold(name, "only-if-cached"):
		d.flags |= ccOnlyIfCached
	case strings.EqualFold(name, "no-transform"):
		d.flags |= ccNoTransform
	case strings.EqualFold(name, "immutable"):
		d.flags |= ccImmutable
	case strings.EqualFold(name, "must-understand"):
		d.flags |= ccMustUnderstand
	}
}

func minDelta(cur, n int64) int64 {
	if cur < 0 || n < cur {
		return n
	}
	return cur
}

// deltaSeconds parses a delta-seconds value (RFC 9111 §1.2.2): one or
// more digits, capped at 2^31.
func deltaSeconds(s string, hasVal bool) (int64, bool) {
	if !hasVal || s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	if n > maxDelta {
		n = maxDelta
	}
	return n, true
}

// String formats d as a Cache-Control value; parsing it again yields d.
// It is used by tests and diagnostics, not on the request path.
func (d directives) String() string {
	var b []string
	flag := func(f uint16, name string) {
		if d.flags&f != 0 {
			b = append(b, name)
		}
	}
	num := func(n int64, name string) {
		if n >= 0 {
			b = append(b, name+"="+strconv.FormatInt(n, 10))
		}
	}
	flag(ccNoStore, "no-store")
	flag(ccNoCache, "no-cache")
	flag(ccPrivate, "private")
	flag(ccPublic, "public")
	flag(ccMustRevalidate, "must-revalidate")
	flag(ccProxyRevalidate, "proxy-revalidate")
	flag(ccOnlyIfCached, "only-if-cached")
	flag(ccMaxStaleAny, "max-stale")
	flag(ccNoTransform, "no-transform")
	flag(ccImmutable, "immutable")
	flag(ccMustUnderstand, "must-understand")
	flag(ccBadMaxAge, "max-age=invalid")
	flag(ccBadSMaxAge, "s-maxage=invalid")
	num(d.maxAge, "max-age")
	num(d.sMaxAge, "s-maxage")
	num(d.maxStale, "max-stale")
	num(d.minFresh, "min-fresh")
	num(d.swr, "stale-while-revalidate")
	num(d.sie, "stale-if-error")
	return strings.Join(b, ", ")
}

package cache

import (
	"net/http"
	"strings"
)

// ccTargeted marks directives taken from a targeted field (RFC 9213):
// Expires is then ignored.
const ccTargeted uint16 = 1 << 13

// CDNCacheControl is the targeted field of RFC 9213 §3, last on every
// cache's target list.
const CDNCacheControl = "Cdn-Cache-Control" // canonical form of CDN-Cache-Control

// responseCC returns the directives that govern a response for this
// cache: those of the first field of the target list (the node's own
// targeted field, then CDN-Cache-Control) whose value is a valid,
// non-empty Structured Fields Dictionary, which override Cache-Control
// and Expires (RFC 9213 §2.2); failing those, Cache-Control's.
func (c *Cache) responseCC(h http.Header) directives {
	for _, name := range c.targets {
		if lines := h[name]; len(lines) > 0 {
			if d, ok := parseTargeted(lines); ok {
				return d
			}
		}
	}
	return parseCacheControl(h["Cache-Control"])
}

// stripTargeted removes the targeted fields from a header going to a
// client, unless the route forwards them.
func (h *handler) stripTargeted(dst http.Header) {
	if h.p.ForwardTargeted {
		return
	}
	for _, name := range h.c.targets {
		delete(dst, name)
	}
}

// isTargeted reports whether name (canonical) is one of the targeted
// fields that h strips.
func (h *handler) isTargeted(name string) bool {
	if h.p.ForwardTargeted {
		return false
	}
	for _, n := range h.c.targets {
		if n == name {
			return true
		}
	}
	return false
}

// sfValue is a member's value in a targeted field: its kind, and the
// integer for integers.
type sfValue struct {
	kind byte // 't' true, 'f' false, 'i' integer, 's' string, 'o' other (token, decimal, bytes, inner list)
	n    int64
}

// parseTargeted parses the lines of a targeted field as a Structured
// Fields Dictionary (RFC 8941 §4.2.2) and maps its members to cache
// directives (RFC 9213 §2.1). ok is false for a field that does not
// parse or is empty: it is then ignored. Members repeated: the last
// wins, as in any Dictionary. Values that break a directive's inferred
// type are not consumed, except that max-age and s-maxage then make the
// response stale (as Cache-Control's invalid ones do), and no-store,
// no-cache, private, must-revalidate and proxy-revalidate hold with any
// value but false (fail closed).
func parseTargeted(lines []string) (directives, bool) {
	d := directives{maxAge: -1, sMaxAge: -1, maxStale: -1, minFresh: -1, swr: -1, sie: -1, flags: ccTargeted}
	s := strings.Join(lines, ",")
	s = strings.TrimLeft(s, " ")
	type member struct {
		key string
		v   sfValue
	}
	var ms []member
	for s != "" {
		key, rest, ok := sfKey(s)
		if !ok {
			return d, false
		}
		s = rest
		v := sfValue{kind: 't'}
		if s != "" && s[0] == '=' {
			if v, s, ok = sfItemOrList(s[1:]); !ok {
				return d, false
			}
		} else if s, ok = sfParams(s); !ok {
			return d, false
		}
		replaced := false
		for i := range ms {
			if ms[i].key == key {
				ms[i].v, replaced = v, true
			}
		}
		if !replaced {
			ms = append(ms, member{key, v})
		}
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] != ',' {
			return d, false
		}
		s = strings.TrimLeft(s[1:], " \t")
		if s == "" {
			return d, false // a trailing comma
		}
	}
	if len(ms) == 0 {
		return d, false
	}
	for _, m := range ms {
		v := m.v
		delta := func(p *int64, bad uint16) {
			if v.kind == 'i' && v.n >= 0 {
				*p = min(v.n, maxDelta)
			} else {
				d.flags |= bad
			}
		}
		switch m.key {
		case "max-age":
			delta(&d.maxAge, ccBadMaxAge)
		case "s-maxage":
			delta(&d.sMaxAge, ccBadSMaxAge)
		case "stale-while-revalidate":
			delta(&d.swr, 0)
		case "stale-if-error":
			delta(&d.sie, 0)
		case "no-store", "no-cache", "private", "must-revalidate", "proxy-revalidate":
			if v.kind != 'f' {
				d.apply(m.key, "", false)
			}
		case "public", "immutable", "no-transform", "must-understand":
			if v.kind == 't' {
				d.apply(m.key, "", false)
			}
		}
	}
	return d, true
}

// sfKey parses a Dictionary key: lcalpha or "*", then lcalpha, DIGIT,
// "_", "-", "." or "*".
func sfKey(s string) (key, rest string, ok bool) {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] == '*') {
		return "", s, false
	}
	i := 1
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9' || strings.IndexByte("_-.*", s[i]) >= 0) {
		i++
	}
	return s[:i], s[i:], true
}

// sfParams parses parameters (ignored): *( ";" *SP key [ "=" bare-item ] ).
func sfParams(s string) (string, bool) {
	for s != "" && s[0] == ';' {
		s = strings.TrimLeft(s[1:], " ")
		var ok bool
		if _, s, ok = sfKey(s); !ok {
			return s, false
		}
		if s != "" && s[0] == '=' {
			if _, s, ok = sfBare(s[1:]); !ok {
				return s, false
			}
		}
	}
	return s, true
}

func sfItemOrList(s string) (sfValue, string, bool) {
	if s != "" && s[0] == '(' {
		s = s[1:]
		for {
			s = strings.TrimLeft(s, " ")
			if s != "" && s[0] == ')' {
				rest, ok := sfParams(s[1:])
				return sfValue{kind: 'o'}, rest, ok
			}
			var ok bool
			if _, s, ok = sfBare(s); !ok {
				return sfValue{}, s, false
			}
			if s, ok = sfParams(s); !ok {
				return sfValue{}, s, false
			}
			if s == "" || s[0] != ' ' && s[0] != ')' {
				return sfValue{}, s, false
			}
		}
	}
	v, rest, ok := sfBare(s)
	if !ok {
		return v, rest, false
	}
	rest, ok = sfParams(rest)
	return v, rest, ok
}

// sfBare parses a bare item (RFC 8941 §4.2.3.1).
func sfBare(s string) (sfValue, string, bool) {
	if s == "" {
		return sfValue{}, s, false
	}
	switch c := s[0]; {
	case c == '-' || c >= '0' && c <= '9':
		i, neg := 0, c == '-'
		if neg {
			i = 1
		}
		start := i
		var n int64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int64(s[i]-'0')
			i++
			if i-start > 15 {
				return sfValue{}, s, false
			}
		}
		if i == start {
			return sfValue{}, s, false
		}
		if i < len(s) && s[i] == '.' {
			if i-start > 12 {
				return sfValue{}, s, false
			}
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 || j-i-1 > 3 {
				return sfValue{}, s, false
			}
			return sfValue{kind: 'o'}, s[j:], true
		}
		if neg {
			n = -n
		}
		return sfValue{kind: 'i', n: n}, s[i:], true
	case c == '"':
		for i := 1; i < len(s); i++ {
			switch ch := s[i]; {
			case ch == '\\':
				if i+1 >= len(s) || s[i+1] != '"' && s[i+1] != '\\' {
					return sfValue{}, s, false
				}
				i++
			case ch == '"':
				return sfValue{kind: 's'}, s[i+1:], true
			case ch < 0x20 || ch > 0x7e:
				return sfValue{}, s, false
			}
		}
		return sfValue{}, s, false
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		i := 1
		for i < len(s) && (isTokenChar(s[i]) || s[i] == ':' || s[i] == '/') {
			i++
		}
		return sfValue{kind: 'o'}, s[i:], true
	case c == ':':
		i := 1
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9' || strings.IndexByte("+/=", s[i]) >= 0) {
			i++
		}
		if i >= len(s) || s[i] != ':' {
			return sfValue{}, s, false
		}
		return sfValue{kind: 'o'}, s[i+1:], true
	case c == '?':
		if len(s) >= 2 && (s[1] == '0' || s[1] == '1') {
			k := byte('f')
			if s[1] == '1' {
				k = 't'
			}
			return sfValue{kind: k}, s[2:], true
		}
	}
	return sfValue{}, s, false
}

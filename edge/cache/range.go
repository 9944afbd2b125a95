package cache

import "strconv"

// Results of parseRange.
const (
	rangeIgnore        = iota // no usable Range: serve the whole response
	rangeOK                   // one satisfiable range
	rangeUnsatisfiable        // 416
)

// parseRange parses a Range field value for a representation of size
// bytes (RFC 9110 §14.1.2). Only a single byte range is supported
// ("bytes=a-b", "bytes=a-", "bytes=-n"); a value with several ranges, of
// another unit, or malformed, is ignored (§14.2 allows a server to ignore
// Range). On rangeOK, 0 <= start <= end < size.
func parseRange(v string, size int64) (start, end int64, res int) {
	const prefix = "bytes="
	if len(v) < len(prefix) || !equalFoldASCII(v[:len(prefix)], prefix) {
		return 0, 0, rangeIgnore
	}
	v = trimOWS(v[len(prefix):])
	for i := 0; i < len(v); i++ {
		if v[i] == ',' {
			return 0, 0, rangeIgnore
		}
	}
	dash := -1
	for i := 0; i < len(v); i++ {
		if v[i] == '-' {
			dash = i
			break
		}
	}
	if dash < 0 {
		return 0, 0, rangeIgnore
	}
	first, last := trimOWS(v[:dash]), trimOWS(v[dash+1:])
	if first == "" {
		// Suffix range: the last n bytes.
		n, ok := digits(last)
		if !ok {
			return 0, 0, rangeIgnore
		}
		if n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		if n > size {
			n = size
		}
		return size - n, size - 1, rangeOK
	}
	a, ok := digits(first)
	if !ok {
		return 0, 0, rangeIgnore
	}
	b := int64(-1)
	if last != "" {
		if b, ok = digits(last); !ok || b < a {
			return 0, 0, rangeIgnore
		}
	}
	if a >= size {
		return 0, 0, rangeUnsatisfiable
	}
	if b < 0 || b >= size {
		b = size - 1
	}
	return a, b, rangeOK
}

// digits parses a non-empty run of decimal digits; values too large for
// an int64 are not valid.
func digits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func contentRange(start, end, size int64) string {
	return "bytes " + itoa(start) + "-" + itoa(end) + "/" + itoa(size)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

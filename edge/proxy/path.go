package proxy

import (
	"path"
	"strings"
)

// needsClean reports, without allocating, whether p has empty segments
// ("//") or dot segments ("/./", "/../", a trailing "/." or "/.."), or
// does not start with "/".
func needsClean(p string) bool {
	if p == "" || p[0] != '/' {
		return p != "*" // OPTIONS * stays as it is
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		rest := p[i+1:]
		switch {
		case strings.HasPrefix(rest, "/"),
			rest == ".", rest == "..",
			strings.HasPrefix(rest, "./"), strings.HasPrefix(rest, "../"):
			return true
		}
	}
	return false
}

// cleanPath removes dot segments (RFC 3986 §5.2.4) and empty segments from
// an absolute path, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	trailing := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
	c := path.Clean("/" + p)
	if trailing && c != "/" {
		c += "/"
	}
	return c
}

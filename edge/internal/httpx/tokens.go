// Package httpx holds small HTTP helpers shared by the edge packages.
package httpx

import (
	"net/textproto"
	"strings"
)

// EachToken calls fn with each non-empty, trimmed element of the
// comma-separated lists in values (a header such as Connection or
// Upgrade).
func EachToken(values []string, fn func(tok string)) {
	for _, v := range values {
		for len(v) > 0 {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if tok = textproto.TrimString(tok); tok != "" {
				fn(tok)
			}
		}
	}
}

// HasToken reports whether the comma-separated lists in values contain
// token, compared case-insensitively.
func HasToken(values []string, token string) bool {
	for _, v := range values {
		for len(v) > 0 {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if tok = textproto.TrimString(tok); tok != "" && strings.EqualFold(tok, token) {
				return true
			}
		}
	}
	return false
}

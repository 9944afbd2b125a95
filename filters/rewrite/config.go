package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/wedgeproxy/wedge/sdk"
)

// config is the filter's JSON configuration.
type config struct {
	// Rules are tried in order; the first that matches wins.
	Rules []ruleConfig `json:"rules"`
}

// ruleConfig is one rule. Exactly one of Rewrite and Redirect is set.
type ruleConfig struct {
	// Match is an RE2 regular expression matched against the request
	// path (without the query string).
	Match string `json:"match"`
	// Rewrite is the new path: a template where $1, ${1} and ${name}
	// are the match's groups ($$ is a dollar sign). Starts with "/".
	Rewrite string `json:"rewrite"`
	// Redirect is the Location of a redirect: a template like Rewrite,
	// either a path ("/new/$1") or an absolute URL
	// ("https://example.com/$1") whose scheme and host hold no group.
	Redirect string `json:"redirect"`
	// Status is the redirect's status: 301, 302 (default), 303, 307 or
	// 308. Only for redirects.
	Status int `json:"status"`
	// Methods, when set, limit the rule to these request methods.
	Methods []string `json:"methods"`
	// Host, when set, limits the rule to requests for this host (the
	// port aside, case-insensitive); "*.example.com" matches every
	// subdomain of example.com (not example.com itself).
	Host string `json:"host"`
	// Query is "keep" (default: the request's query string is appended
	// to the new path or Location) or "drop".
	Query string `json:"query"`
}

// rule is a compiled ruleConfig.
type rule struct {
	re       *regexp.Regexp
	template string
	redirect bool
	// collapse: the redirect template is a local path, so a result that
	// starts with several slashes (or backslashes) gets one, never
	// becoming a protocol-relative URL to another host.
	collapse bool
	status   int
	methods  []string
	host     string // exact host, or the suffix ".example.com" of a wildcard
	wildcard bool
	keepQ    bool
}

const defaultRedirectStatus = 302

// compile validates c and returns its rules. Every problem is reported,
// each with the index of its rule.
func (c *config) compile() ([]rule, error) {
	var errs []error
	if len(c.Rules) == 0 {
		errs = append(errs, errors.New("rewrite: config: rules: at least one rule is required"))
	}
	rules := make([]rule, 0, len(c.Rules))
	for i := range c.Rules {
		r, rerrs := c.Rules[i].compile()
		for _, err := range rerrs {
			errs = append(errs, fmt.Errorf("rewrite: config: rules[%d].%w", i, err))
		}
		if len(rerrs) == 0 {
			rules = append(rules, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rules, nil
}

// compile checks one rule; each error starts with the field's name.
func (rc *ruleConfig) compile() (rule, []error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	r := rule{status: rc.Status}

	if rc.Match == "" {
		bad("match: a regular expression is required")
	} else if re, err := regexp.Compile(rc.Match); err != nil {
		bad("match: %w", err)
	} else {
		r.re = re
	}

	switch {
	case rc.Rewrite != "" && rc.Redirect != "":
		bad("rewrite: a rule either rewrites or redirects: give rewrite or redirect, not both")
	case rc.Rewrite == "" && rc.Redirect == "":
		bad("rewrite: give rewrite (a new path) or redirect (a Location)")
	case rc.Rewrite != "":
		r.template = rc.Rewrite
		if !strings.HasPrefix(rc.Rewrite, "/") {
			bad("rewrite: %q: a path must start with /", rc.Rewrite)
		}
		if strings.IndexByte(rc.Rewrite, '#') >= 0 {
			bad("rewrite: %q: a path has no fragment (#)", rc.Rewrite)
		}
		if err := checkTemplate(rc.Rewrite, r.re); err != nil {
			bad("rewrite: %v", err)
		}
		if rc.Status != 0 {
			bad("status: only for redirect rules")
		}
	default:
		r.template, r.redirect = rc.Redirect, true
		if err := checkLocation(rc.Redirect); err != nil {
			bad("redirect: %v", err)
		}
		if err := checkTemplate(rc.Redirect, r.re); err != nil {
			bad("redirect: %v", err)
		}
		r.collapse = strings.HasPrefix(rc.Redirect, "/") && !strings.HasPrefix(rc.Redirect, "//")
		switch rc.Status {
		case 0:
			r.status = defaultRedirectStatus
		case 301, 302, 303, 307, 308:
		default:
			bad("status: %d is not a redirect status: want 301, 302, 303, 307 or 308", rc.Status)
		}
	}

	for j, m := range rc.Methods {
		if m == "" || strings.IndexFunc(m, func(c rune) bool { return c > 0x7f || !sdk.IsTokenChar(byte(c)) }) >= 0 {
			bad("methods[%d]: %q is not a method name", j, m)
			continue
		}
		r.methods = append(r.methods, strings.ToUpper(m))
	}

	switch q := rc.Query; q {
	case "", "keep":
		r.keepQ = true
	case "drop":
	default:
		bad("query: %q: want \"keep\" or \"drop\"", q)
	}

	if rc.Host != "" {
		h := strings.ToLower(rc.Host)
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			r.wildcard, h = true, "."+suffix
			if suffix == "" {
				bad("host: %q: a wildcard needs a domain after *.", rc.Host)
			}
		}
		if strings.ContainsAny(h, "*/?#@ \t:") && !strings.HasPrefix(h, "[") {
			bad("host: %q: want a host name such as example.com or *.example.com, without port", rc.Host)
		}
		r.host = h
	}
	return r, errs
}

// checkLocation accepts a local path ("/…") or an absolute http(s) URL
// whose scheme and host are fixed: a redirect never goes to a host taken
// from the request.
func checkLocation(t string) error {
	if strings.HasPrefix(t, "/") && !strings.HasPrefix(t, "//") {
		return nil
	}
	scheme, rest, ok := strings.Cut(t, "://")
	if !ok || (strings.ToLower(scheme) != "http" && strings.ToLower(scheme) != "https") {
		return fmt.Errorf("%q: want a path starting with / or an http:// or https:// URL", t)
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	switch {
	case authority == "":
		return fmt.Errorf("%q: the URL has no host", t)
	case strings.ContainsAny(authority, "$@\\"):
		return fmt.Errorf("%q: the host part may not hold a group ($), userinfo (@) or backslash: a redirect's host is fixed", t)
	}
	return nil
}

// checkTemplate checks a replacement template: no control characters or
// spaces, and every $ reference names a group of re (regexp.Expand would
// silently put nothing for others, such as $1x, which means ${1x}, not
// ${1}x).
func checkTemplate(t string, re *regexp.Regexp) error {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%q: byte %q at %d is not allowed", t, c, i)
		}
	}
	if re == nil {
		return nil // the regular expression has its own error
	}
	var errs []error
	for rest := t; ; {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		if strings.HasPrefix(rest, "$") {
			rest = rest[1:]
			continue
		}
		name, braced := "", false
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				errs = append(errs, fmt.Errorf("%q: ${ without a closing }", t))
				break
			}
			name, rest, braced = rest[1:end], rest[end+1:], true
		} else {
			n := 0
			for n < len(rest) && isNameChar(rest[n]) {
				n++
			}
			name, rest = rest[:n], rest[n:]
		}
		if name == "" {
			errs = append(errs, fmt.Errorf("%q: a lone $ (write $$ for a dollar sign)", t))
			continue
		}
		if !isGroup(re, name) {
			hint := ""
			if !braced && name[0] >= '0' && name[0] <= '9' {
				digits := strings.TrimRightFunc(name, func(r rune) bool { return r < '0' || r > '9' })
				hint = fmt.Sprintf(" (for group %s followed by %q write ${%s}%s)", digits, name[len(digits):], digits, name[len(digits):])
			}
			errs = append(errs, fmt.Errorf("%q: $%s is not a group of the match%s", t, name, hint))
		}
	}
	return errors.Join(errs...)
}

// isGroup reports whether name is a group number or name of re.
func isGroup(re *regexp.Regexp, name string) bool {
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return re.SubexpIndex(name) >= 0
		}
		if n = n*10 + int(c-'0'); n > re.NumSubexp() {
			return false
		}
	}
	return true
}

func isNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

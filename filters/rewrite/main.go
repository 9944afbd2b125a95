// Command rewrite is a Wedge filter that rewrites request paths and
// answers redirects, by ordered rules of RE2 regular expressions. See
// README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o rewrite.wasm .
package main

import (
	"bytes"
	"slices"
	"strings"

	"github.com/wedgeproxy/wedge/sdk"
)

// The factory is registered from init: a -buildmode=c-shared module runs
// its package initialisers but never main.
func init() { sdk.Register(newPlugin) }

func main() {}

// plugin is a configured rewrite filter. It keeps no per-stream state, so
// it is also the filter of every stream.
type plugin struct {
	sdk.DefaultFilter
	rules []rule
	// needHost, needMethod: some rule looks at the host, the method.
	needHost, needMethod bool

	buf []byte // scratch for the new path or Location
}

func newPlugin(cfg sdk.PluginConfig) (sdk.Plugin, error) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	rules, err := c.compile()
	if err != nil {
		return nil, err
	}
	p := &plugin{rules: rules}
	for i := range rules {
		p.needHost = p.needHost || rules[i].host != ""
		p.needMethod = p.needMethod || len(rules[i].methods) > 0
	}
	return p, nil
}

// NewFilter returns the plugin itself: the filter is stateless.
func (p *plugin) NewFilter() sdk.Filter { return p }

// OnRequestHeaders applies the first rule that matches the request.
func (p *plugin) OnRequestHeaders(s *sdk.Stream, _ bool) sdk.Action {
	h := s.RequestHeaders()
	full, ok := h.Get(":path")
	if !ok {
		return sdk.Continue
	}
	path, query, _ := strings.Cut(full, "?")
	var method, host string
	if p.needMethod {
		method, _ = h.Get(":method")
	}
	if p.needHost {
		host = requestHost(h)
	}
	for i := range p.rules {
		r := &p.rules[i]
		if len(r.methods) > 0 && !slices.Contains(r.methods, method) {
			continue
		}
		if r.host != "" && !r.matchHost(host) {
			continue
		}
		m := r.re.FindStringSubmatchIndex(path)
		if m == nil {
			continue
		}
		out := r.re.ExpandString(p.buf[:0], r.template, path, m)
		if r.collapse {
			out = collapseSlashes(out)
		}
		if r.keepQ && query != "" {
			out = appendQuery(out, query)
		}
		p.buf = out
		if r.redirect {
			err := s.SendLocalResponse(r.status, nil, sdk.Header{Name: "location", Value: string(out)})
			if err != nil {
				sdk.Errorf("rewrite: rule %d: send %d: %v", i, r.status, err)
				return sdk.Continue
			}
			return sdk.Pause
		}
		if err := h.Set(":path", string(out)); err != nil {
			sdk.Errorf("rewrite: rule %d: set :path: %v", i, err)
		}
		return sdk.Continue
	}
	return sdk.Continue
}

// matchHost reports whether the request's host (lower case, no port) is
// the rule's.
func (r *rule) matchHost(host string) bool {
	if r.wildcard {
		return len(host) > len(r.host) && strings.HasSuffix(host, r.host)
	}
	return host == r.host
}

// requestHost returns the request's host without port or trailing dot, in
// lower case: from :authority, else Host.
func requestHost(h sdk.HeaderMap) string {
	host, ok := h.Get(":authority")
	if !ok || host == "" {
		host, _ = h.Get("host")
	}
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			host = host[:end+1]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host)
}

// appendQuery appends the request's query string to a path or URL that
// may have its own query, and a fragment (the query goes before it).
func appendQuery(dst []byte, query string) []byte {
	var frag string
	if i := bytes.IndexByte(dst, '#'); i >= 0 {
		frag, dst = string(dst[i:]), dst[:i]
	}
	switch i := bytes.IndexByte(dst, '?'); {
	case i < 0:
		dst = append(dst, '?')
	case dst[len(dst)-1] != '?' && dst[len(dst)-1] != '&':
		dst = append(dst, '&')
	}
	dst = append(dst, query...)
	return append(dst, frag...)
}

// collapseSlashes makes a leading run of slashes and backslashes one
// slash, so a local redirect cannot become "//other.host/…".
func collapseSlashes(b []byte) []byte {
	n := 0
	for n < len(b) && (b[n] == '/' || b[n] == '\\') {
		n++
	}
	if n <= 1 {
		return b
	}
	return append(b[:1], b[n:]...)
}

package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
)

// config is the filter's JSON configuration. Zero values take the defaults
// documented on each field.
type config struct {
	// Upstream is the tenant's pool that answers the checks. Required;
	// the route must also list it in the filter's http_upstreams.
	Upstream string `json:"upstream"`
	// Path is the :path of the check request. Default "/".
	Path string `json:"path"`
	// TimeoutMS bounds the check, in milliseconds. 0: 1000; at most
	// 60000.
	TimeoutMS int `json:"timeout_ms"`
	// ForwardHeaders are the request headers copied onto the check (every
	// value of each). Empty: none.
	ForwardHeaders []string `json:"forward_headers"`
	// AllowedResponseHeaders are the headers of a 2xx check response
	// copied onto the request. The client's own copies are always removed.
	AllowedResponseHeaders []string `json:"allowed_response_headers"`
	// Failure is what a request gets when the check gets no answer:
	// "deny" (default, 503) or "allow" (it goes on).
	Failure string `json:"failure"`
}

const (
	defaultTimeout = time.Second
	maxTimeoutMS   = 60000 // Wedge's largest HTTP call timeout
)

// The headers the filter sets on every check: the original request's
// method, scheme, authority and path (as Traefik's ForwardAuth names them).
const (
	hdrMethod = "x-forwarded-method"
	hdrProto  = "x-forwarded-proto"
	hdrHost   = "x-forwarded-host"
	hdrURI    = "x-forwarded-uri"
)

// framing are headers that frame the message or the connection, or select
// the route: copying them between the request and the check could corrupt
// or smuggle requests.
var framing = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "upgrade": true, "te": true,
	"transfer-encoding": true, "content-length": true, "host": true,
}

// compile validates c and builds the plugin. Every problem is reported,
// each with its field path.
func (c *config) compile() (*plugin, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("extauth: config: "+format, args...))
	}
	p := &plugin{upstream: c.Upstream, path: c.Path, timeout: defaultTimeout}

	if c.Upstream == "" {
		bad("upstream: required: the tenant's upstream pool that answers the checks (list it in the filter's http_upstreams too)")
	}
	if p.path == "" {
		p.path = "/"
	}
	if err := checkPath(p.path); err != nil {
		bad("path: %q: %v", c.Path, err)
	}
	switch {
	case c.TimeoutMS < 0 || c.TimeoutMS > maxTimeoutMS:
		bad("timeout_ms: %d: want 1 to %d (0: %v)", c.TimeoutMS, maxTimeoutMS, defaultTimeout)
	case c.TimeoutMS > 0:
		p.timeout = time.Duration(c.TimeoutMS) * time.Millisecond
	}
	switch c.Failure {
	case "", "deny":
	case "allow":
		p.failOpen = true
	default:
		bad("failure: %q: want \"deny\" or \"allow\"", c.Failure)
	}

	var err error
	p.forward, err = names("forward_headers", c.ForwardHeaders, func(name string) error {
		switch name {
		case hdrMethod, hdrProto, hdrHost, hdrURI:
			return fmt.Errorf("%s is set by the filter to the original request's", name)
		}
		return nil
	})
	errs = append(errs, err)
	p.allowed, err = names("allowed_response_headers", c.AllowedResponseHeaders, nil)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// names validates a list of header names and returns them in lower case.
// extra, if not nil, refuses further names.
func names(field string, list []string, extra func(string) error) ([]string, error) {
	var errs []error
	var out []string
	seen := map[string]int{}
	for i, name := range list {
		lower := strings.ToLower(name)
		err := checkName(lower)
		if err == nil && extra != nil {
			err = extra(lower)
		}
		if err == nil {
			if j, dup := seen[lower]; dup {
				err = fmt.Errorf("same header as %s[%d]", field, j)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("extauth: config: %s[%d]: %q: %w", field, i, name, err))
			continue
		}
		seen[lower] = i
		out = append(out, lower)
	}
	return out, errors.Join(errs...)
}

// checkName accepts an HTTP field name (RFC 9110 token), lower case, that
// is neither a pseudo-header nor a framing header.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty header name")
	}
	if name[0] == ':' {
		return errors.New("pseudo-headers are not copied; the filter sets the check's own")
	}
	for i := 0; i < len(name); i++ {
		if !sdk.IsTokenChar(name[i]) {
			return fmt.Errorf("invalid header name: byte %q at %d is not allowed in a field name", name[i], i)
		}
	}
	if framing[name] {
		return fmt.Errorf("header %s frames the message or selects the route; it is never copied", name)
	}
	return nil
}

// checkPath accepts an origin-form request target: "/", then visible
// ASCII without a fragment.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New(`want an absolute path starting with "/"`)
	}
	if strings.HasPrefix(p, "//") {
		return errors.New(`"//" would be read as an authority`)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return fmt.Errorf("byte %q at %d is not allowed in a request path", c, i)
		}
	}
	return nil
}

// Command extauth is a Wedge filter that asks an external authorization
// service whether each request may go on: it holds the request, sends a
// check (a GET carrying chosen request headers) to one of the tenant's
// upstream pools, and lets the request go on with headers from a 2xx
// answer, or answers the client with the service's refusal. See README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o extauth.wasm .
package main

import (
	"errors"
	"slices"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
)

// The factory is registered from init: a -buildmode=c-shared module runs
// its package initialisers but never main.
func init() { sdk.Register(newPlugin) }

func main() {}

// plugin is a configured extauth filter. It keeps no per-stream state (the
// check's callback holds the stream), so it is also the filter of every
// stream.
type plugin struct {
	sdk.DefaultFilter
	upstream string
	path     string
	timeout  time.Duration
	forward  []string // lower case
	allowed  []string // lower case
	failOpen bool
}

// unavailableBody is what a denied request gets when the check got no
// answer: it names neither the service nor the cause, which are logged.
var unavailableBody = []byte("authorization service unavailable\n")

func newPlugin(cfg sdk.PluginConfig) (sdk.Plugin, error) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	return c.compile()
}

// NewFilter returns the plugin itself: the filter is stateless.
func (p *plugin) NewFilter() sdk.Filter { return p }

// OnRequestHeaders sends the check and holds the request until it is
// answered.
func (p *plugin) OnRequestHeaders(s *sdk.Stream, _ bool) sdk.Action {
	h := s.RequestHeaders()
	req, err := h.All()
	// Only the service may set these: the client's copies go whatever
	// happens next, failures with failure "allow" included.
	for _, name := range p.allowed {
		if err := h.Remove(name); err != nil {
			sdk.Warnf("extauth: remove %s: %v", name, err)
		}
	}
	if err != nil {
		sdk.Errorf("extauth: read the request headers: %v", err)
		return p.unavailable(s, false)
	}
	err = sdk.HTTPCall(p.upstream, p.checkHeaders(req), nil, p.timeout, func(resp *sdk.CallResponse, err error) {
		p.answer(s, resp, err)
	})
	if err != nil {
		// The host refused to send it: the upstream is not in the
		// filter's http_upstreams, or the per-request call limit is hit.
		sdk.Errorf("extauth: check to upstream %q not sent: %v", p.upstream, err)
		return p.unavailable(s, false)
	}
	return sdk.Pause
}

// checkHeaders builds the check's headers from the request's.
func (p *plugin) checkHeaders(req []sdk.Header) []sdk.Header {
	var method, scheme, authority, path string
	for _, f := range req {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":scheme":
			scheme = f.Value
		case ":authority":
			authority = f.Value
		case ":path":
			path = f.Value
		}
	}
	callAuthority := authority
	if callAuthority == "" {
		callAuthority = p.upstream
	}
	out := make([]sdk.Header, 0, 8+len(p.forward))
	out = append(out,
		sdk.Header{Name: ":method", Value: "GET"},
		sdk.Header{Name: ":path", Value: p.path},
		sdk.Header{Name: ":authority", Value: callAuthority},
		sdk.Header{Name: hdrMethod, Value: method},
		sdk.Header{Name: hdrProto, Value: scheme},
		sdk.Header{Name: hdrHost, Value: authority},
		sdk.Header{Name: hdrURI, Value: path},
	)
	for _, f := range req {
		if slices.Contains(p.forward, f.Name) {
			out = append(out, f)
		}
	}
	return out
}

// answer lets the request go on or refuses it, as the check's response
// says.
func (p *plugin) answer(s *sdk.Stream, resp *sdk.CallResponse, err error) {
	if err != nil {
		sdk.Warnf("extauth: check to upstream %q failed: %v", p.upstream, err)
		p.unavailable(s, true)
		return
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		h := s.RequestHeaders()
		for _, f := range resp.Headers {
			if slices.Contains(p.allowed, f.Name) {
				if err := h.Add(f.Name, f.Value); err != nil {
					sdk.Warnf("extauth: add %s: %v", f.Name, err)
				}
			}
		}
		resume(s)
		return
	}
	status := resp.StatusCode
	switch {
	case status == 401 || status == 403:
	case status >= 500:
		sdk.Warnf("extauth: check to upstream %q answered %d; refusing with 403", p.upstream, status)
		status = 403
	default:
		sdk.Debugf("extauth: check answered %d; refusing with 403", status)
		status = 403
	}
	headers := []sdk.Header{{Name: "cache-control", Value: "no-store"}}
	for _, f := range resp.Headers {
		if f.Name == "content-type" || f.Name == "www-authenticate" {
			headers = append(headers, f)
		}
	}
	respond(s, status, resp.Body, headers...)
}

// unavailable applies the failure setting to a request whose check got no
// answer: it goes on, or gets 503. paused says the request is held (the
// check was sent); otherwise the returned action lets it go or holds it
// for the local response.
func (p *plugin) unavailable(s *sdk.Stream, paused bool) sdk.Action {
	if p.failOpen {
		if paused {
			resume(s)
		}
		return sdk.Continue
	}
	respond(s, 503, unavailableBody,
		sdk.Header{Name: "content-type", Value: "text/plain; charset=utf-8"},
		sdk.Header{Name: "cache-control", Value: "no-store"})
	return sdk.Pause
}

func resume(s *sdk.Stream) {
	if err := s.ContinueRequest(); err != nil && !errors.Is(err, sdk.ErrStreamDone) {
		sdk.Errorf("extauth: continue request: %v", err)
	}
}

func respond(s *sdk.Stream, status int, body []byte, headers ...sdk.Header) {
	if err := s.SendLocalResponse(status, body, headers...); err != nil && !errors.Is(err, sdk.ErrStreamDone) {
		sdk.Errorf("extauth: send %d: %v", status, err)
	}
}

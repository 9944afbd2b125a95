package runtime

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// HTTPCaller sends the HTTP calls filters make with proxy_http_call. The
// edge implements it over the route's allow-listed upstream pools.
type HTTPCaller interface {
	// Allowed reports whether the filter may call upstream.
	Allowed(upstream string) bool
	// Call sends req and returns the response. Response headers carry
	// ":status". ctx carries the call's timeout.
	Call(ctx context.Context, upstream string, req *HTTPRequest) (*HTTPResponse, error)
}

// StreamCaller is implemented by a StreamHost whose stream's HTTP calls
// go elsewhere than the plugin's HTTPCaller: the edge sends a request's
// calls over the pools of the snapshot the request holds. HTTPCaller is
// asked during the guest call that makes the call, and returns the caller
// to use from then on (it may outlive the stream), or base.
type StreamCaller interface {
	HTTPCaller(base HTTPCaller) HTTPCaller
}

// HTTPRequest is a call a filter makes. Headers include ":method",
// ":path" and ":authority".
type HTTPRequest struct {
	Headers  Pairs
	Body     []byte
	Trailers Pairs
}

// HTTPResponse is what the upstream answered.
type HTTPResponse struct {
	Headers  Pairs
	Body     []byte
	Trailers Pairs
}

// httpCallResult is a response as the guest reads it during
// proxy_on_http_call_response.
type httpCallResult struct {
	HTTPResponse
	errMsg string
}

// Default and largest timeouts of a filter's HTTP call.
const (
	httpCallDefaultTimeout = 5 * time.Second
	httpCallMaxTimeout     = 60 * time.Second
)

var callTokens atomic.Uint32

func hHTTPCall(in *instance, mem api.Memory, st []uint64) status {
	up, ok1 := guestString(mem, a32(st, 0), a32(st, 1))
	hdrs, ok2 := guestBytes(mem, a32(st, 2), a32(st, 3))
	body, ok3 := guestBytes(mem, a32(st, 4), a32(st, 5))
	trl, ok4 := guestBytes(mem, a32(st, 6), a32(st, 7))
	if !ok1 || !ok2 || !ok3 || !ok4 || !writableU32(mem, a32(st, 9)) {
		return statusInvalidMemoryAccess
	}
	p := in.p
	caller := p.cfg.HTTP
	s := in.cur
	if s != nil && caller != nil {
		// The stream's request may hold an older snapshot than the
		// newest: its calls go to that snapshot's pools.
		if sc, ok := s.host.(StreamCaller); ok {
			caller = sc.HTTPCaller(caller)
		}
	}
	if caller == nil || !caller.Allowed(up) {
		p.log.Warn("runtime: proxy_http_call to an upstream the route does not allow", "upstream", up)
		return statusBadArgument
	}
	// What the call makes the host hold is bounded before it is copied:
	// the body by BodyBytes, each map by the header limits.
	if len(body) > p.limits.BodyBytes {
		return statusBadArgument
	}
	for _, b := range [...][]byte{hdrs, trl} {
		if n, nb, ok := mapStats(b); !ok || !in.mapFits(n, nb) {
			return statusBadArgument
		}
	}
	req := &HTTPRequest{Body: append([]byte(nil), body...)}
	if parseMap(hdrs, func(k, v string) { req.Headers = append(req.Headers, [2]string{k, v}) }) != nil ||
		parseMap(trl, func(k, v string) { req.Trailers = append(req.Trailers, [2]string{k, v}) }) != nil {
		return statusBadArgument
	}
	for _, k := range [...]string{":method", ":path", ":authority"} {
		if v, ok := req.Headers.Get(k); !ok || v == "" {
			return statusBadArgument
		}
	}
	if s != nil && s.calls >= p.limits.HTTPCalls {
		p.log.Warn("runtime: proxy_http_call over the per-request limit", "limit", p.limits.HTTPCalls)
		return statusInternalFailure
	}
	if !p.reserveCall() {
		return statusInternalFailure
	}
	if s != nil {
		s.calls++
		s.pending.Add(1)
	}
	token := callTokens.Add(1)
	if token == 0 {
		token = callTokens.Add(1)
	}
	putU32(mem, a32(st, 9), token)
	timeout := time.Duration(a32(st, 8)) * time.Millisecond
	if timeout <= 0 {
		timeout = httpCallDefaultTimeout
	}
	timeout = min(timeout, httpCallMaxTimeout)
	go in.runHTTPCall(s, token, caller, up, req, timeout)
	return statusOK
}

// runHTTPCall sends the call and delivers its response to the guest.
func (in *instance) runHTTPCall(s *Stream, token uint32, caller HTTPCaller, up string, req *HTTPRequest, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	resp, err := caller.Call(ctx, up, req)
	cancel()
	res := &httpCallResult{}
	if err != nil {
		res.errMsg = err.Error()
	} else if resp != nil {
		res.HTTPResponse = *resp
	}
	in.deliver(s, token, res)
	in.p.releaseCall()
}

// reserveCall counts one more pending proxy_http_call of the plugin, or
// reports false when PendingHTTPCalls are pending already. The first
// refusal after the count was last below the limit is logged.
func (p *Plugin) reserveCall() bool {
	if p.calls.Add(1) <= int64(p.limits.PendingHTTPCalls) {
		return true
	}
	p.calls.Add(-1)
	if !p.callsOut.Swap(true) {
		p.log.Warn("runtime: proxy_http_call refused: the plugin has as many calls pending as it may",
			"limit", p.limits.PendingHTTPCalls)
	}
	return false
}

// releaseCall ends a pending proxy_http_call, once its response was
// delivered (or dropped).
func (p *Plugin) releaseCall() {
	p.calls.Add(-1)
	p.callsOut.Store(false)
}

// deliver calls proxy_on_http_call_response. A stream that already ended
// does not get it.
func (in *instance) deliver(s *Stream, token uint32, res *httpCallResult) {
	in.mu.Lock()
	fn := in.fns.httpCallResponse
	alive := !in.dead.Load() && !in.closed && (s == nil || in.streams[s.id] == s)
	if alive && fn != nil {
		prev := in.cur
		in.setEffective(s)
		in.callResp = res
		nh, nt := len(res.Headers), len(res.Trailers)
		in.stack[0], in.stack[1], in.stack[2], in.stack[3], in.stack[4] =
			uint64(in.rootID), uint64(token), uint64(nh), uint64(len(res.Body)), uint64(nt)
		_, _ = in.call("proxy_on_http_call_response", fn, 5)
		in.callResp = nil
		in.setEffective(prev)
	}
	in.mu.Unlock()
	if s != nil {
		// Wake first: once pending is zero, Close may recycle s, so
		// the decrement is the last touch.
		s.wake()
		s.pending.Add(-1)
	}
}

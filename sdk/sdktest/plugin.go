package sdktest

import (
	"time"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// Plugin is a configured plugin context.
type Plugin struct {
	h          *Host
	id         uint32
	tickPeriod time.Duration
	deleted    bool
}

// ID returns the plugin context's id.
func (p *Plugin) ID() uint32 { return p.id }

// TickPeriod returns the period the plugin set with sdk.SetTickPeriod.
func (p *Plugin) TickPeriod() time.Duration { return p.tickPeriod }

// Tick calls the plugin's timer callback once (the host calls it every
// tick period).
func (p *Plugin) Tick() {
	p.h.current = p.id
	abi.Callbacks.OnTick(p.id)
}

// Close ends the plugin context (proxy_on_done, proxy_on_delete).
func (p *Plugin) Close() {
	if p.deleted {
		return
	}
	p.h.current = p.id
	abi.Callbacks.OnDone(p.id)
	p.h.current = p.id
	abi.Callbacks.OnDelete(p.id)
	p.deleted = true
	delete(p.h.plugins, p.id)
}

// NewStream creates an HTTP stream context under the plugin; the plugin's
// NewFilter runs now.
func (p *Plugin) NewStream() *Stream {
	h := p.h
	h.nextID++
	s := &Stream{h: h, plugin: p, id: h.nextID, props: map[string][]byte{}}
	h.streams[s.id] = s
	h.current = s.id
	abi.Callbacks.OnContextCreate(s.id, p.id)
	return s
}

// Stream is an HTTP stream driven by the test: each Send method makes the
// host callback for that step and returns the filter's Action; the other
// methods return the stream's state as the filter left it.
type Stream struct {
	h      *Host
	plugin *Plugin
	id     uint32
	props  map[string][]byte

	reqHeaders, reqTrailers   []sdk.Header
	respHeaders, respTrailers []sdk.Header
	// Bodies: what went on (sent) and what the filter holds (buf).
	reqSent, reqBuf   []byte
	respSent, respBuf []byte

	local                 *LocalResponse
	localCount            int
	reqContinued          int
	respContinued         int
	reqClosed, respClosed bool
	finished              bool
}

// LocalResponse is an answer the filter sent with SendLocalResponse.
type LocalResponse struct {
	StatusCode int
	Details    string
	Body       []byte
	Headers    []sdk.Header
	GRPCStatus int32
}

// ID returns the stream's context id.
func (s *Stream) ID() uint32 { return s.id }

// SetProperty sets a property of this stream, e.g.
// SetProperty([]byte("/x"), "request", "path").
func (s *Stream) SetProperty(value []byte, path ...string) {
	s.props[joinPath(path)] = clone(value)
}

func (s *Stream) enter() { s.h.current = s.id }

// SendRequestHeaders delivers the request headers (proxy_on_request_headers).
func (s *Stream) SendRequestHeaders(headers []sdk.Header, endOfStream bool) sdk.Action {
	s.reqHeaders = cloneHeaders(headers)
	s.enter()
	return sdk.Action(abi.Callbacks.OnRequestHeaders(s.id, uint32(len(s.reqHeaders)), endOfStream))
}

// SendRequestBody delivers a request body chunk (proxy_on_request_body).
// While the filter returns Pause the chunks accumulate in its buffer;
// Continue sends the buffer on.
func (s *Stream) SendRequestBody(chunk []byte, endOfStream bool) sdk.Action {
	return s.sendBody(&s.reqBuf, &s.reqSent, chunk, endOfStream, abi.Callbacks.OnRequestBody)
}

// sendBody adds chunk to buf, calls the body callback with the buffer's
// size, and on Continue moves the buffer to sent.
func (s *Stream) sendBody(buf, sent *[]byte, chunk []byte, endOfStream bool, cb func(id, size uint32, eos bool) abi.Action) sdk.Action {
	*buf = append(*buf, chunk...)
	s.enter()
	a := sdk.Action(cb(s.id, uint32(len(*buf)), endOfStream))
	if a == sdk.Continue {
		*sent, *buf = append(*sent, *buf...), nil
	}
	return a
}

// SendRequestTrailers delivers the request trailers.
func (s *Stream) SendRequestTrailers(trailers []sdk.Header) sdk.Action {
	s.reqTrailers = cloneHeaders(trailers)
	s.enter()
	return sdk.Action(abi.Callbacks.OnRequestTrailers(s.id, uint32(len(s.reqTrailers))))
}

// SendResponseHeaders delivers the response headers.
func (s *Stream) SendResponseHeaders(headers []sdk.Header, endOfStream bool) sdk.Action {
	s.respHeaders = cloneHeaders(headers)
	s.enter()
	return sdk.Action(abi.Callbacks.OnResponseHeaders(s.id, uint32(len(s.respHeaders)), endOfStream))
}

// SendResponseBody delivers a response body chunk, like SendRequestBody.
func (s *Stream) SendResponseBody(chunk []byte, endOfStream bool) sdk.Action {
	return s.sendBody(&s.respBuf, &s.respSent, chunk, endOfStream, abi.Callbacks.OnResponseBody)
}

// SendResponseTrailers delivers the response trailers.
func (s *Stream) SendResponseTrailers(trailers []sdk.Header) sdk.Action {
	s.respTrailers = cloneHeaders(trailers)
	s.enter()
	return sdk.Action(abi.Callbacks.OnResponseTrailers(s.id, uint32(len(s.respTrailers))))
}

// Finish ends the stream (proxy_on_done, proxy_on_log, proxy_on_delete);
// the filter's OnDone runs. Its pending HTTP calls are cancelled.
func (s *Stream) Finish() {
	if s.finished {
		return
	}
	s.enter()
	if abi.Callbacks.OnDone(s.id) {
		s.enter()
		abi.Callbacks.OnLog(s.id)
	}
	s.enter()
	abi.Callbacks.OnDelete(s.id)
	s.finished = true
	delete(s.h.streams, s.id)
	for _, c := range s.h.calls {
		if c.caller == s.id {
			c.answered = true
		}
	}
}

// RequestHeaders returns the request headers as the filter left them.
func (s *Stream) RequestHeaders() []sdk.Header { return cloneHeaders(s.reqHeaders) }

// RequestTrailers returns the request trailers as the filter left them.
func (s *Stream) RequestTrailers() []sdk.Header { return cloneHeaders(s.reqTrailers) }

// ResponseHeaders returns the response headers as the filter left them.
func (s *Stream) ResponseHeaders() []sdk.Header { return cloneHeaders(s.respHeaders) }

// ResponseTrailers returns the response trailers as the filter left them.
func (s *Stream) ResponseTrailers() []sdk.Header { return cloneHeaders(s.respTrailers) }

// RequestBody returns the request body: what was sent on, then what the
// filter still holds.
func (s *Stream) RequestBody() []byte { return append(clone(s.reqSent), s.reqBuf...) }

// ResponseBody returns the response body, like RequestBody.
func (s *Stream) ResponseBody() []byte { return append(clone(s.respSent), s.respBuf...) }

// LocalResponse returns the last answer the filter sent with
// SendLocalResponse, or nil.
func (s *Stream) LocalResponse() *LocalResponse { return s.local }

// LocalResponses returns how many times the filter called
// SendLocalResponse.
func (s *Stream) LocalResponses() int { return s.localCount }

// RequestContinued returns how many times the filter resumed the request
// with ContinueRequest.
func (s *Stream) RequestContinued() int { return s.reqContinued }

// ResponseContinued returns how many times the filter resumed the response
// with ContinueResponse.
func (s *Stream) ResponseContinued() int { return s.respContinued }

// RequestClosed reports whether the filter reset the request.
func (s *Stream) RequestClosed() bool { return s.reqClosed }

// ResponseClosed reports whether the filter reset the response.
func (s *Stream) ResponseClosed() bool { return s.respClosed }

package sdk

import (
	"fmt"
	"math"

	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// Stream is one HTTP request and response pair. The SDK makes it when the
// host creates the stream's context and passes it to every Filter callback;
// its methods act on that stream even when called from an HTTPCall callback.
type Stream struct {
	id      uint32
	root    *rootContext
	filter  Filter
	done    bool // Filter.OnDone was called
	deleted bool // the host deleted the context
}

// ID returns the stream's context id, as the host numbers it.
func (s *Stream) ID() uint32 { return s.id }

// enter makes s the host's effective context. It reports false for a
// stream the host already deleted.
func (s *Stream) enter() bool {
	if s.deleted {
		return false
	}
	if current != s.id {
		if host().SetEffectiveContext(s.id) != abi.StatusOK {
			return false
		}
		current = s.id
	}
	return true
}

// RequestHeaders returns the request's headers; they can be changed until
// the filter lets them go on (returns Continue from OnRequestHeaders, or
// calls ContinueRequest after a Pause).
func (s *Stream) RequestHeaders() HeaderMap { return HeaderMap{s, abi.MapRequestHeaders} }

// RequestTrailers returns the request's trailers.
func (s *Stream) RequestTrailers() HeaderMap { return HeaderMap{s, abi.MapRequestTrailers} }

// ResponseHeaders returns the response's headers.
func (s *Stream) ResponseHeaders() HeaderMap { return HeaderMap{s, abi.MapResponseHeaders} }

// ResponseTrailers returns the response's trailers.
func (s *Stream) ResponseTrailers() HeaderMap { return HeaderMap{s, abi.MapResponseTrailers} }

// RequestBody returns the request body buffered so far. It is readable in
// OnRequestBody, and for as long as the filter paused the request from it.
func (s *Stream) RequestBody() ([]byte, error) { return s.body(abi.BufferRequestBody) }

// SetRequestBody replaces the buffered request body with b.
func (s *Stream) SetRequestBody(b []byte) error { return s.setBody(abi.BufferRequestBody, b) }

// ResponseBody returns the response body buffered so far, like
// RequestBody.
func (s *Stream) ResponseBody() ([]byte, error) { return s.body(abi.BufferResponseBody) }

// SetResponseBody replaces the buffered response body with b.
func (s *Stream) SetResponseBody(b []byte) error { return s.setBody(abi.BufferResponseBody, b) }

func (s *Stream) body(b abi.BufferType) ([]byte, error) {
	if !s.enter() {
		return nil, ErrStreamDone
	}
	h := host()
	size, st := h.GetBufferStatus(b)
	if st != abi.StatusOK {
		return nil, check("get body size", st)
	}
	if size == 0 {
		return nil, nil
	}
	data, st := h.GetBufferBytes(b, 0, size)
	return data, check("get body", st)
}

func (s *Stream) setBody(b abi.BufferType, data []byte) error {
	if !s.enter() {
		return ErrStreamDone
	}
	// start 0 and the largest size replace the whole buffer.
	return check("set body", host().SetBufferBytes(b, 0, math.MaxInt32, data))
}

// ContinueRequest resumes a request the filter paused.
func (s *Stream) ContinueRequest() error {
	return s.stream("continue request", abi.StreamRequest, false)
}

// ContinueResponse resumes a response the filter paused.
func (s *Stream) ContinueResponse() error {
	return s.stream("continue response", abi.StreamResponse, false)
}

// CloseRequest resets the request: the host drops it without an answer.
func (s *Stream) CloseRequest() error { return s.stream("close request", abi.StreamRequest, true) }

// CloseResponse resets the response.
func (s *Stream) CloseResponse() error { return s.stream("close response", abi.StreamResponse, true) }

func (s *Stream) stream(op string, t abi.StreamType, closing bool) error {
	if !s.enter() {
		return ErrStreamDone
	}
	if closing {
		return check(op, host().CloseStream(t))
	}
	return check(op, host().ContinueStream(t))
}

// SendLocalResponse answers the request from the filter with status, body
// and headers instead of the upstream's response. Return Pause from the
// callback that calls it. It works until the response headers have gone to
// the client.
func (s *Stream) SendLocalResponse(status int, body []byte, headers ...Header) error {
	if !s.enter() {
		return ErrStreamDone
	}
	if status < 100 || status > 999 {
		return fmt.Errorf("sdk: send local response: status %d out of range: %w", status, ErrBadArgument)
	}
	scratch = appendHeaders(scratch[:0], headers)
	// grpc_status -1: not a gRPC answer.
	return check("send local response", host().SendLocalResponse(uint32(status), "", body, scratch, -1))
}

// scratch holds serialized maps on their way to the host, which copies
// them during the call; reused to keep calls from allocating.
var scratch []byte

package sdk

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// ErrHTTPCallFailed is passed to an HTTPCall callback when the call got no
// response: unreachable upstream, reset, or timeout.
var ErrHTTPCallFailed = errors.New("sdk: http call failed")

// CallResponse is the answer to an HTTPCall.
type CallResponse struct {
	// StatusCode is the response's :status, 0 if it had none.
	StatusCode int
	// Headers are the response headers, pseudo-headers included.
	Headers []Header
	// Body is the response body.
	Body []byte
	// Trailers are the response trailers.
	Trailers []Header
}

// pendingCall is an HTTPCall waiting for its answer.
type pendingCall struct {
	caller   uint32 // the context that made the call
	callback func(*CallResponse, error)
}

// HTTPCall sends a request to the host-defined upstream (in Wedge, an
// upstream the route allows). headers must include :method, :path and
// :authority. timeout zero means the host's default. The callback runs
// later, in the context that made the call (so a stream's filter may use
// its *Stream there, e.g. ContinueRequest after returning Pause), with the
// response or an error matching ErrHTTPCallFailed; it is not run if that
// context is gone by then.
func HTTPCall(upstream string, headers []Header, body []byte, timeout time.Duration, callback func(resp *CallResponse, err error)) error {
	ms := timeout.Milliseconds()
	if timeout < 0 || ms > 1<<32-1 {
		return fmt.Errorf("sdk: http call: timeout %v out of range: %w", timeout, ErrBadArgument)
	}
	if timeout > 0 && ms == 0 {
		ms = 1
	}
	scratch = appendHeaders(scratch[:0], headers)
	id, st := host().HTTPCall(upstream, scratch, body, nil, uint32(ms))
	if st != abi.StatusOK {
		return check("http call to "+strconv.Quote(upstream), st)
	}
	calls[id] = pendingCall{caller: current, callback: callback}
	return nil
}

func readCallResponse(numHeaders, bodySize, numTrailers uint32) (*CallResponse, error) {
	if numHeaders == 0 {
		return nil, ErrHTTPCallFailed
	}
	h := host()
	resp := &CallResponse{}
	var err error
	if resp.Headers, err = getPairs(abi.MapHTTPCallResponseHdrs, "http call response headers"); err != nil {
		return nil, err
	}
	for _, f := range resp.Headers {
		if f.Name == ":status" {
			resp.StatusCode, _ = strconv.Atoi(f.Value)
			break
		}
	}
	if bodySize > 0 {
		b, st := h.GetBufferBytes(abi.BufferHTTPCallResponse, 0, bodySize)
		if st != abi.StatusOK {
			return nil, check("http call response body", st)
		}
		resp.Body = b
	}
	if numTrailers > 0 {
		if resp.Trailers, err = getPairs(abi.MapHTTPCallResponseTrls, "http call response trailers"); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

package sdktest

import (
	"strconv"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// HTTPCall is an HTTP call the filter made with sdk.HTTPCall.
type HTTPCall struct {
	h        *Host
	id       uint32
	caller   uint32
	answered bool

	// Upstream is the upstream the call went to.
	Upstream string
	// Headers are the request headers, pseudo-headers included.
	Headers []sdk.Header
	// Body is the request body.
	Body []byte
	// Timeout is the timeout the filter asked for (0: the host default).
	Timeout time.Duration
}

// HTTPCallResponse is an answer to an HTTPCall.
type HTTPCallResponse struct {
	// StatusCode goes into the :status header unless Headers has one.
	StatusCode int
	Headers    []sdk.Header
	Body       []byte
	Trailers   []sdk.Header
}

// Header returns the value of the request header name, and whether the
// call had it.
func (c *HTTPCall) Header(name string) (string, bool) {
	for _, f := range c.Headers {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// Respond answers the call: the filter's callback runs now, in the
// context that made the call. A call whose stream has finished is
// delivered all the same, to show that the filter tolerates it.
func (c *HTTPCall) Respond(r HTTPCallResponse) {
	headers := cloneHeaders(r.Headers)
	if _, ok := (&HTTPCall{Headers: headers}).Header(":status"); !ok {
		headers = append([]sdk.Header{{Name: ":status", Value: strconv.Itoa(r.StatusCode)}}, headers...)
	}
	c.deliver(&HTTPCallResponse{StatusCode: r.StatusCode, Headers: headers, Body: clone(r.Body), Trailers: cloneHeaders(r.Trailers)})
}

// Fail answers the call with a failure (no response: unreachable upstream,
// reset or timeout).
func (c *HTTPCall) Fail() { c.deliver(&HTTPCallResponse{}) }

func (c *HTTPCall) deliver(r *HTTPCallResponse) {
	h := c.h
	c.answered = true
	// Hosts deliver the answer to the plugin context of the caller; the
	// SDK must switch to the caller itself.
	root := c.caller
	if s, ok := h.streams[c.caller]; ok {
		root = s.plugin.id
	}
	h.callResp = r
	h.current = root
	abi.Callbacks.OnHTTPCallResponse(root, c.id, uint32(len(r.Headers)), uint32(len(r.Body)), uint32(len(r.Trailers)))
	h.callResp = nil
}

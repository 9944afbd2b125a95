package proxy

import (
	"net/http"
	"net/url"
)

// newOutbound returns the request that goes upstream for the served
// request r, cleaned: the client's end-to-end headers and the forwarding
// headers the edge vouches for (outboundHeader), the normalised path, the
// upstream's URL. Request filters read and edit it, never r: the served
// request's method, protocol and framing stay what the client sent, and
// the response is framed for them.
//
// Header values are shared with r; a filter's edit replaces a value
// slice, never writes into one.
func newOutbound(r *http.Request, l *Listener) *http.Request {
	out := r.WithContext(r.Context())
	out.URL = &url.URL{Scheme: "http", Host: "upstream", Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	out.RequestURI = ""
	out.Close = false
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	out.Header = outboundHeader(r, l)
	if r.ContentLength == 0 {
		out.Body = nil // no body: safe to retry on a stale connection
	}
	return out
}

// framingHeaders are the request headers the upstream writer owns: it
// frames the body from the outbound request's ContentLength, whatever a
// client or a filter put in the header map.
var framingHeaders = [...]string{"Content-Length", "Transfer-Encoding"}

// dropFraming removes the framing headers from h.
func dropFraming(h http.Header) {
	for _, k := range framingHeaders {
		delete(h, k)
	}
}

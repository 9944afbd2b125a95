package upstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"golang.org/x/net/http/httpguts"
)

// ErrInvalidRequest reports a request the client refuses to send: its
// method, target, Host or a header field (name or value, trailers
// included) is not valid HTTP/1.1, so the origin, or any proxy on the
// way, could read it differently from what was meant (header injection,
// request smuggling). Nothing of such a request is written. Filters can
// produce one; the proxy answers it with 502. Wrapped errors name what
// was wrong, never a header value.
var ErrInvalidRequest = errors.New("upstream: invalid request")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRequest}, args...)...)
}

// writeRequest writes req as HTTP/1.1 to bw: the head, then the body
// with Content-Length when its length is known, or chunked with req's
// trailers. It writes the header fields in map order without sorting or
// copying them, and it always closes req.Body.
//
// The writer owns the message's framing and routing fields: Host comes
// from req.Host (or req.URL.Host), Content-Length and Transfer-Encoding
// from req.ContentLength and req.Body, Trailer from req.Trailer's keys.
// Those fields in req.Header, in any case spelling (or with '_' for '-'),
// are not sent. A request whose method is not a token, whose target is
// not an origin-form path (or "*" for OPTIONS) without spaces and
// control bytes, whose Host is not a valid host, or whose header or
// trailer names are not tokens or values hold control bytes (CR, LF,
// NUL, ...), is refused with an error wrapping ErrInvalidRequest before
// any byte is written. Header values are sent without leading and
// trailing spaces and tabs, which are not part of a field value (RFC
// 9110 section 5.5). Validation does not allocate (url.URL.EscapedPath
// may, as before, for a path that needs escaping).
//
// writeRequest is checkRequest then writeChecked; the client checks a
// request before it takes a connection, and writes it with writeChecked.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	h, err := checkRequest(req)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return err
	}
	return writeChecked(bw, req, h)
}

// checked is what checkRequest found valid: the path part of the request
// target (without the query), and the Host.
type checked struct{ path, host string }

// writeChecked writes req, which checkRequest found valid as h.
func writeChecked(bw *bufio.Writer, req *http.Request, h checked) error {
	hasBody := req.Body != nil && req.Body != http.NoBody
	if req.Body != nil {
		defer req.Body.Close()
	}
	// A body of unknown length on a method that usually has none (an
	// HTTP/3 GET) is probed for its first byte, as net/http does: an
	// empty one is not sent at all rather than as an empty chunked body.
	// The byte is read into bw's free buffer and kept in first.
	var first byte
	probed := false
	if hasBody && req.ContentLength <= 0 && usuallyNoBody(req.Method) {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		buf := bw.AvailableBuffer()[:1]
		switch _, err := io.ReadFull(req.Body, buf); err {
		case nil:
			first, probed = buf[0], true
		case io.EOF:
			hasBody = false
		default:
			return err
		}
	}
	chunked := hasBody && (req.ContentLength <= 0 || req.Trailer != nil)

	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(h.path)
	if req.URL.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(req.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(h.host)
	bw.WriteString("\r\n")
	for k, vv := range req.Header {
		if owned(k) {
			continue // framing and Host are ours to write
		}
		for _, v := range vv {
			if v == "" && k == "User-Agent" {
				continue // the proxy's way of sending no User-Agent
			}
			writeField(bw, k, v)
		}
	}
	if req.Close {
		bw.WriteString("Connection: close\r\n")
	}
	switch {
	case chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(req.Trailer) > 0 {
			bw.WriteString("Trailer: ")
			first := true
			for k := range req.Trailer {
				if !first {
					bw.WriteString(", ")
				}
				first = false
				bw.WriteString(k)
			}
			bw.WriteString("\r\n")
		}
		bw.WriteString("\r\n")
		if probed {
			bw.WriteString("1\r\n")
			bw.WriteByte(first)
			bw.WriteString("\r\n")
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		return writeChunked(bw, req)
	case hasBody:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), req.ContentLength, 10))
		bw.WriteString("\r\n\r\n")
		return copyN(bw, req.Body, req.ContentLength)
	case req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH":
		bw.WriteString("Content-Length: 0\r\n\r\n")
	default:
		bw.WriteString("\r\n")
	}
	return nil
}

// usuallyNoBody reports the methods whose requests usually have no body
// (net/http's list).
func usuallyNoBody(method string) bool {
	switch method {
	case "GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH":
		return true
	}
	return false
}

// checkRequest validates everything writeChecked writes from req (the
// trailers' values again once the body has been read). Its errors wrap
// ErrInvalidRequest.
func checkRequest(req *http.Request) (checked, error) {
	var path, host string
	if !httpguts.ValidHeaderFieldName(req.Method) { // a method is a token
		return checked{}, invalid("method %.64q is not a token", req.Method)
	}
	if req.URL == nil {
		return checked{}, invalid("no URL")
	}
	if req.URL.Opaque != "" {
		path = req.URL.Opaque
	} else {
		path = req.URL.EscapedPath()
		if path == "" {
			path = "/"
		}
	}
	switch {
	case path == "*" && req.Method == "OPTIONS" && req.URL.RawQuery == "":
		// asterisk-form
	case path[0] != '/':
		return checked{}, invalid("request target %.64q is not an absolute path", path)
	case !validTarget(path, true) || !validTarget(req.URL.RawQuery, false):
		return checked{}, invalid("request target holds a space, a control byte or a bad %%-escape")
	}
	host = req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return checked{}, invalid("Host %.64q is not a valid host", host)
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return checked{}, invalid("header name %.64q is not a token", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return checked{}, invalid("header %.64q: the value holds a control byte", k)
			}
		}
	}
	if err := checkTrailer(req.Trailer); err != nil {
		return checked{}, err
	}
	return checked{path, host}, nil
}

// checkTrailer validates trailer fields: token names, none of the
// writer's own fields, values without control bytes.
func checkTrailer(t http.Header) error {
	for k, vv := range t {
		if !httpguts.ValidHeaderFieldName(k) {
			return invalid("trailer name %.64q is not a token", k)
		}
		if owned(k) {
			return invalid("trailer %.64q: framing and Host cannot be trailers", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return invalid("trailer %.64q: the value holds a control byte", k)
			}
		}
	}
	return nil
}

// owned reports the fields the writer writes itself, in any case
// spelling and with '_' for '-' (which CGI-style gateways read as the
// same name): Host, and the framing fields Content-Length,
// Transfer-Encoding and Trailer. Those in a header map are never sent.
func owned(k string) bool {
	switch len(k) {
	case 4:
		return k == "Host" || sameName(k, "host")
	case 7:
		return k == "Trailer" || sameName(k, "trailer")
	case 14:
		return k == "Content-Length" || sameName(k, "content-length")
	case 17:
		return k == "Transfer-Encoding" || sameName(k, "transfer-encoding")
	}
	return false
}

// sameName reports whether k spells name (lower case, of the same
// length) ignoring ASCII case and with '_' for '-'.
func sameName(k, name string) bool {
	for i := 0; i < len(k); i++ {
		b := k[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		} else if b == '_' {
			b = '-'
		}
		if b != name[i] {
			return false
		}
	}
	return true
}

// validTarget reports whether s, a part of a request target, is visible
// ASCII or obs-text (no space, no control byte); in a path, each '%'
// must start an escape of two hex digits, as parsers unescape the path.
func validTarget(s string, path bool) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b <= ' ' || b == 0x7f:
			return false
		case b == '%' && path:
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// writeField writes one validated header field, its value without
// surrounding whitespace.
func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(trimOWS(v))
	bw.WriteString("\r\n")
}

// trimOWS returns v without leading and trailing spaces and tabs.
func trimOWS(v string) string {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// copyN copies exactly n bytes of body to bw, reading into bw's own
// buffer (no copy buffer, no allocation).
func copyN(bw *bufio.Writer, body io.Reader, n int64) error {
	left := n
	for left > 0 {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		buf := bw.AvailableBuffer()
		buf = buf[:min(int64(cap(buf)), left)]
		m, err := body.Read(buf)
		if _, werr := bw.Write(buf[:m]); werr != nil {
			return werr // a failed write earlier: stop reading the body
		}
		left -= int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if left > 0 {
		return fmt.Errorf("upstream: request body ended after %d of %d bytes", n-left, n)
	}
	return nil
}

// writeChunked writes req.Body in chunks, each flushed so a streamed body
// reaches the upstream as it comes, then req.Trailer. A body of known
// length (sent chunked for its trailers) is read to its EOF, which sets
// the trailers, and must have exactly that length; if not, the last
// chunk is not sent.
func writeChunked(bw *bufio.Writer, req *http.Request) error {
	cw := chunkWriter{bw: bw}
	n, err := io.Copy(&cw, req.Body)
	if err != nil {
		return err
	}
	if req.ContentLength > 0 && n != req.ContentLength {
		return fmt.Errorf("upstream: request body has %d bytes, not its declared %d", n, req.ContentLength)
	}
	// Trailer values are set once the body has been read: check them
	// (again) before the last chunk. A refusal now leaves the message
	// unfinished, and the caller closes the connection.
	if err := checkTrailer(req.Trailer); err != nil {
		return err
	}
	bw.WriteString("0\r\n")
	for k, vv := range req.Trailer {
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	bw.WriteString("\r\n")
	return nil
}

// chunkWriter writes each Write as one chunk and flushes it.
type chunkWriter struct{ bw *bufio.Writer }

func (c *chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // an empty chunk would end the body
	}
	c.bw.Write(strconv.AppendInt(c.bw.AvailableBuffer(), int64(len(p)), 16))
	c.bw.WriteString("\r\n")
	c.bw.Write(p)
	c.bw.WriteString("\r\n")
	return len(p), c.bw.Flush()
}

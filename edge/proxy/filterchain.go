package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wedgeproxy/wedge/runtime"
)

// filtered runs a route's Wasm filters around its action: request filters
// in order before it, response filters in reverse order on what it writes.
type filtered struct {
	filters []*filterRef
	next    action
	tenant  string
	route   string
	pool    string
}

// chain is one request's streams, pooled.
type chain struct {
	host    streamHost
	streams [8]*runtime.Stream
	refs    [8]*filterRef
	n       int
	status  int
	resp    responseMap
	// Set when the request body failed in a filter, or a filter answered
	// from a body callback, while the body streamed upstream: the
	// response the action writes is replaced by it.
	bodyErr   atomic.Pointer[filterBodyError]
	bodyLocal atomic.Pointer[runtime.LocalResponse]
}

var chainPool = sync.Pool{New: func() any { return new(chain) }}

func (f *filtered) serve(w http.ResponseWriter, r *http.Request, l *Listener) {
	c := chainPool.Get().(*chain)
	c.host = streamHost{req: requestMap{r: r, tls: l.TLS}, l: l, tenant: f.tenant, route: f.route, pool: f.pool}
	defer c.release()
	ctx := r.Context()

	// Request phase.
	eos := r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody
	buffer := false
	for _, ref := range f.filters {
		if c.n == len(c.streams) {
			break // config validation keeps routes far below this
		}
		st, err := ref.plugin.NewStream(ctx, &c.host)
		if err != nil {
			if ref.failOpen {
				continue
			}
			filterFailed(w, r, l, ref, err, false)
			return
		}
		c.streams[c.n], c.refs[c.n] = st, ref
		c.n++
		res, err := st.RequestHeaders(ctx, eos)
		switch {
		case err != nil:
			if !c.failed(w, c.n-1, err, false) {
				return
			}
		case res == runtime.Respond:
			writeLocal(w, r, st.LocalResponse())
			return
		case res == runtime.Paused:
			buffer = true
		}
	}
	if !eos && c.n > 0 {
		fb := &filterBody{c: c, r: r, src: r.Body, ctx: ctx}
		if buffer {
			// A filter wants the whole body before the request goes on:
			// read it through the filters now, then send it with its
			// final length.
			body, err := io.ReadAll(fb)
			if err != nil {
				c.bodyFailed(w, r, err)
				return
			}
			if fb.local != nil {
				writeLocal(w, r, fb.local)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.Header.Del("Transfer-Encoding")
		} else {
			fb.fixed = r.ContentLength
			r.Body = fb
		}
	}

	// Response phase.
	c.status = http.StatusOK
	c.resp = responseMap{h: w.Header(), status: &c.status}
	c.host.resp = &c.resp
	fw := &filterWriter{w: w, c: c, r: r, remaining: -1}
	f.next.serve(fw, r, l)
	fw.finish()
}

// release closes the request's streams and returns the chain to the pool.
func (c *chain) release() {
	for i := 0; i < c.n; i++ {
		if c.streams[i] != nil {
			c.streams[i].Close()
		}
		c.streams[i], c.refs[i] = nil, nil
	}
	c.n = 0
	c.bodyErr.Store(nil)
	c.bodyLocal.Store(nil)
	c.host = streamHost{}
	c.resp = responseMap{}
	chainPool.Put(c)
}

// failed applies filter i's failure mode: open drops the filter from the
// rest of the request and returns true; closed answers 503 (unless the
// response has started) and returns false.
func (c *chain) failed(w http.ResponseWriter, i int, err error, started bool) bool {
	ref := c.refs[i]
	if ref.failOpen && runtime.KindOf(err) != runtime.BodyLimit {
		c.streams[i].Close()
		c.streams[i] = nil
		return true
	}
	filterFailed(w, c.host.req.r, c.host.l, ref, err, started)
	return false
}

// bodyFailed answers a request whose body failed in the filters.
func (c *chain) bodyFailed(w http.ResponseWriter, r *http.Request, err error) {
	var fe *filterBodyError
	if errors.As(err, &fe) {
		filterFailed(w, r, c.host.l, fe.ref, fe.err, false)
		return
	}
	c.host.l.fail(w, r, http.StatusBadRequest, "reading the request body failed", "error", err.Error())
}

// filterFailed answers for a failed filter. Body over the limit: 413 for
// a request, 502 for a response; any other failure: 503 naming the filter
// and the kind of failure. The runtime's error goes to the node's log.
func filterFailed(w http.ResponseWriter, r *http.Request, l *Listener, ref *filterRef, err error, response bool) {
	kind := runtime.KindOf(err)
	detail := []any{"filter", ref.name, "error", err.Error()}
	switch {
	case kind == runtime.BodyLimit && !response:
		l.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("filter %q: the request body is larger than the filter's body buffer limit", ref.name), detail...)
	case kind == runtime.BodyLimit:
		l.fail(w, r, http.StatusBadGateway, fmt.Sprintf("filter %q: the response body is larger than the filter's body buffer limit", ref.name), detail...)
	case kind == runtime.Reset:
		panic(http.ErrAbortHandler)
	case kind == 0:
		l.fail(w, r, http.StatusServiceUnavailable, fmt.Sprintf("filter %q failed", ref.name), detail...)
	default:
		l.fail(w, r, http.StatusServiceUnavailable, fmt.Sprintf("filter %q failed (%s)", ref.name, kind), detail...)
	}
}

// writeLocal sends a filter's local response.
func writeLocal(w http.ResponseWriter, r *http.Request, lr *runtime.LocalResponse) {
	h := w.Header()
	for _, kv := range lr.Headers {
		if len(kv[0]) > 0 && kv[0][0] != ':' {
			h.Add(kv[0], kv[1])
		}
	}
	if h.Get("Content-Type") == "" && len(lr.Body) > 0 {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(lr.Body)))
	w.WriteHeader(lr.Status)
	if r.Method != http.MethodHead {
		w.Write(lr.Body)
	}
}

// filterBodyError is a request body failure inside filter ref.
type filterBodyError struct {
	ref *filterRef
	err error
}

func (e *filterBodyError) Error() string { return fmt.Sprintf("filter %q: %v", e.ref.name, e.err) }
func (e *filterBodyError) Unwrap() error { return e.err }

var errLocalAnswer = errors.New("proxy: a filter answered from a request body callback")

var errBodyLength = errors.New("proxy: a filter changed the length of a streamed request body; it must pause in on_request_headers to have the body buffered")

// filterBody is the request body passed through the request filters.
type filterBody struct {
	c     *chain
	r     *http.Request
	src   io.ReadCloser
	ctx   context.Context
	buf   []byte
	out   []byte
	eof   bool
	fixed int64 // the Content-Length sent upstream; -1 or 0: none
	sent  int64
	local *runtime.LocalResponse
}

func (b *filterBody) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.eof {
			return 0, io.EOF
		}
		if b.buf == nil {
			b.buf = make([]byte, 32<<10)
		}
		n, err := b.src.Read(b.buf)
		if err != nil && err != io.EOF {
			return 0, err
		}
		b.eof = err == io.EOF
		out, ferr := b.push(b.buf[:n], b.eof)
		if ferr == nil && b.eof && b.local == nil {
			ferr = b.trailers()
		}
		if ferr != nil {
			var fe *filterBodyError
			if errors.As(ferr, &fe) && b.fixed != 0 {
				b.c.bodyErr.Store(fe)
			}
			return 0, ferr
		}
		if b.local != nil && b.fixed != 0 {
			b.c.bodyLocal.Store(b.local)
			return 0, errLocalAnswer
		}
		b.out = out
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	b.sent += int64(n)
	if b.fixed > 0 && (b.sent > b.fixed || b.eof && len(b.out) == 0 && b.sent != b.fixed) {
		return n, errBodyLength
	}
	if b.eof && len(b.out) == 0 {
		// EOF with the last bytes, as net/http's bodies do: a reader that
		// stops at the declared length still sees the body end.
		return n, io.EOF
	}
	return n, nil
}

// push sends one chunk through the request filters in order.
func (b *filterBody) push(data []byte, eos bool) ([]byte, error) {
	c := b.c
	for i := 0; i < c.n; i++ {
		st := c.streams[i]
		if st == nil {
			continue
		}
		out, res, err := st.RequestBody(b.ctx, data, eos)
		switch {
		case err != nil:
			if c.refs[i].failOpen && runtime.KindOf(err) != runtime.BodyLimit {
				st.Close()
				c.streams[i] = nil
				continue
			}
			return nil, &filterBodyError{ref: c.refs[i], err: err}
		case res == runtime.Respond:
			b.local = st.LocalResponse()
			return nil, nil
		case res == runtime.Paused:
			return nil, nil
		}
		data = out
	}
	return data, nil
}

// trailers runs the request filters' trailer callbacks, once the body
// ended, when the request has trailers.
func (b *filterBody) trailers() error {
	c := b.c
	if len(b.r.Trailer) == 0 {
		return nil
	}
	c.host.reqTr = &trailerMap{h: b.r.Trailer}
	for i := 0; i < c.n; i++ {
		st := c.streams[i]
		if st == nil {
			continue
		}
		res, err := st.RequestTrailers(b.ctx)
		switch {
		case err != nil:
			if c.refs[i].failOpen {
				st.Close()
				c.streams[i] = nil
				continue
			}
			return &filterBodyError{ref: c.refs[i], err: err}
		case res == runtime.Respond:
			b.local = st.LocalResponse()
			return nil
		}
	}
	return nil
}

func (b *filterBody) Close() error { return b.src.Close() }

// filterWriter runs the response filters on what the route's action
// writes.
type filterWriter struct {
	w         http.ResponseWriter
	c         *chain
	r         *http.Request
	wrote     bool // WriteHeader ran the filters
	committed bool // headers went to the client
	buffering bool // a filter paused on the headers: hold the body
	dead      bool // a filter answered or failed: drop the rest
	remaining int64
	body      []byte
}

func (fw *filterWriter) Header() http.Header { return fw.w.Header() }

// Unwrap lets http.ResponseController reach the connection.
func (fw *filterWriter) Unwrap() http.ResponseWriter { return fw.w }

func (fw *filterWriter) Flush() {
	if fw.committed && !fw.dead {
		if f, ok := fw.w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

func (fw *filterWriter) WriteHeader(code int) {
	if fw.wrote {
		return
	}
	if code < 200 {
		fw.w.WriteHeader(code) // 1xx pass through unfiltered
		return
	}
	fw.wrote = true
	c := fw.c
	if fe := c.bodyErr.Load(); fe != nil {
		fw.dead, fw.committed = true, true
		fw.clearHeader()
		// The rest of the request body is not read: the connection
		// cannot carry another request.
		fw.w.Header().Set("Connection", "close")
		filterFailed(fw.w, fw.r, c.host.l, fe.ref, fe.err, false)
		return
	}
	if lr := c.bodyLocal.Load(); lr != nil {
		fw.dead, fw.committed = true, true
		fw.clearHeader()
		fw.w.Header().Set("Connection", "close")
		writeLocal(fw.w, fw.r, lr)
		return
	}
	c.status = code
	h := fw.w.Header()
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
			fw.remaining = n
		}
	}
	eos := fw.remaining == 0 || fw.r.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	for i := c.n - 1; i >= 0; i-- {
		st := c.streams[i]
		if st == nil {
			continue
		}
		res, err := st.ResponseHeaders(fw.r.Context(), eos)
		switch {
		case err != nil:
			if c.refs[i].failOpen && runtime.KindOf(err) != runtime.BodyLimit {
				st.Close()
				c.streams[i] = nil
				continue
			}
			fw.clearHeader()
			filterFailed(fw.w, fw.r, c.host.l, c.refs[i], err, true)
			fw.dead, fw.committed = true, true
			return
		case res == runtime.Respond:
			fw.replace(st.LocalResponse())
			return
		case res == runtime.Paused:
			fw.buffering = true
		}
	}
	if !fw.buffering {
		fw.commit()
	}
}

// commit sends the (filtered) status and headers.
func (fw *filterWriter) commit() {
	fw.committed = true
	fw.w.WriteHeader(fw.c.status)
}

// replace discards the response so far and sends a filter's instead.
func (fw *filterWriter) replace(lr *runtime.LocalResponse) {
	fw.dead, fw.committed = true, true
	fw.clearHeader()
	writeLocal(fw.w, fw.r, lr)
}

// clearHeader drops the upstream's headers, before the edge answers
// instead.
func (fw *filterWriter) clearHeader() {
	h := fw.w.Header()
	for k := range h {
		delete(h, k)
	}
}

func (fw *filterWriter) Write(p []byte) (int, error) {
	if !fw.wrote {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.dead {
		return len(p), nil
	}
	eos := false
	if fw.remaining >= 0 {
		fw.remaining -= int64(len(p))
		eos = fw.remaining <= 0
	}
	out, err := fw.push(p, eos)
	if err != nil {
		return 0, err
	}
	if eos {
		fw.remaining = -2 // finish must not send another end of stream
	}
	return len(p), fw.emit(out, len(p))
}

// emit writes filtered bytes. Streaming with a declared length, the
// filters must keep the length: the client has been told it.
func (fw *filterWriter) emit(out []byte, in int) error {
	if len(out) == 0 {
		return nil
	}
	if fw.buffering {
		fw.body = append(fw.body, out...)
		return nil
	}
	if len(out) != in && fw.w.Header().Get("Content-Length") != "" {
		panic(http.ErrAbortHandler)
	}
	_, err := fw.w.Write(out)
	return err
}

// push runs one chunk through the response filters, last filter first.
func (fw *filterWriter) push(data []byte, eos bool) ([]byte, error) {
	c := fw.c
	for i := c.n - 1; i >= 0; i-- {
		st := c.streams[i]
		if st == nil {
			continue
		}
		out, res, err := st.ResponseBody(fw.r.Context(), data, eos)
		switch {
		case err != nil:
			if c.refs[i].failOpen && runtime.KindOf(err) != runtime.BodyLimit {
				st.Close()
				c.streams[i] = nil
				continue
			}
			if fw.committed {
				panic(http.ErrAbortHandler)
			}
			fw.clearHeader()
			filterFailed(fw.w, fw.r, c.host.l, c.refs[i], err, true)
			fw.dead, fw.committed = true, true
			return nil, nil
		case res == runtime.Respond:
			if fw.committed {
				panic(http.ErrAbortHandler)
			}
			fw.replace(st.LocalResponse())
			return nil, nil
		case res == runtime.Paused:
			return nil, nil
		}
		data = out
	}
	return data, nil
}

// finish ends the response: the filters see the end of the body if they
// have not, and a buffered response goes out with its final length.
func (fw *filterWriter) finish() {
	if !fw.wrote {
		return // the action wrote nothing (a hijacked connection)
	}
	if fw.dead {
		return
	}
	if fw.remaining != -2 {
		out, err := fw.push(nil, true)
		if err != nil || fw.dead {
			return
		}
		if fw.buffering {
			fw.body = append(fw.body, out...)
		} else if len(out) > 0 {
			if fw.w.Header().Get("Content-Length") != "" {
				panic(http.ErrAbortHandler)
			}
			fw.w.Write(out)
		}
	}
	if fw.buffering && !fw.committed {
		fw.w.Header().Set("Content-Length", strconv.Itoa(len(fw.body)))
		fw.commit()
		if fw.r.Method != http.MethodHead {
			fw.w.Write(fw.body)
		}
	}
	fw.trailers()
}

// trailers runs the response filters' trailer callbacks when the response
// declared trailers. The response is sent by now: a filter that fails or
// answers here can only abort it.
func (fw *filterWriter) trailers() {
	h := fw.w.Header()
	if len(h["Trailer"]) == 0 {
		return
	}
	c := fw.c
	c.host.respTr = &trailerMap{h: h, response: true}
	for i := c.n - 1; i >= 0; i-- {
		st := c.streams[i]
		if st == nil {
			continue
		}
		res, err := st.ResponseTrailers(fw.r.Context())
		if err != nil && c.refs[i].failOpen {
			st.Close()
			c.streams[i] = nil
			continue
		}
		if err != nil || res == runtime.Respond {
			panic(http.ErrAbortHandler)
		}
	}
}

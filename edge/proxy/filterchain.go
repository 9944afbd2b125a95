package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wedgeproxy/wedge/runtime"
)

// chain is one request's streams, pooled.
type chain struct {
	host    streamHost
	streams []*runtime.Stream
	refs    []*filterRef
	status  int
	resp    responseMap
	// hold is the filter that paused on the request headers with the
	// smallest body limit, if any: the whole body is read through the
	// filters before the request goes on, and what the host holds counts
	// against that filter's limit.
	hold *filterRef
	// Set when the request body failed in a filter, or a filter answered
	// from a body callback, while the body streamed upstream: the
	// response the action writes is replaced by it.
	bodyErr   atomic.Pointer[filterBodyError]
	bodyLocal atomic.Pointer[runtime.LocalResponse]
}

var chainPool = sync.Pool{New: func() any {
	c := new(chain)
	c.streams = make([]*runtime.Stream, 0, 8)
	c.refs = make([]*filterRef, 0, 8)
	return c
}}

// spillBytes is how much of a request body whose filters may change it
// (they export proxy_on_request_body) is read through them before the
// request goes upstream: a body that ends within it goes with its exact
// Content-Length; a longer one streams on (chunked on HTTP/1.1), since
// its final length is not known until its end.
const spillBytes = 64 << 10

// serveFiltered runs route e's Wasm filters around its action: request
// filters in order on the outbound request before it, response filters
// in reverse order on what it writes. A request-header filter that
// changes the request has the route chosen again, within the tenant; the
// new route's filters run after the first route's, and its action serves.
func serveFiltered(w http.ResponseWriter, r *http.Request, e *routeEntry, snap *Snapshot, l *Listener) {
	c := chainPool.Get().(*chain)
	out := newOutbound(r, l)
	c.host = streamHost{req: requestMap{r: out, tls: l.TLS}, served: r, l: l, snap: snap, route: e}
	if snap != nil {
		c.host.req.table = snap.table
	}
	defer c.release()

	// Request phase.
	eos := out.Body == nil || r.Body == http.NoBody
	if !c.requestHeaders(w, r, e.filters, eos, false) {
		return
	}
	if c.host.req.dirty && snap != nil {
		// No route matching the edited request: it stays on its route
		// (a path rewrite for the upstream, say).
		if ne := reselect(snap, r, out, e); ne != nil && ne != e {
			e = ne
			c.host.route = e
			if !c.requestHeaders(w, r, e.filters, eos, true) {
				return
			}
		}
	}
	if !eos && c.bodyFilters() {
		if !c.requestBody(w, r, out, e) {
			return
		}
	}

	// Response phase.
	c.status = http.StatusOK
	c.resp = responseMap{h: w.Header(), status: &c.status}
	c.host.resp = &c.resp
	fw := &filterWriter{w: w, c: c, r: r, remaining: -1}
	e.act.serve(fw, r, out, l)
	fw.finish()
}

// requestHeaders runs filters' request-header callbacks. It reports
// whether the request goes on; when not, the response is written. With
// again (a re-selected route's filters), a filter that already ran on the
// request (the same plugin) is not run a second time.
func (c *chain) requestHeaders(w http.ResponseWriter, r *http.Request, filters []*filterRef, eos, again bool) bool {
	ctx := r.Context()
	for _, ref := range filters {
		if again && c.ran(ref.plugin) {
			continue
		}
		st, err := ref.plugin.NewStream(ctx, &c.host)
		if err != nil {
			if ref.failOpen {
				continue
			}
			filterFailed(w, r, c.host.l, ref, err, false)
			return false
		}
		c.streams = append(c.streams, st)
		c.refs = append(c.refs, ref)
		res, err := st.RequestHeaders(ctx, eos)
		switch {
		case err != nil:
			if !c.failed(w, len(c.streams)-1, err, false) {
				return false
			}
		case res == runtime.Respond:
			writeLocal(w, r, st.LocalResponse())
			return false
		case res == runtime.Paused:
			if c.hold == nil || ref.plugin.BodyLimit() < c.hold.plugin.BodyLimit() {
				c.hold = ref
			}
		}
	}
	return true
}

// ran reports whether p has a stream in the chain.
func (c *chain) ran(p *runtime.Plugin) bool {
	for _, ref := range c.refs {
		if ref.plugin == p {
			return true
		}
	}
	return false
}

// bodyFilters reports whether a live stream of the request has a request
// body callback: only then can a filter see or change the body.
func (c *chain) bodyFilters() bool {
	for i, st := range c.streams {
		if st != nil && c.refs[i].reqBody {
			return true
		}
	}
	return false
}

// requestBody sets the outbound request's body to the client's passed
// through the request filters, framed for what they make of it. It
// reports whether the request goes on; when not, the response is
// written.
//
// A filter that paused on the headers has the whole body read through
// the filters first (bounded by its body limit: 413 past it), then sent
// with its final length. Otherwise up to spillBytes are read ahead: a
// body that ends there goes with its exact length, a longer one streams
// with no declared length.
func (c *chain) requestBody(w http.ResponseWriter, r *http.Request, out *http.Request, e *routeEntry) bool {
	fb := &filterBody{c: c, r: r, src: r.Body, ctx: r.Context()}
	limit := spillBytes
	if c.hold != nil {
		limit = c.hold.plugin.BodyLimit()
	}
	_, drain := e.act.(*respond) // the body is the filters' only
	var held []byte
	for {
		room := min(32<<10, limit+1-len(held))
		held = slices.Grow(held, room)
		m, err := fb.Read(held[len(held) : len(held)+room])
		held = held[:len(held)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			if fb.local != nil {
				writeLocal(w, r, fb.local)
			} else {
				c.bodyFailed(w, r, err)
			}
			return false
		}
		if len(held) <= limit {
			continue
		}
		switch {
		case c.hold != nil:
			filterFailed(w, r, c.host.l, c.hold, heldPastLimit(c.hold, "request"), false)
			return false
		case drain:
			held = held[:0]
		default:
			// Past the read-ahead: the rest streams.
			fb.streaming = true
			out.Body = &spillBody{held: held, rest: fb}
			out.ContentLength = -1
			return true
		}
	}
	if drain {
		return true
	}
	out.Body = &heldBody{Reader: bytes.NewReader(held)}
	out.ContentLength = int64(len(held))
	if len(r.Trailer) > 0 {
		out.ContentLength = -1 // chunked, to carry the trailers
	}
	return true
}

// heldBody is a request body read whole through the filters.
type heldBody struct{ *bytes.Reader }

func (*heldBody) Close() error    { return nil }
func (*heldBody) clientEOF() bool { return true }

// heldPastLimit is the failure of ref, which paused on the headers of the
// request or response (what), when the body the host holds for it passes
// its limit.
func heldPastLimit(ref *filterRef, what string) error {
	return &runtime.FilterError{Plugin: ref.name, Kind: runtime.BodyLimit, Callback: "proxy_on_" + what + "_headers",
		Err: fmt.Errorf("the filter paused on the %s headers and the body passed its %d-byte buffer limit", what, ref.plugin.BodyLimit())}
}

// spillBody is a request body read ahead through the filters (held),
// then streamed from them (rest).
type spillBody struct {
	held []byte
	rest *filterBody
}

func (b *spillBody) Read(p []byte) (int, error) {
	if len(b.held) > 0 {
		n := copy(p, b.held)
		b.held = b.held[n:]
		return n, nil
	}
	return b.rest.Read(p)
}

func (b *spillBody) Close() error { return b.rest.Close() }

func (b *spillBody) clientEOF() bool { return b.rest.srcEOF.Load() }

// reselect chooses the route again for the outbound request after its
// request-header filters changed it: by its host when the tenant owns
// that host, by the served host otherwise (a filter rewriting the host
// for the upstream never leaves its tenant). nil: no route matches.
func reselect(snap *Snapshot, r, out *http.Request, e *routeEntry) *routeEntry {
	tenant, rt := snap.table.Lookup(out.Host, out.URL.Path, out.Method, out.Header)
	if tenant != e.tenant {
		_, rt = snap.table.Lookup(r.Host, out.URL.Path, out.Method, out.Header)
	}
	if rt == nil {
		return nil
	}
	return rt.Handler
}

// release closes the request's streams and returns the chain to the pool.
func (c *chain) release() {
	for i, st := range c.streams {
		if st != nil {
			st.Close()
		}
		c.streams[i], c.refs[i] = nil, nil
	}
	c.streams, c.refs = c.streams[:0], c.refs[:0]
	c.hold = nil
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
	case kind == runtime.Unavailable:
		// A filter backed off or out of instances fails every request
		// alike, at the rate a client sends them: logged once a second,
		// with how many were not.
		logged, skipped := ref.quiet.allow()
		if skipped > 0 {
			detail = append(detail, "failures_not_logged", skipped)
		}
		l.failLogged(w, r, http.StatusServiceUnavailable, fmt.Sprintf("filter %q failed (%s)", ref.name, kind), logged, detail...)
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

var errResponseDropped = errors.New("proxy: a filter replaced the response")

var errLocalAnswer = errors.New("proxy: a filter answered from a request body callback")

// filterBody is the request body passed through the request filters.
type filterBody struct {
	c   *chain
	r   *http.Request
	src io.ReadCloser
	ctx context.Context
	buf []byte
	out []byte
	eof bool
	// streaming: the request went upstream before the body ended; a
	// filter's failure or answer from here on replaces the response.
	streaming bool
	local     *runtime.LocalResponse
	srcEOF    atomic.Bool // the client's body was read to its end
}

func (b *filterBody) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.local != nil {
			return 0, errLocalAnswer
		}
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
		if b.eof {
			b.srcEOF.Store(true)
		}
		out, ferr := b.push(b.buf[:n], b.eof)
		if ferr == nil && b.eof && b.local == nil {
			ferr = b.trailers()
		}
		if ferr != nil {
			var fe *filterBodyError
			if errors.As(ferr, &fe) && b.streaming {
				b.c.bodyErr.Store(fe)
			}
			return 0, ferr
		}
		if b.local != nil {
			if b.streaming {
				b.c.bodyLocal.Store(b.local)
			}
			return 0, errLocalAnswer
		}
		b.out = out
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
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
	for i := range c.streams {
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
	for i := range c.streams {
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
	wrote     bool       // WriteHeader ran the filters
	committed bool       // headers went to the client
	buffering bool       // a filter paused on the headers: hold the body
	hold      *filterRef // of those, the one with the smallest body limit
	dead      bool       // a filter answered or failed: drop the rest
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
	for i := len(c.streams) - 1; i >= 0; i-- {
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
			if fw.hold == nil || c.refs[i].plugin.BodyLimit() < fw.hold.plugin.BodyLimit() {
				fw.hold = c.refs[i]
			}
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
		// The client has its answer: the action stops copying (and a
		// cache fill goes on without the client).
		return 0, errResponseDropped
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
		fw.keep(out)
		return nil
	}
	if len(out) != in && fw.w.Header().Get("Content-Length") != "" {
		panic(http.ErrAbortHandler)
	}
	_, err := fw.w.Write(out)
	return err
}

// keep holds out for a filter that paused on the response headers,
// within that filter's body limit. Past it, the response becomes a 502
// naming the filter (nothing has gone to the client) and keep reports
// false.
func (fw *filterWriter) keep(out []byte) bool {
	limit := fw.hold.plugin.BodyLimit()
	if len(fw.body)+len(out) > limit {
		fw.body = nil
		fw.clearHeader()
		filterFailed(fw.w, fw.r, fw.c.host.l, fw.hold, heldPastLimit(fw.hold, "response"), true)
		fw.dead, fw.committed = true, true
		return false
	}
	fw.body = append(fw.body, out...)
	return true
}

// push runs one chunk through the response filters, last filter first.
func (fw *filterWriter) push(data []byte, eos bool) ([]byte, error) {
	c := fw.c
	for i := len(c.streams) - 1; i >= 0; i-- {
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
			if !fw.keep(out) {
				return
			}
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
	for i := len(c.streams) - 1; i >= 0; i-- {
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

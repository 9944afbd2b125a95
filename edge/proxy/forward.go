package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/upstream"
)

// forward sends requests to an upstream pool and streams the answer back.
type forward struct {
	pool     *upstream.Pool
	timeouts upstream.Timeouts
	request  time.Duration // whole exchange until the response headers, or the 101; 0 = none
	conns    *hijacked
	query    queryMode // what of the query goes upstream (follows the cache key)
	share    *share    // the tenant's, for its tunnels
	caps     *caps
}

// queryMode is what a forward does with the query string.
type queryMode byte

const (
	queryKeep queryMode = iota
	queryDrop           // the route's cache key ignores the query
	querySort           // the route's cache key sorts it
)

func (f *forward) serve(w http.ResponseWriter, r *http.Request, out *http.Request, l *Listener) {
	if out == nil {
		out = newOutbound(r, l)
	}
	f.send(w, out, l)
}

// send forwards the outbound request out (cleaned, filtered: see
// newOutbound) and streams the answer to w, which frames it for the
// served request.
func (f *forward) send(w http.ResponseWriter, out *http.Request, l *Listener) {
	ctx := out.Context()
	if f.request > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.request)
		defer cancel()
	}
	switch q := out.URL.RawQuery; {
	case q == "":
	case f.query == queryDrop:
		out.URL.RawQuery = "" // the upstream answers what the cache will key on
	case f.query == querySort:
		out.URL.RawQuery = cache.CanonicalQuery(q) // a scan when the cache already made it canonical
	}
	if out.Header["Upgrade"] != nil && f.share != nil && f.share.tunnels.Load() >= f.caps.maxTunnels {
		// Refused before the upstream is asked; upgrade counts the
		// tunnel itself once it is open.
		tunnelsFull(w, f.caps)
		return
	}
	dropFraming(out.Header)
	if out.Header["User-Agent"] == nil {
		out.Header["User-Agent"] = noUserAgent // send none rather than Go's
	}
	if out.ContentLength == 0 {
		out.Body = nil
	}
	if out.Body != nil {
		tb := &trackedBody{ReadCloser: out.Body, rc: http.NewResponseController(w), idle: l.BodyIdle, want: out.ContentLength}
		tb.src, _ = out.Body.(clientReader)
		out.Body = tb
		defer tb.finish()
	}
	// Interim responses (103 Early Hints) are relayed as they come.
	tm := f.timeouts
	tm.Interim = w
	resp, ep, err := f.pool.Forward(ctx, out, tm)
	if err != nil {
		if tb, ok := out.Body.(*trackedBody); ok && tb.timedOut.Load() {
			writeError(w, http.StatusRequestTimeout, "no byte of the request body arrived for %s", l.BodyIdle)
			return
		}
		f.fail(w, out, l, ctx, ep, err)
		return
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if out.Header["Upgrade"] == nil {
			resp.Body.Close()
			l.fail(w, out, http.StatusBadGateway, "the upstream switched protocols though the client did not ask to",
				"tenant", f.pool.Tenant, "pool", f.pool.Name, "endpoint", ep)
			return
		}
		f.upgrade(w, out, resp, ep, l)
		return
	}
	defer resp.Body.Close()

	h := w.Header()
	copyResponseHeader(h, resp.Header)
	if len(resp.Trailer) > 0 {
		keys := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		h["Trailer"] = []string{strings.Join(keys, ", ")}
	}
	w.WriteHeader(resp.StatusCode)
	stream := resp.ContentLength == -1 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	if err := copyBody(w, resp.Body, stream, l.BodyIdle); err != nil {
		if errors.Is(err, errClientWrite) {
			return
		}
		// The upstream broke off mid-body: abort the client's response so
		// it cannot mistake a truncated body for a whole one.
		panic(http.ErrAbortHandler)
	}
	for k, vv := range resp.Trailer {
		h[k] = vv
	}
}

// trackedBody is a client request body that knows whether it was read to
// the end, and that cuts off a client idle for longer than idle.
type trackedBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	idle     time.Duration
	eof      atomic.Bool
	timedOut atomic.Bool
	want     int64 // the declared length; -1: unknown
	got      int64 // bytes read (by the one goroutine streaming the body)
	// src, when set, tells whether the client's body has ended though
	// this one has not (a body the filters hold or are still passing
	// on): then the connection's deadlines are not this body's to touch,
	// as the server may be reading the connection for the next request.
	src clientReader

	// The upload goroutine may still read after the handler returned (an
	// early response); the response writer must not be touched then.
	mu      sync.Mutex
	done    bool
	aborted bool // AbortRead cut off an unfinished read
}

// deadline sets the connection's read deadline unless the exchange is
// over.
func (b *trackedBody) deadline(t time.Time) {
	b.mu.Lock()
	if !b.done {
		b.rc.SetReadDeadline(t)
	}
	b.mu.Unlock()
}

// clientReader is a request body made from the client's by the edge
// (the request filters' output).
type clientReader interface {
	// clientEOF reports whether the client's body was read to its end.
	// Safe for concurrent use.
	clientEOF() bool
}

// clientDone reports whether the client's body ended before this one.
func (b *trackedBody) clientDone() bool { return b.src != nil && b.src.clientEOF() }

func (b *trackedBody) Read(p []byte) (int, error) {
	if b.idle > 0 && !b.clientDone() {
		b.deadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	b.got += int64(n)
	if err == nil && b.want >= 0 && b.got >= b.want {
		// All the declared bytes are in: a reader that stops at the
		// length never asks again to see io.EOF, and the body is done.
		err = io.EOF
	}
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		b.timedOut.Store(true)
	}
	if err == io.EOF {
		b.eof.Store(true)
		if b.idle > 0 && !b.clientDone() {
			// Clear it: the server's own read of the next request (or
			// its watch for the client going away) must not inherit it.
			b.deadline(time.Time{})
		}
	}
	return n, err
}

// AbortRead ends a read of the client's body that may be blocked in the
// goroutine streaming it upstream: the upstream client calls it when the
// exchange ended early (an answer before the whole body, a failure), then
// waits for that goroutine. After it, the body never touches the response
// writer again.
func (b *trackedBody) AbortRead() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.eof.Load() && !b.done && !b.clientDone() {
		b.rc.SetReadDeadline(aLongTimeAgo)
		b.aborted = true
	}
	b.done = true
}

// finish runs when the handler returns, after the upload has ended. A
// read aborted on purpose must not leave its deadline behind: the server
// discards what is left of the body (or closes the connection when too
// much is), and a discard cut short by an old deadline would let it read
// the rest of the body as the next request.
func (b *trackedBody) finish() {
	b.AbortRead()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.aborted {
		var t time.Time
		if b.idle > 0 {
			t = time.Now().Add(b.idle)
		}
		b.rc.SetReadDeadline(t)
	}
}

// Close does not close the client's body: the server does when the
// handler returns, and decides then whether the connection can carry
// another request. Closing it from the goroutine streaming it upstream
// would race with that decision.
func (b *trackedBody) Close() error { return nil }

var aLongTimeAgo = time.Unix(1, 0)

var noUserAgent = []string{""}

var errClientWrite = errors.New("proxy: client write failed")

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBody streams src to w through a pooled buffer. With flush set, every
// chunk is flushed at once (streaming responses of unknown length). From
// the second chunk on, each write must complete within idle; a body that
// fits one read never pays for the deadline.
func copyBody(w http.ResponseWriter, src io.Reader, flush bool, idle time.Duration) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var fl http.Flusher
	if flush {
		fl, _ = w.(http.Flusher)
	}
	var rc *http.ResponseController
	defer func() {
		if rc != nil {
			rc.SetWriteDeadline(time.Time{})
		}
	}()
	for i := 0; ; i++ {
		n, rerr := src.Read(buf)
		if n > 0 {
			if i > 0 && idle > 0 {
				if rc == nil {
					rc = http.NewResponseController(w)
				}
				rc.SetWriteDeadline(time.Now().Add(idle))
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errClientWrite
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// fail answers a request whose upstream exchange failed before any
// response header arrived: 504 for timeouts, 502 for everything else. The
// client learns the kind of failure; the pool, the endpoint and the error
// go to the node's log under the request ID.
func (f *forward) fail(w http.ResponseWriter, r *http.Request, l *Listener, ctx context.Context, ep string, err error) {
	detail := []any{"tenant", f.pool.Tenant, "pool", f.pool.Name, "endpoint", ep, "error", err.Error()}
	if r.Context().Err() != nil {
		// The client's connection failed; if anyone still listens, say so
		// rather than let the server send an empty 200.
		l.fail(w, r, http.StatusBadRequest, "the client connection failed before the upstream answered", detail...)
		return
	}
	var op *net.OpError
	var ne net.Error
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		l.fail(w, r, http.StatusGatewayTimeout, fmt.Sprintf("the upstream did not answer within the route's request timeout of %s", f.request), detail...)
	case errors.Is(err, upstream.ErrUploadStalled):
		l.fail(w, r, http.StatusGatewayTimeout, "the upstream stopped reading the request body", detail...)
	case errors.As(err, &op) && op.Op == "dial" && op.Timeout():
		l.fail(w, r, http.StatusGatewayTimeout, "connecting to the upstream timed out", detail...)
	case errors.As(err, &op) && op.Op == "dial":
		l.fail(w, r, http.StatusBadGateway, fmt.Sprintf("connecting to the upstream failed: %v", unwrapSyscall(op)), detail...)
	case errors.As(err, &ne) && ne.Timeout():
		l.fail(w, r, http.StatusGatewayTimeout, fmt.Sprintf("the upstream sent no response headers within %s", f.timeouts.ResponseHeader), detail...)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		l.fail(w, r, http.StatusBadGateway, "the upstream closed the connection without a response", detail...)
	case errors.Is(err, upstream.ErrTransferEncoding):
		l.fail(w, r, http.StatusBadGateway, "the upstream's response cannot be passed on: its Transfer-Encoding is not chunked, the only transfer coding the edge decodes ("+strings.TrimPrefix(err.Error(), upstream.ErrTransferEncoding.Error()+": ")+")", detail...)
	case errors.Is(err, upstream.ErrEgressRefused):
		l.fail(w, r, http.StatusBadGateway, "the upstream's address is refused by the node's egress policy", detail...)
	case errors.Is(err, upstream.ErrEndpointFull):
		w.Header().Set("Retry-After", "1")
		l.fail(w, r, http.StatusServiceUnavailable, "every endpoint of the upstream pool has as many connections open as the node allows", detail...)
	case errors.Is(err, upstream.ErrInvalidRequest):
		// Mostly a filter's edit; also a client's h2/h3 request that
		// HTTP/1.1 cannot carry (a space in the query, say).
		l.fail(w, r, http.StatusBadGateway, "the request cannot be sent upstream: its method, path or a header is not valid HTTP/1.1 (a filter's edit or the client's request)", detail...)
	case errors.Is(err, upstream.ErrWriterPanic):
		l.fail(w, r, http.StatusBadGateway, "the edge failed sending the request upstream", detail...)
	default:
		l.fail(w, r, http.StatusBadGateway, "the upstream exchange failed", detail...)
	}
}

// unwrapSyscall returns the innermost error of a dial failure
// ("connection refused"), without the addresses already named.
func unwrapSyscall(op *net.OpError) error {
	err := op.Err
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

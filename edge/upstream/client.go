package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// MaxResponseHeaderBytes bounds an upstream's response header block.
const MaxResponseHeaderBytes = 1 << 20

// IdleTimeout is how long an idle keep-alive connection is kept.
const IdleTimeout = 60 * time.Second

// checkIdleAfter is the idle time past which a pooled connection is
// checked for life before reuse even for a request that could be retried:
// keep-alive timeouts of origins are longer, so a connection idle for less
// is almost never closed, and the check costs a system call.
const checkIdleAfter = 250 * time.Millisecond

// reapEvery is how often idle connections are checked while any exist.
const reapEvery = 10 * time.Second

// aLongTimeAgo is a deadline that makes blocked I/O return at once.
var aLongTimeAgo = time.Unix(1, 0)

// Client forwards HTTP/1.1 requests over pooled keep-alive connections.
//
// Unlike http.Transport it writes the request and reads the response on
// the caller's goroutine (a second goroutine only streams a request body),
// so a proxied request costs no goroutine hand-offs. It speaks HTTP/1.1
// only, as the upstream side of an edge proxy does.
type Client struct {
	maxIdle int
	// control checks each connection's resolved address against the
	// egress policy (net.Dialer.Control); nil: none. Made once, so that
	// a dial allocates nothing for it.
	control func(network, address string, c syscall.RawConn) error

	// maxConns bounds the connections open to one endpoint, idle and in
	// use; 0: none.
	maxConns int

	mu      sync.Mutex
	idle    map[string][]*conn // per endpoint, most recently used last
	open    map[string]int     // per endpoint, connections not yet closed
	reaping bool
	closed  bool
}

func newClient(maxIdle, maxConns int) *Client {
	return &Client{maxIdle: maxIdle, maxConns: maxConns, idle: map[string][]*conn{}, open: map[string]int{}}
}

// ErrEndpointFull reports an endpoint with as many connections open as
// the node allows (limits.upstream_max_conns_per_endpoint): the request
// is refused rather than queued, and the proxy answers 503.
var ErrEndpointFull = errors.New("upstream: the endpoint has as many connections open as the node allows")

// conn is one upstream connection.
type conn struct {
	nc       net.Conn
	lr       limitReader
	br       *bufio.Reader
	bw       *bufio.Writer
	w        connWriter
	ep       string
	reused   bool
	lastUsed time.Time
	c        *Client
	closed   atomic.Bool
}

// close closes the connection once, and counts it out of its endpoint's.
func (cn *conn) close() error {
	if !cn.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := cn.nc.Close()
	c := cn.c
	c.mu.Lock()
	if c.open[cn.ep]--; c.open[cn.ep] <= 0 {
		delete(c.open, cn.ep)
	}
	c.mu.Unlock()
	return err
}

// limitReader stops reading after n bytes when n >= 0; it bounds the
// response header block.
type limitReader struct {
	r net.Conn
	n int64
}

var errHeaderTooLarge = fmt.Errorf("upstream: response header larger than %d bytes", MaxResponseHeaderBytes)

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// connWriter writes to the connection; with idle set, each write must
// make progress within idle (an upstream that stops reading a request
// body is cut off).
type connWriter struct {
	nc   net.Conn
	idle time.Duration
}

func (w *connWriter) Write(p []byte) (int, error) {
	if w.idle > 0 {
		w.nc.SetWriteDeadline(time.Now().Add(w.idle))
	}
	return w.nc.Write(p)
}

// RoundTrip sends req to endpoint ep and returns the response with its
// headers read. The caller must read the body to EOF or close it; a body
// read to EOF returns the connection to the pool. A 101 response's Body is
// an io.ReadWriteCloser over the raw connection. Errors are the dialer's
// (*net.OpError with Op "dial"), net.Error timeouts, or ctx's.
func (c *Client) RoundTrip(ctx context.Context, req *http.Request, ep string, t Timeouts) (*http.Response, error) {
	// A request HTTP/1.1 parsers could read differently is refused
	// before any connection is taken.
	h, err := checkRequest(req)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	retryable := req.Body == nil && idempotent(req.Method)
	cn, err := c.get(ctx, ep, t, retryable)
	if err != nil {
		return nil, err
	}
	resp, err := c.exchange(ctx, cn, req, h, t)
	// A reused connection that the upstream closed just as it was taken
	// fails before any byte of a response. An idempotent request without
	// a body is sent again, once, on a new connection.
	if err != nil && cn.reused && retryable && ctx.Err() == nil && isStale(err) {
		if cn, err = c.dial(ctx, ep, t); err != nil {
			return nil, err
		}
		resp, err = c.exchange(ctx, cn, req, h, t)
	}
	return resp, err
}

// ErrTransferEncoding wraps the error of a response whose
// Transfer-Encoding is not chunked alone (net/http's "unsupported
// transfer encoding"): its body cannot be framed, nor passed on.
var ErrTransferEncoding = errors.New("upstream: the response's Transfer-Encoding is not chunked, the only transfer coding the edge decodes")

// isTransferEncoding recognises net/http's unexported error for an
// unsupported Transfer-Encoding by its text ("unsupported transfer
// encoding", "too many transfer encodings").
func isTransferEncoding(err error) bool {
	s := err.Error()
	return strings.Contains(s, "transfer encoding")
}

func idempotent(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// ErrUploadStalled reports an upstream that stopped reading the request
// body for longer than the response-header timeout.
var ErrUploadStalled = errors.New("upstream: stopped reading the request body")

var errSwitchWithBody = errors.New("upstream: switched protocols while a request body was being sent")

func (c *Client) exchange(ctx context.Context, cn *conn, req *http.Request, h checked, t Timeouts) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { cn.nc.SetDeadline(aLongTimeAgo) })
	var up *upload
	fail := func(err error) (*http.Response, error) {
		stop()
		cn.close()
		up.join()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// The response-header deadline starts once the request is written;
	// hd guards it against a response that arrives before that.
	hd := &headerDeadline{nc: cn.nc, d: t.ResponseHeader}
	if req.Body == nil {
		if err := writeChecked(cn.bw, req, h); err != nil {
			return fail(err)
		}
		if err := cn.bw.Flush(); err != nil {
			return fail(err)
		}
		hd.start()
	} else {
		// Stream the body while the response is read: an upstream may
		// answer before it has read the whole body. The writer never
		// outlives the exchange: whoever ends it first (a failure, or the
		// response body's release) closes the connection, aborts the
		// request body's read and waits for the writer to return.
		up = startUpload(cn, req, h, t, hd)
	}
	cn.lr.n = MaxResponseHeaderBytes
	var resp *http.Response
	var err error
	for {
		// Peek first: an error before any byte of the response (a stale
		// keep-alive connection) is told apart from a broken response.
		if _, err = cn.br.Peek(1); err == nil {
			resp, err = http.ReadResponse(cn.br, req)
		}
		if err != nil {
			// A failed upload explains a failed read better.
			if done, werr := up.poll(); done && werr != nil {
				err = werr
			} else if isTransferEncoding(err) {
				err = fmt.Errorf("%w: %v", ErrTransferEncoding, err)
			}
			return fail(err)
		}
		// Interim responses (100 Continue, 103 Early Hints) go to
		// t.Interim, if any; 101 ends the exchange.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if t.Interim != nil && resp.StatusCode != http.StatusContinue {
			relayInterim(t.Interim, resp.StatusCode, resp.Header)
		}
		cn.lr.n = MaxResponseHeaderBytes
	}
	cn.lr.n = -1
	hd.stop()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if up != nil {
			return fail(errSwitchWithBody)
		}
		stop()
		resp.Body = &Upgraded{conn: cn}
		return resp, nil
	}
	keep := !resp.Close && !req.Close && !bodiless(req, resp)
	resp.Body = &body{rc: resp.Body, cn: cn, c: c, stop: stop, up: up, keep: keep}
	return resp, nil
}

// bodiless reports a response that has no body by definition: to a HEAD,
// or 204, or 304. Its connection is closed, never reused. An origin that
// sends a body anyway (a HEAD answered like a GET, a 304 with the
// resource) leaves bytes on the connection that the next exchange would
// read as its response, and those bytes may arrive at any time: after
// the connection went back to the pool, after a peek found it clean,
// after the next request was sent. No check can tell them from that
// request's answer, so the connection is not trusted with another one.
func bodiless(req *http.Request, resp *http.Response) bool {
	return req.Method == "HEAD" || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
}

// get returns an idle connection to ep that is still open, or dials one.
// A connection is checked with a non-blocking peek before reuse unless the
// request can be retried and the connection is fresh. (Connections whose
// last response had no body by definition are never in the pool: see
// bodiless.)
func (c *Client) get(ctx context.Context, ep string, t Timeouts, retryable bool) (*conn, error) {
	now := time.Now()
	for {
		c.mu.Lock()
		list := c.idle[ep]
		if len(list) == 0 {
			c.mu.Unlock()
			return c.dial(ctx, ep, t)
		}
		cn := list[len(list)-1]
		list[len(list)-1] = nil
		c.idle[ep] = list[:len(list)-1]
		c.mu.Unlock()
		// A connection the upstream has closed, or on which it sent bytes
		// nobody asked for, is dropped.
		idle := now.Sub(cn.lastUsed)
		if idle < IdleTimeout && (retryable && idle < checkIdleAfter || alive(cn)) {
			return cn, nil
		}
		cn.close()
	}
}

// dial opens a new connection to ep. A destination the egress policy
// refuses fails with an *EgressError, not a *net.OpError: nothing was
// connected, and the proxy answers it apart from a connection failure.
func (c *Client) dial(ctx context.Context, ep string, t Timeouts) (*conn, error) {
	c.mu.Lock()
	if c.maxConns > 0 && c.open[ep] >= c.maxConns {
		c.mu.Unlock()
		return nil, ErrEndpointFull
	}
	c.open[ep]++
	c.mu.Unlock()
	d := net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second, Control: c.control}
	nc, err := d.DialContext(ctx, "tcp", ep)
	if err != nil {
		c.mu.Lock()
		if c.open[ep]--; c.open[ep] <= 0 {
			delete(c.open, ep)
		}
		c.mu.Unlock()
		var ee *EgressError
		if c.control != nil && errors.As(err, &ee) {
			return nil, ee
		}
		return nil, err
	}
	cn := &conn{nc: nc, ep: ep, c: c}
	cn.lr = limitReader{r: nc, n: -1}
	cn.w = connWriter{nc: nc}
	cn.br = bufio.NewReaderSize(&cn.lr, 16<<10)
	cn.bw = bufio.NewWriterSize(&cn.w, 16<<10)
	return cn, nil
}

// put returns cn to the idle pool, or closes it when it holds unread
// bytes or the pool is full or closed.
func (c *Client) put(cn *conn) {
	if cn.br.Buffered() > 0 {
		cn.close() // bytes past the response: the framing is off
		return
	}
	cn.reused = true
	cn.lastUsed = time.Now()
	c.mu.Lock()
	if !c.closed && len(c.idle[cn.ep]) < c.maxIdle {
		c.idle[cn.ep] = append(c.idle[cn.ep], cn)
		if !c.reaping {
			c.reaping = true
			time.AfterFunc(reapEvery, c.reap)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	cn.close()
}

// reap closes idle connections that timed out or that the upstream
// closed, so they do not linger in CLOSE-WAIT. It reschedules itself while
// idle connections remain.
func (c *Client) reap() {
	now := time.Now()
	c.mu.Lock()
	var dead []*conn
	for ep, list := range c.idle {
		kept := list[:0]
		for _, cn := range list {
			if now.Sub(cn.lastUsed) >= IdleTimeout || !alive(cn) {
				dead = append(dead, cn)
			} else {
				kept = append(kept, cn)
			}
		}
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(c.idle, ep)
		} else {
			c.idle[ep] = kept
		}
	}
	c.reaping = len(c.idle) > 0 && !c.closed
	if c.reaping {
		time.AfterFunc(reapEvery, c.reap)
	}
	c.mu.Unlock()
	for _, cn := range dead {
		cn.close()
	}
}

// Close closes the idle connections; connections in use close when their
// response is done.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	var idle []*conn
	for ep, list := range c.idle {
		idle = append(idle, list...)
		delete(c.idle, ep)
	}
	c.mu.Unlock()
	for _, cn := range idle {
		cn.close()
	}
}

// body is a response body; read to EOF, it gives its connection back.
type body struct {
	rc   io.ReadCloser
	cn   *conn
	c    *Client
	stop func() bool
	up   *upload // nil when the request had no body
	keep bool
	done bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.release(true)
	} else if err != nil {
		b.release(false)
	}
	return n, err
}

// Close releases the connection; one not read to EOF cannot be reused.
func (b *body) Close() error {
	if !b.done {
		b.release(false)
	}
	return nil
}

func (b *body) release(reusable bool) {
	b.done = true
	// stop reports false when ctx already fired and poisoned the deadline.
	if !b.stop() {
		reusable = false
	}
	if b.up != nil {
		// The response is complete. A request body still being sent (an
		// early answer) makes the connection unusable: closing it, and
		// aborting the body's read, ends the writer, which is waited for.
		if done, err := b.up.poll(); !done || err != nil {
			reusable = false
			b.cn.close()
			b.up.join()
		}
	}
	if reusable && b.keep {
		b.c.put(b.cn)
		return
	}
	b.cn.close()
}

// headerDeadline arms the response-header timeout once the request is
// written and disarms it when the headers have arrived, whichever
// goroutine gets there first.
type headerDeadline struct {
	nc   net.Conn
	d    time.Duration
	mu   sync.Mutex
	done bool
}

func (h *headerDeadline) start() {
	if h.d <= 0 {
		return
	}
	h.mu.Lock()
	if !h.done {
		h.nc.SetReadDeadline(time.Now().Add(h.d))
	}
	h.mu.Unlock()
}

// abort makes a pending header read fail at once.
func (h *headerDeadline) abort() {
	h.mu.Lock()
	if !h.done {
		h.nc.SetReadDeadline(aLongTimeAgo)
	}
	h.mu.Unlock()
}

func (h *headerDeadline) stop() {
	if h.d <= 0 {
		return
	}
	h.mu.Lock()
	h.done = true
	h.nc.SetReadDeadline(time.Time{})
	h.mu.Unlock()
}

// Upgraded is the Body of a 101 response: the raw upstream connection,
// with what was read past the response first.
type Upgraded struct{ conn *conn }

// Read reads from the upstream.
func (u *Upgraded) Read(p []byte) (int, error) { return u.conn.br.Read(p) }

// Write writes to the upstream.
func (u *Upgraded) Write(p []byte) (int, error) { return u.conn.nc.Write(p) }

// Close closes the connection.
func (u *Upgraded) Close() error { return u.conn.close() }

// SetReadDeadline bounds the next reads.
func (u *Upgraded) SetReadDeadline(t time.Time) error { return u.conn.nc.SetReadDeadline(t) }

// relayInterim writes an interim response to w: its fields are set for
// the write and then taken back, restoring any the final response had
// already set.
func relayInterim(w http.ResponseWriter, code int, h http.Header) {
	dst := w.Header()
	var saved map[string][]string
	for k, vv := range h {
		if old, ok := dst[k]; ok {
			if saved == nil {
				saved = map[string][]string{}
			}
			saved[k] = old
		}
		dst[k] = vv
	}
	w.WriteHeader(code)
	for k := range h {
		if old, ok := saved[k]; ok {
			dst[k] = old
		} else {
			delete(dst, k)
		}
	}
}
